package idempotency

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/problem"
)

// No header: no claim. A header, even empty, is a key to validate.
func TestFromRequest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := httptest.NewRequest("POST", "/things", nil)
	if c, err := FromRequest(r, "alice", nil, now); c != nil || err != nil {
		t.Errorf("no header: %+v, %v", c, err)
	}
	r.Header.Set(KeyHeader, "")
	if c, err := FromRequest(r, "alice", nil, now); c != nil || problem.As(err) == nil || problem.As(err).Status != 400 {
		t.Errorf("empty header: %+v, %v; want a 400", c, err)
	}
	r.Header.Set(KeyHeader, "retry-1")
	c, err := FromRequest(r, "alice", map[string]string{"name": "a"}, now)
	if err != nil || c.UserID != "alice" || c.Key != "retry-1" || c.RequestHash != Hash("POST", "/things", map[string]string{"name": "a"}) {
		t.Errorf("claim %+v, %v", c, err)
	}
}

func s(t *testing.T, v types.AttributeValue) string {
	t.Helper()
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	t.Fatalf("%T", v)
	return ""
}

// A key is one user's: the record is keyed by user and key, binds for Window, and may be
// claimed again once expired.
func TestClaimRecord(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, _ := New("alice", "k1", "POST", "/things", nil, now)
	b, _ := New("bob", "k1", "POST", "/things", nil, now)
	pa, pb := a.Put("main").Put, b.Put("main").Put
	if s(t, pa.Item["PK"]) == s(t, pb.Item["PK"]) {
		t.Error("two users' same key share a record")
	}
	if s(t, pa.Item["expiresAt"]) != "1800086400" || s(t, pa.ExpressionAttributeValues[":now"]) != "1800000000" ||
		*pa.ConditionExpression != "attribute_not_exists(PK) OR expiresAt < :now" {
		t.Errorf("window: %v %v %s", pa.Item["expiresAt"], pa.ExpressionAttributeValues, *pa.ConditionExpression)
	}
	if err := a.Respond(201, "/things/sess_1", map[string]string{"id": "sess_1"}); err != nil {
		t.Fatal(err)
	}
	a.ResourceID = "sess_1"
	pa = a.Put("main").Put
	if s(t, pa.Item["status"]) != "201" || s(t, pa.Item["location"]) != "/things/sess_1" ||
		s(t, pa.Item["response"]) != `{"id":"sess_1"}` || s(t, pa.Item["resourceId"]) != "sess_1" {
		t.Errorf("stored answer: %v", pa.Item)
	}
	var none *Claim
	if err := none.Respond(201, "", "x"); err != nil {
		t.Errorf("a request without a key: %v", err)
	}
}

// A replay answers what the first request answered, marked as a replay.
func TestRecordReplay(t *testing.T) {
	w := httptest.NewRecorder()
	(&Record{Status: 201, Location: "/things/team_1", Response: `{"id":"team_1"}`}).Write(w)
	if w.Code != 201 || w.Header().Get("Location") != "/things/team_1" || w.Header().Get(ReplayedHeader) != "true" ||
		strings.TrimSpace(w.Body.String()) != `{"id":"team_1"}` {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	if (&Record{SessionID: "sess_old"}).ID() != "sess_old" || (&Record{ResourceID: "r", SessionID: "s"}).ID() != "r" {
		t.Error("record id")
	}
	if p := Reused(); p.Status != http.StatusConflict || p.Type != ReusedType {
		t.Errorf("reused: %+v", p)
	}
}

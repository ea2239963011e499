package ddb

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/problem"
)

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// A cursor round-trips the last key of a page; anything else a client sends is a 400 on cursor.
func TestCursor(t *testing.T) {
	lek := map[string]types.AttributeValue{"PK": sv("SESSION#sess_1"), "SK": sv("SHARE#bob"), "GSI1PK": sv("SHAREDWITH#bob")}
	cur := EncodeCursor(lek)
	fixed := map[string]string{"PK": "SESSION#sess_1"}
	got, err := DecodeCursor(cur, fixed, "PK", "SK", "GSI1PK")
	if err != nil || len(got) != 3 || got["SK"].(*types.AttributeValueMemberS).Value != "SHARE#bob" {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if EncodeCursor(nil) != "" {
		t.Error("the last page has a cursor")
	}
	if got, err := DecodeCursor("", fixed, "PK", "SK"); got != nil || err != nil {
		t.Errorf("no cursor: %v %v", got, err)
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for name, c := range map[string]struct {
		cursor string
		attrs  []string
	}{
		"another query's partition":  {EncodeCursor(map[string]types.AttributeValue{"PK": sv("SESSION#sess_2"), "SK": sv("SHARE#x")}), []string{"PK", "SK"}},
		"another index's attributes": {cur, []string{"PK", "SK"}},
		"a missing attribute":        {EncodeCursor(map[string]types.AttributeValue{"PK": sv("SESSION#sess_1")}), []string{"PK", "SK"}},
		"an empty value":             {enc(`{"PK":"SESSION#sess_1","SK":""}`), []string{"PK", "SK"}},
		"not base64":                 {"%%%", []string{"PK", "SK"}},
		"not JSON":                   {enc("nope"), []string{"PK", "SK"}},
		"not strings":                {enc(`{"PK":1,"SK":2}`), []string{"PK", "SK"}},
		"too long":                   {enc(`{"PK":"SESSION#sess_1","SK":"` + strings.Repeat("x", 2100) + `"}`), []string{"PK", "SK"}},
	} {
		if _, err := DecodeCursor(c.cursor, fixed, c.attrs...); problem.As(err) == nil || problem.As(err).Errors[0].Field != "cursor" {
			t.Errorf("%s: %v, want a 400 on cursor", name, err)
		}
	}
}

// Under begins_with(SK, prefix) the cursor's sort key must be inside the prefix (DynamoDB would
// answer a 500-worthy error otherwise).
func TestCursorIn(t *testing.T) {
	fixed := map[string]string{"PK": "SESSION#sess_1"}
	for sk, ok := range map[string]bool{"SHARE#bob": true, "SHARE#": false, "REC#1": false, "SHARE": false} {
		cur := EncodeCursor(map[string]types.AttributeValue{"PK": sv("SESSION#sess_1"), "SK": sv(sk)})
		_, err := DecodeCursorIn(cur, fixed, "SK", "SHARE#", "PK", "SK")
		if ok != (err == nil) {
			t.Errorf("SK %q: %v", sk, err)
		}
	}
}

package conform_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"streamspace/internal/openapi"
	"streamspace/internal/openapi/conform"
	"streamspace/internal/testenv"
)

func checker(t *testing.T) *conform.Checker {
	t.Helper()
	doc, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	c, err := conform.New(doc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

const session = `{"id":"sess_01jdxyz0123456789abcdefghj","ownerId":"alice","templateName":"terminal","state":"pending",
"desiredState":"running","resources":{"cpu":"500m","memory":"512Mi"},"tags":[],"idleTimeout":1800,
"maxSessionDuration":28800,"persistentHome":true,"idle":false,"activeConnections":0,
"lastActivity":"2025-01-01T00:00:00Z","createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z","version":1,
"yourAccess":{"level":"control","manage":true,"delete":true,"via":"owner"}}`

var jsonCT = hdr("Content-Type", "application/json")

func TestCheck(t *testing.T) {
	c := checker(t)
	ok := conform.Exchange{Method: "GET", URL: "/api/v1/sessions/sess_01jdxyz0123456789abcdefghj?x=1", Status: 200,
		Header: hdr("Content-Type", "application/json", "ETag", `"1"`), Body: []byte(session)}
	if err := c.Check(ok); err != nil {
		t.Fatalf("a conforming exchange was refused: %v", err)
	}
	cases := []struct {
		name string
		edit func(x *conform.Exchange)
		want string // in the error
	}{
		{"undocumented status", func(x *conform.Exchange) { x.Status = 201 },
			"GET /api/v1/sessions/{id} answered 201, which it does not document"},
		{"body off its schema", func(x *conform.Exchange) { x.Body = []byte(strings.Replace(session, `"pending"`, `"paused"`, 1)) },
			"GET /api/v1/sessions/{id} → 200 (application/json): body does not match /paths/~1api~1v1~1sessions~1{id}/get/responses/200/content/application~1json/schema"},
		{"unknown property", func(x *conform.Exchange) {
			x.Body = []byte(strings.Replace(session, `"idle":false`, `"idle":false,"secret":"x"`, 1))
		},
			"secret"},
		{"missing property", func(x *conform.Exchange) { x.Body = []byte(strings.Replace(session, `"version":1`, `"v":1`, 1)) },
			"version"},
		{"required header", func(x *conform.Exchange) { x.Header.Del("ETag") }, "lacks the required header ETag"},
		{"header off its schema", func(x *conform.Exchange) { x.Header.Set("ETag", "1") }, "header ETag"},
		{"undocumented media type", func(x *conform.Exchange) { x.Header.Set("Content-Type", "text/plain") }, `Content-Type "text/plain"`},
		{"unknown route answered", func(x *conform.Exchange) { x.URL = "/api/v1/nothing" }, "no documented operation for GET /api/v1/nothing"},
	}
	for _, tc := range cases {
		x := ok
		x.Header = ok.Header.Clone()
		tc.edit(&x)
		err := c.Check(x)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckErrorsAndRequests(t *testing.T) {
	c := checker(t)
	problem := func(status int) []byte {
		return []byte(`{"type":"https://streamspace.dev/problems/x","title":"t","status":` + strconv.Itoa(status) + `}`)
	}
	pj := hdr("Content-Type", "application/problem+json")
	for _, x := range []conform.Exchange{
		{Method: "GET", URL: "/api/v1/nothing", Status: 404, Body: []byte(`{"message":"Not Found"}`)},
		{Method: "GET", URL: "/local-objects/anything", Status: 200, Body: []byte("bytes")},
		{Method: "OPTIONS", URL: "/api/v1/sessions", Status: 204},
		{Method: "DELETE", URL: "/api/v1/api-keys/..%2Fx", Status: 404, Header: pj, Body: problem(404)},
		{Method: "DELETE", URL: "/api/v1/sessions/x", Status: 404, Header: pj, Body: problem(404)},
		{Method: "GET", URL: "/api/v1/health", Status: 500, Header: jsonCT, Body: []byte(`{"message":"Internal Server Error"}`)},
		{Method: "POST", URL: "/api/v1/teams", Status: 201, ReqHeader: jsonCT, ReqBody: []byte(`{"name":"design"}`),
			Header: hdr("Content-Type", "application/json", "Location", "/api/v1/teams/team_01jdxyz0123456789abcdefghj"),
			Body: []byte(`{"id":"team_01jdxyz0123456789abcdefghj","name":"design","displayName":"design","createdBy":"a",` +
				`"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z","version":1,"role":"owner","permissions":["team.manage"]}`)},
	} {
		if err := c.Check(x); err != nil {
			t.Errorf("%s %s → %d refused: %v", x.Method, x.URL, x.Status, err)
		}
	}
	for _, tc := range []struct {
		x    conform.Exchange
		want string
	}{
		{conform.Exchange{Method: "GET", URL: "/api/v1/health", Status: 401, Header: pj, Body: problem(401)}, "answered 401"},
		{conform.Exchange{Method: "DELETE", URL: "/api/v1/sessions/x", Status: 404, Header: pj, Body: problem(409)}, "value must be 404"},
		{conform.Exchange{Method: "DELETE", URL: "/api/v1/sessions/x", Status: 204}, "answered 204"},
		{conform.Exchange{Method: "DELETE", URL: "/api/v1/teams/x", Status: 204, Body: []byte("{}")}, "documents no body"},
		{conform.Exchange{Method: "POST", URL: "/api/v1/teams/x/members", Status: 201, ReqHeader: jsonCT, ReqBody: []byte(`{"userId":"bob","role":"boss"}`),
			Header: jsonCT, Body: []byte(`{"teamId":"team_01jdxyz0123456789abcdefghj","userId":"bob","role":"member","addedBy":"a","addedAt":"2025-01-01T00:00:00Z","version":1}`)},
			"request (accepted)"},
		{conform.Exchange{Method: "PUT", URL: "/api/v1/users/bob/role", Status: 200, Header: hdr("Content-Type", "application/json", "ETag", `"2"`),
			Body: []byte(`{"id":"bob","role":"admin","createdAt":"2025-01-01T00:00:00Z","version":2}`)}, "without the body"},
	} {
		if err := c.Check(tc.x); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s → %d: error %v, want one containing %q", tc.x.Method, tc.x.URL, tc.x.Status, err, tc.want)
		}
	}
}

// The meta function serves the document, without credentials, through the local gateway; the
// exchange itself is checked against the document by Env.Do.
func TestServedDocument(t *testing.T) {
	e := testenv.Start(t)
	res := e.Do("GET", "/api/v1/openapi.json", "", nil).Want(t, http.StatusOK)
	doc, _ := openapi.Document()
	if string(res.Body) != string(doc) {
		t.Fatal("the served document is not openapi.Document()")
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// And with credentials that are wrong: a public route ignores them.
	e.Do("GET", "/api/v1/openapi.json", "not-a-token", nil).Want(t, http.StatusOK)
}

package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"streamspace/internal/testenv"
	"streamspace/internal/testenv/tier"
)

var (
	fuzzOnce sync.Once
	fuzzEnv  *testenv.Env
)

// fuzzStack is one stack shared by all fuzz inputs of a run (started on first use).
func fuzzStack(t *testing.T) *testenv.Env {
	// Before the Once: a skip inside it would leave the stack nil for the next input.
	tier.Integration(t, "DynamoDB Local")
	fuzzOnce.Do(func() { fuzzEnv = testenv.Start(&longLived{T: t}) })
	return fuzzEnv
}

// longLived keeps the fuzz stack alive past the first input's cleanup.
type longLived struct{ *testing.T }

func (l *longLived) Cleanup(func()) {}

// checkClientError: whatever a client sends, the answer is never a 5xx, and a 4xx is problem+json.
func checkClientError(t *testing.T, r testenv.Response) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("server error %d for client input: %s", r.Status, r.Body)
	}
	if r.Status >= 400 && r.Status != http.StatusNotFound && r.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d without problem+json: %s", r.Status, r.Body)
	}
}

func FuzzCreateSessionBody(f *testing.F) {
	for _, s := range []string{`{"templateName":"terminal"}`, `{"templateName":"terminal","tags":["a","b"],"idleTimeout":60}`,
		`{"templateName":"vscode","resources":{"cpu":"250m","memory":"512Mi"}}`, `{"templateName":5}`, `{"teamId":"x"}`, `[]`, `null`,
		`{"templateName":"terminal","resources":{"cpu":"1e309","memory":"9999999999Gi"}}`, `{"templateName":"\u0000"}`, `{"tags":[null]}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := fuzzStack(t)
		tok := e.Token("fuzz-"+strings.ReplaceAll(t.Name(), "/", "-"), "")
		checkClientError(t, e.Do("POST", "/api/v1/sessions", tok, body))
	})
}

func FuzzSessionsQuery(f *testing.F) {
	for _, q := range []string{"limit=5", "limit=-1", "limit=99999999999999999999", "state=running&tag=x", "cursor=abc", "cursor=eyJ9",
		"all=maybe", "ownerId=" + strings.Repeat("x", 300), "%zz", "templateName=terminal&limit=1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e := fuzzStack(t)
		tok := e.Token("fuzzq", "")
		if strings.ContainsAny(q, "# \n\r\t") {
			return // not a query string a client could send in a URL
		}
		checkClientError(t, e.Do("GET", "/api/v1/sessions?"+q, tok, nil))
	})
}

func FuzzPatchSessionBody(f *testing.F) {
	for _, s := range []string{`{"desiredState":"hibernated"}`, `{"resources":{"cpu":"2","memory":"4Gi"}}`, `{"idleTimeout":-5}`,
		`{"maxSessionDuration":1e99}`, `{"desiredState":null}`, `{}`, `{"tags":["x"]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := fuzzStack(t)
		tok := e.Token("fuzzp", "")
		var s session
		r := e.Do("POST", "/api/v1/sessions", tok, map[string]any{"templateName": "terminal"})
		if r.Status != http.StatusCreated {
			return // quota reached in a long fuzz run
		}
		r.Decode(t, &s)
		checkClientError(t, e.Do("PATCH", "/api/v1/sessions/"+s.ID, tok, body))
		e.Do("DELETE", "/api/v1/sessions/"+s.ID, tok, nil)
	})
}

// The activity area with client input (SEC-11): log bodies (metadata DynamoDB refuses) and
// listing queries (cursors outside their window), never a 5xx.
func FuzzActivityLogBody(f *testing.F) {
	for _, s := range []string{`{"eventType":"user.heartbeat"}`, `{"eventType":"user.heartbeat","metadata":{"n":1e200}}`,
		`{"eventType":"user.heartbeat","metadata":{"n":1e-200}}`, `{"eventType":"user.heartbeat","metadata":{"":"x"}}`,
		`{"eventType":"user.heartbeat","metadata":` + strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40) + `}`,
		`{"eventType":"nope"}`, `{"eventType":"user.heartbeat","eventCategory":"error"}`, `[]`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := fuzzStack(t)
		tok := e.Token("fuzza", "")
		var s session
		r := e.Do("GET", "/api/v1/sessions?limit=1", tok, nil)
		var page struct{ Items []session }
		r.Decode(t, &page)
		if len(page.Items) == 0 {
			e.Do("POST", "/api/v1/sessions", tok, map[string]any{"templateName": "terminal"}).Want(t, http.StatusCreated).Decode(t, &s)
		} else {
			s = page.Items[0]
		}
		checkClientError(t, e.Do("POST", "/api/v1/sessions/"+s.ID+"/activity/log", tok, body))
	})
}

func FuzzActivityQuery(f *testing.F) {
	for _, q := range []string{"limit=1", "since=2099-01-01T00:00:00Z&cursor=eyJQSyI6eyJTIjoiQUNUI1NFU1NJT04jeCJ9fQ",
		"until=2000-01-01T00:00:00Z", "category=nope", "eventType=x", "since=yesterday", "limit=0", "cursor=%%"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e := fuzzStack(t)
		tok := e.Token("fuzzaq", "")
		if strings.ContainsAny(q, "# \n\r\t") {
			return
		}
		var page struct{ Items []session }
		e.Do("GET", "/api/v1/sessions?limit=1", tok, nil).Decode(t, &page)
		id := "sess_00000000000000000000000000"
		if len(page.Items) > 0 {
			id = page.Items[0].ID
		} else {
			var s session
			e.Do("POST", "/api/v1/sessions", tok, map[string]any{"templateName": "terminal"}).Want(t, http.StatusCreated).Decode(t, &s)
			id = s.ID
		}
		for _, route := range []string{"/activity", "/activity/timeline"} {
			checkClientError(t, e.Do("GET", "/api/v1/sessions/"+id+route+"?"+q, tok, nil))
		}
		checkClientError(t, e.Do("GET", "/api/v1/activity/users/fuzzaq?"+q, tok, nil))
	})
}

package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/routes"
)

type body struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Inner struct {
		On bool `json:"on"`
	} `json:"inner"`
}

// Whatever a client sends, DecodeJSON answers a 4xx problem that names what is wrong.
func TestDecodeJSONProblems(t *testing.T) {
	for _, c := range []struct {
		name, ct, in string
		status       int
		field        string // "" = decoded
	}{
		{"valid", "application/json", `{"name":"a","count":2}`, 0, ""},
		{"merge patch", "application/merge-patch+json; charset=utf-8", `{"name":"a"}`, 0, ""},
		{"no content type", "", `{"name":"a"}`, 0, ""},
		{"other content type", "text/plain", `{"name":"a"}`, 400, "Content-Type"},
		{"empty", "application/json", "  ", 400, "body"},
		{"unknown field", "application/json", `{"nmae":"a"}`, 400, "nmae"},
		{"wrong type", "application/json", `{"count":"2"}`, 400, "count"},
		{"wrong nested type", "application/json", `{"inner":{"on":1}}`, 400, "inner.on"},
		{"not an object", "application/json", `[1]`, 400, "body"},
		{"syntax", "application/json", `{"name":}`, 400, "body"},
		{"truncated", "application/json", `{"name":"a"`, 400, "body"},
		{"trailing data", "application/json", `{"name":"a"} {}`, 400, "body"},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, ""},
	} {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(c.in))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		var dst body
		err := DecodeJSON(r, &dst)
		p := problem.As(err)
		switch {
		case c.status == 0 && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.status == 0:
		case p == nil || p.Status != c.status:
			t.Errorf("%s: %v, want %d", c.name, err, c.status)
		case c.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != c.field):
			t.Errorf("%s: %+v, want field %q", c.name, p, c.field)
		}
	}
}

func TestJSONTypeNames(t *testing.T) {
	r := httptest.NewRequest("POST", "/x", strings.NewReader(`{"tags":"a"}`))
	if p := problem.As(DecodeJSON(r, &body{})); p == nil || p.Errors[0].Detail != "must be of type array" {
		t.Errorf("%+v", p)
	}
	r = httptest.NewRequest("POST", "/x", strings.NewReader(`{"name":5}`))
	if p := problem.As(DecodeJSON(r, &body{})); p == nil || p.Errors[0].Detail != "must be of type string" {
		t.Errorf("%+v", p)
	}
}

func TestIfMatch(t *testing.T) {
	for h, want := range map[string]int{"": 0, "*": 0, "3": 3, `"3"`: 3, `W/"12"`: 12, ` "7" `: 7, "0": -1, "-2": -1, "abc": -1, `"3", "4"`: -1} {
		r := httptest.NewRequest("PATCH", "/x", nil)
		r.Header.Set("If-Match", h)
		v, err := IfMatch(r)
		switch {
		case want == -1:
			if p := problem.As(err); p == nil || p.Status != 400 || p.Errors[0].Field != "If-Match" {
				t.Errorf("If-Match %q: %v, %v; want a 400", h, v, err)
			}
		case want == 0 && (v != nil || err != nil), want > 0 && (err != nil || v == nil || *v != want):
			t.Errorf("If-Match %q: %v, %v; want %d", h, v, err, want)
		}
	}
}

func TestQueryInt(t *testing.T) {
	for q, want := range map[string]int{"": 20, "limit=1": 1, "limit=100": 100, "limit=0": -1, "limit=101": -1, "limit=x": -1, "limit=99999999999999999999": -1} {
		n, err := QueryInt(httptest.NewRequest("GET", "/x?"+q, nil), "limit", 20, 1, 100)
		if want == -1 {
			if p := problem.As(err); p == nil || p.Status != 400 || p.Errors[0].Field != "limit" {
				t.Errorf("%q: %d, %v; want a 400", q, n, err)
			}
		} else if err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", q, n, err, want)
		}
	}
}

func TestWriteProblem(t *testing.T) {
	w := httptest.NewRecorder()
	WriteProblem(w, problem.TooManyRequests("slow down", 9))
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if w.Code != 429 || w.Header().Get("Content-Type") != "application/problem+json" || w.Header().Get("Retry-After") != "9" ||
		got["status"] != 429.0 || got["type"] != "https://streamspace.dev/problems/rate-limited" || got["detail"] != "slow down" {
		t.Errorf("%d %v %v", w.Code, w.Header(), got)
	}
	w = httptest.NewRecorder()
	WriteProblem(w, problem.Forbidden("no"))
	if w.Code != 403 || w.Header().Get("Retry-After") != "" {
		t.Errorf("%d %v", w.Code, w.Header())
	}
}

// API keys: never on token-only routes, and only with the route's scope; tokens pass.
func TestScopeGuard(t *testing.T) {
	token := auth.Caller{UserID: "alice", Role: auth.RoleUser}
	key := auth.Caller{UserID: "alice", Role: auth.RoleUser, KeyID: "key_1", Scopes: []string{"sessions:read"}}
	for _, c := range []struct {
		c     auth.Caller
		route routes.Route
		ok    bool
	}{
		{token, routes.Route{Scope: "sessions:write"}, true},
		{token, routes.Route{TokenOnly: true}, true},
		{key, routes.Route{Scope: "sessions:read"}, true},
		{key, routes.Route{}, true},
		{key, routes.Route{Scope: "sessions:write"}, false},
		{key, routes.Route{TokenOnly: true}, false},
	} {
		err := ScopeGuard(nil, nil, c.c, c.route)
		if p := problem.As(err); c.ok && err != nil || !c.ok && (p == nil || p.Status != http.StatusForbidden) {
			t.Errorf("%+v on %+v: %v", c.c, c.route, err)
		}
	}
}

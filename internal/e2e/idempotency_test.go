package e2e

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"streamspace/internal/testenv"
)

// createRoute is one POST create under test: a body, a different body for the same path, how to
// count what it created and how to name the created thing in a response.
type createRoute struct {
	name        string
	path        string
	token       string
	body, other any
	count       func(t *testing.T) int
	id          func(r testenv.Response) string
	status      int
	// secret is the response field shown once (never replayed); "" when there is none.
	secret string
	// fresh are response fields a replay makes anew (a presigned URL and its expiry).
	fresh []string
}

func field(name string) func(r testenv.Response) string {
	return func(r testenv.Response) string { s, _ := r.JSON()[name].(string); return s }
}

// idempotencyRoutes sets up what every create needs (sessions, a team, an invitation) and lists
// every POST create of the API.
func idempotencyRoutes(t *testing.T, e *testenv.Env) []createRoute {
	admin, alice, bob := e.Token("root", "admin"), e.Token("alice", ""), e.Token("bob", "")
	e.Do("GET", "/api/v1/users/me", bob, nil).Want(t, 200) // bob must have been seen to be shared with
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	var team struct{ ID string }
	e.Do("POST", "/api/v1/teams", alice, map[string]any{"name": "base"}).Want(t, 201).Decode(t, &team)
	var inv struct{ Token string }
	other := create(t, e, e.Token("carol", ""), map[string]any{"templateName": "terminal"})
	e.Do("POST", "/api/v1/sessions/"+other.ID+"/invitations", e.Token("carol", ""), map[string]any{"permissionLevel": "view"}).
		Want(t, 201).Decode(t, &inv)
	items := func(tok, path string) func(t *testing.T) int {
		return func(t *testing.T) int {
			var l struct{ Items []map[string]any }
			e.Do("GET", path, tok, nil).Want(t, 200).Decode(t, &l)
			return len(l.Items)
		}
	}
	dave := e.Token("dave", "")
	return []createRoute{
		{name: "sessions", path: "/api/v1/sessions", token: dave, body: map[string]any{"templateName": "terminal"},
			other: map[string]any{"templateName": "gimp"}, count: items(dave, "/api/v1/sessions"), id: field("id"), status: 201},
		{name: "api-keys", path: "/api/v1/api-keys", token: dave, body: map[string]any{"name": "ci"}, other: map[string]any{"name": "cd"},
			count: items(dave, "/api/v1/api-keys"), id: field("id"), status: 201, secret: "key"},
		{name: "templates", path: "/api/v1/templates", token: admin, body: map[string]any{"name": "idem-app", "displayName": "Idem",
			"category": "Test", "image": "example/idem", "defaultResources": map[string]string{"cpu": "250m", "memory": "256Mi"}},
			other: map[string]any{"name": "idem-app2", "displayName": "Idem", "category": "Test", "image": "example/idem",
				"defaultResources": map[string]string{"cpu": "250m", "memory": "256Mi"}},
			count: func(t *testing.T) int {
				var l struct{ Items []map[string]any }
				e.Do("GET", "/api/v1/templates?q=idem", admin, nil).Want(t, 200).Decode(t, &l)
				return len(l.Items)
			}, id: field("name"), status: 201},
		{name: "teams", path: "/api/v1/teams", token: dave, body: map[string]any{"name": "one"}, other: map[string]any{"name": "two"},
			count: items(dave, "/api/v1/teams/my-teams"), id: field("id"), status: 201},
		{name: "team members", path: "/api/v1/teams/" + team.ID + "/members", token: alice, body: map[string]any{"userId": "bob", "role": "member"},
			other: map[string]any{"userId": "bob", "role": "viewer"}, count: items(alice, "/api/v1/teams/"+team.ID+"/members"),
			id: field("userId"), status: 201},
		{name: "share", path: "/api/v1/sessions/" + s.ID + "/share", token: alice, body: map[string]any{"sharedWithUserId": "bob", "permissionLevel": "view"},
			other: map[string]any{"sharedWithUserId": "bob", "permissionLevel": "control"}, count: items(alice, "/api/v1/sessions/"+s.ID+"/shares"),
			id: field("id"), status: 201},
		{name: "invitations", path: "/api/v1/sessions/" + s.ID + "/invitations", token: alice, body: map[string]any{"permissionLevel": "view"},
			other: map[string]any{"permissionLevel": "control"}, count: items(alice, "/api/v1/sessions/"+s.ID+"/invitations"),
			id: field("id"), status: 201, secret: "token"},
		// Accepting has no body: the "other" request is the same key on another invitation's path.
		{name: "invitation accept", path: "/api/v1/invitations/" + inv.Token + "/accept", token: bob, body: nil,
			count: items(e.Token("carol", ""), "/api/v1/sessions/"+other.ID+"/shares"), id: field("invitationId"), status: 200},
		{name: "activity log", path: "/api/v1/sessions/" + s.ID + "/activity/log", token: alice,
			body: map[string]any{"eventType": "error.occurred", "description": "first"}, other: map[string]any{"eventType": "error.occurred", "description": "second"},
			count: func(t *testing.T) int {
				var l struct {
					Items []struct{ Description string }
				}
				e.Do("GET", "/api/v1/sessions/"+s.ID+"/activity?eventType=error.occurred", alice, nil).Want(t, 200).Decode(t, &l)
				return len(l.Items)
			}, id: field("id"), status: 201},
		{name: "recordings", path: "/api/v1/sessions/" + s.ID + "/recordings", token: alice,
			body: map[string]any{"type": "video", "format": "webm"}, other: map[string]any{"type": "video", "format": "mp4"},
			count: items(alice, "/api/v1/sessions/"+s.ID+"/recordings"),
			id: func(r testenv.Response) string {
				rec, _ := r.JSON()["recording"].(map[string]any)
				id, _ := rec["id"].(string)
				return id
			}, status: 201, fresh: []string{"uploadUrl", "uploadFields", "uploadExpiresAt"}},
	}
}

// withoutFields is a response's JSON object minus some fields.
func withoutFields(r testenv.Response, fields []string) map[string]any {
	m := r.JSON()
	for _, f := range fields {
		delete(m, f)
	}
	return m
}

// Regression: only POST /sessions honoured Idempotency-Key; every other create made a second
// resource on a retry.
func TestEveryCreateHonoursIdempotencyKey(t *testing.T) {
	e := testenv.Start(t)
	for _, rt := range idempotencyRoutes(t, e) {
		t.Run(rt.name, func(t *testing.T) {
			// Keys are per user across routes, so each route gets its own.
			key := "retry-" + strings.ReplaceAll(rt.name, " ", "-")
			before := rt.count(t)
			first := e.Do("POST", rt.path, rt.token, rt.body, "Idempotency-Key", key).Want(t, rt.status)
			if first.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first request marked as a replay")
			}
			again := e.Do("POST", rt.path, rt.token, rt.body, "Idempotency-Key", key).Want(t, rt.status)
			if again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay lacks Idempotent-Replayed: true")
			}
			if rt.id(first) == "" || rt.id(first) != rt.id(again) {
				t.Errorf("replay answered %q, first %q", rt.id(again), rt.id(first))
			}
			if len(rt.fresh) > 0 && !reflect.DeepEqual(withoutFields(first, rt.fresh), withoutFields(again, rt.fresh)) {
				t.Errorf("replay differs beyond %v:\n%s\n%s", rt.fresh, first.Body, again.Body)
			}
			if rt.secret == "" && len(rt.fresh) == 0 && !bytes.Equal(first.Body, again.Body) {
				t.Errorf("replay body differs:\n%s\n%s", first.Body, again.Body)
			}
			if rt.secret != "" {
				// Shown once: a replay must not hand the secret out again (it is stored nowhere).
				if first.JSON()[rt.secret] == nil || again.JSON()[rt.secret] != nil {
					t.Errorf("%s: first %v, replay %v", rt.secret, first.JSON()[rt.secret] != nil, again.JSON()[rt.secret] != nil)
				}
			}
			if got := rt.count(t); got != before+1 {
				t.Errorf("%d created, want 1", got-before)
			}
			if rt.other != nil {
				e.Do("POST", rt.path, rt.token, rt.other, "Idempotency-Key", key).Want(t, 409)
			}
			if got := rt.count(t); got != before+1 {
				t.Errorf("after a reused key: %d created, want 1", got-before)
			}
		})
	}
}

// Ten concurrent retries of one key create one resource and all answer it.
func TestConcurrentRetriesCreateOnce(t *testing.T) {
	e := testenv.Start(t)
	for _, rt := range idempotencyRoutes(t, e) {
		if rt.name == "invitation accept" {
			continue // accepting is once per user by itself; the key adds nothing to count here
		}
		t.Run(rt.name, func(t *testing.T) {
			key := "burst-" + strings.ReplaceAll(rt.name, " ", "-")
			before := rt.count(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := map[string]int{}
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.Do("POST", rt.path, rt.token, rt.body, "Idempotency-Key", key)
					mu.Lock()
					defer mu.Unlock()
					if r.Status == rt.status {
						got[rt.id(r)]++
					} else {
						got[fmt.Sprintf("status %d", r.Status)]++
					}
				}()
			}
			wg.Wait()
			if len(got) != 1 {
				t.Errorf("concurrent retries answered %v, want one resource", got)
			}
			if n := rt.count(t); n != before+1 {
				t.Errorf("%d created, want 1", n-before)
			}
		})
	}
}

// A key is the caller's own: another user's identical key creates their own resource, and a key
// reused on another route is refused rather than answered with the first route's result.
func TestIdempotencyKeyScope(t *testing.T) {
	e := testenv.Start(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	var a, b, c map[string]any
	e.Do("POST", "/api/v1/teams", alice, map[string]any{"name": "x"}, "Idempotency-Key", "same").Want(t, 201).Decode(t, &a)
	r := e.Do("POST", "/api/v1/teams", bob, map[string]any{"name": "x"}, "Idempotency-Key", "same").Want(t, 201)
	r.Decode(t, &b)
	if a["id"] == b["id"] || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("bob's create replayed alice's team %v", a["id"])
	}
	// The same key and an identical body on another route: 409, never alice's team.
	e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "x"}, "Idempotency-Key", "same").Want(t, 409)
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}, "Idempotency-Key", "same").Want(t, 409)
	// Two sessions' share routes are two resources: the key on the second is refused too.
	s1 := create(t, e, alice, map[string]any{"templateName": "terminal"})
	s2 := create(t, e, alice, map[string]any{"templateName": "terminal"})
	share := map[string]any{"sharedWithUserId": "bob", "permissionLevel": "view"}
	e.Do("POST", "/api/v1/sessions/"+s1.ID+"/share", alice, share, "Idempotency-Key", "s").Want(t, 201).Decode(t, &c)
	e.Do("POST", "/api/v1/sessions/"+s2.ID+"/share", alice, share, "Idempotency-Key", "s").Want(t, 409)
	// Malformed keys are a 400 naming the header, before anything is written.
	for _, k := range []string{"has space", "hash#key", string(bytes.Repeat([]byte("k"), 256))} {
		r := e.Do("POST", "/api/v1/teams", alice, map[string]any{"name": "y"}, "Idempotency-Key", k).Want(t, 400)
		if !bytes.Contains(r.Body, []byte("Idempotency-Key")) {
			t.Errorf("400 for %q does not name the header: %s", k, r.Body)
		}
	}
}

package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"streamspace/internal/testenv"
)

type session struct {
	ID           string   `json:"id"`
	OwnerID      string   `json:"ownerId"`
	State        string   `json:"state"`
	DesiredState string   `json:"desiredState"`
	Tags         []string `json:"tags"`
	Version      int      `json:"version"`
	URL          string   `json:"url"`
	DeletedAt    *string  `json:"deletedAt"`
	Idle         bool     `json:"idle"`
	Resources    struct {
		CPU    string `json:"cpu"`
		Memory string `json:"memory"`
	} `json:"resources"`
}

func create(t testing.TB, e *testenv.Env, tok string, body any) session {
	t.Helper()
	var s session
	e.Do("POST", "/api/v1/sessions", tok, body).Want(t, http.StatusCreated).Decode(t, &s)
	return s
}

func TestTemplatesCatalog(t *testing.T) {
	e := testenv.Start(t)
	alice, op, admin := e.Token("alice", ""), e.Token("olga", "operator"), e.Token("root", "admin")
	var list struct {
		Items []struct {
			Name, Image, Category string
			Tags                  []string
			DefaultResources      map[string]string
		}
	}
	e.Do("GET", "/api/v1/templates", alice, nil).Want(t, 200).Decode(t, &list)
	names := map[string]bool{}
	for _, it := range list.Items {
		names[it.Name] = true
		if it.Image == "" || it.Category == "" || len(it.Tags) == 0 || it.DefaultResources["cpu"] == "" {
			t.Errorf("template %s lacks image, category, tags or default resources", it.Name)
		}
	}
	for _, want := range []string{"firefox-browser", "chromium", "vscode", "libreoffice", "gimp", "terminal"} {
		if !names[want] {
			t.Errorf("catalog lacks %s", want)
		}
	}
	e.Do("GET", "/api/v1/templates?category=Web%20Browsers", alice, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 2 {
		t.Errorf("category filter: %d items, want 2", len(list.Items))
	}
	e.Do("GET", "/api/v1/templates?q=office", alice, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "libreoffice" {
		t.Errorf("search q=office: %+v", list.Items)
	}
	e.Do("GET", "/api/v1/templates?limit=0", alice, nil).Want(t, 400)
	var page struct {
		Items      []struct{ Name string }
		NextCursor string
	}
	seen := 0
	for cursor, n := "", 0; n < 10; n++ {
		e.Do("GET", "/api/v1/templates?limit=4&cursor="+cursor, alice, nil).Want(t, 200).Decode(t, &page)
		seen += len(page.Items)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if seen != len(names) {
		t.Errorf("paging saw %d templates, want %d", seen, len(names))
	}
	e.Do("GET", "/api/v1/templates?cursor=gimp", alice, nil).Want(t, 400)
	e.Do("GET", "/api/v1/templates/gimp", alice, nil).Want(t, 200)
	e.Do("GET", "/api/v1/templates/nope", alice, nil).Want(t, 404)

	tpl := map[string]any{"name": "blender", "displayName": "Blender", "category": "Graphics", "image": "lscr.io/linuxserver/blender",
		"tags": []string{"3d"}, "defaultResources": map[string]string{"cpu": "2", "memory": "4Gi"}}
	e.Do("POST", "/api/v1/templates", alice, tpl).Want(t, 403)
	e.Do("POST", "/api/v1/templates", op, tpl).Want(t, 403) // what runs is the admins' (SEC-20)
	e.Do("POST", "/api/v1/templates", admin, tpl).Want(t, 201)
	e.Do("POST", "/api/v1/templates", admin, tpl).Want(t, 409)
	tpl["displayName"] = "Blender 4"
	e.Do("PUT", "/api/v1/templates/blender", op, tpl).Want(t, 200)
	bad := map[string]any{"name": "x", "displayName": "X", "category": "c", "image": "i", "defaultResources": map[string]string{"cpu": "lots", "memory": "1Gi"}}
	if r := e.Do("POST", "/api/v1/templates", op, bad).Want(t, 400); !strings.Contains(string(r.Body), "defaultResources.cpu") {
		t.Errorf("error does not name the field: %s", r.Body)
	}
	e.Do("DELETE", "/api/v1/templates/blender", op, nil).Want(t, 204)
	e.Do("DELETE", "/api/v1/templates/blender", op, nil).Want(t, 404)
}

func TestSessionLifecycle(t *testing.T) {
	e := testenv.Start(t)
	alice, admin := e.Token("alice", ""), e.Token("root", "admin")
	s := create(t, e, alice, map[string]any{"templateName": "firefox-browser", "tags": []string{"work"}})
	if s.State != "pending" || s.DesiredState != "running" || s.OwnerID != "alice" || s.Resources.CPU != "1" {
		t.Fatalf("created session: %+v", s)
	}
	p := "/api/v1/sessions/" + s.ID
	// A pending session cannot hibernate: the state machine says 409.
	e.Do("PATCH", p, alice, map[string]any{"desiredState": "hibernated"}).Want(t, 409)
	// Only the runtime (admin principal) reports observed state.
	e.Do("POST", p+"/status", alice, map[string]any{"state": "running"}).Want(t, 403)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "hibernated"}).Want(t, 409)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "running", "url": "http://127.0.0.1:6080/vnc.html"}).Want(t, 200)

	var got session
	e.Do("PATCH", p, alice, map[string]any{"desiredState": "hibernated"}).Want(t, 200).Decode(t, &got)
	if got.DesiredState != "hibernated" || got.State != "running" {
		t.Fatalf("after hibernate request: %+v", got)
	}
	e.Do("POST", p+"/status", admin, map[string]any{"state": "hibernated"}).Want(t, 200)
	e.Do("PATCH", p, alice, map[string]any{"desiredState": "running"}).Want(t, 200)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "running", "url": "http://127.0.0.1:6080/vnc.html"}).Want(t, 200)

	var conn struct {
		ConnectionID, URL, State, PermissionLevel string
		Ready                                     bool
	}
	e.Do("POST", p+"/connect", alice, nil).Want(t, 200).Decode(t, &conn)
	if !conn.Ready || conn.PermissionLevel != "control" || conn.URL == "" {
		t.Fatalf("connect: %+v", conn)
	}
	e.Do("POST", p+"/heartbeat", alice, map[string]string{"connectionId": conn.ConnectionID}).Want(t, 200)
	e.Do("POST", p+"/disconnect", alice, map[string]string{"connectionId": conn.ConnectionID}).Want(t, 204)
	e.Do("POST", p+"/disconnect", alice, map[string]string{"connectionId": conn.ConnectionID}).Want(t, 404)

	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"a", "b"}}).Want(t, 200)
	e.Do("PATCH", p+"/tags", alice, map[string]any{"add": []string{"c"}, "remove": []string{"a"}}).Want(t, 200).Decode(t, &got)
	if strings.Join(got.Tags, ",") != "b,c" {
		t.Errorf("tags = %v, want [b c]", got.Tags)
	}

	e.Do("DELETE", p, alice, nil).Want(t, 200).Decode(t, &got)
	if got.State != "terminated" || got.DeletedAt == nil {
		t.Fatalf("deleted session: %+v", got)
	}
	// Terminated is final; the record stays as history.
	e.Do("GET", p, alice, nil).Want(t, 200)
	e.Do("PATCH", p, alice, map[string]any{"desiredState": "running"}).Want(t, 409)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "running"}).Want(t, 409)
	e.Do("POST", p+"/connect", alice, nil).Want(t, 409)
	e.Do("DELETE", p, alice, nil).Want(t, 404)
}

// Defect 27: anyone could list, read, change or delete anyone's session, or create one for another user.
func TestRegressionDefect27_NoCrossUserAccess(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, op := e.Token("alice", ""), e.Token("bob", ""), e.Token("olga", "operator")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", p, nil}, {"PATCH", p, map[string]any{"idleTimeout": 600}}, {"DELETE", p, nil},
		{"PUT", p + "/tags", map[string]any{"tags": []string{"x"}}}, {"PATCH", p + "/tags", map[string]any{"add": []string{"x"}}},
		{"POST", p + "/connect", nil}, {"POST", p + "/heartbeat", nil},
	} {
		if r := e.Do(c.method, c.path, bob, c.body); r.Status != 404 {
			t.Errorf("bob %s %s = %d, want 404 (%s)", c.method, c.path, r.Status, r.Body)
		}
	}
	var list struct{ Items []session }
	e.Do("GET", "/api/v1/sessions", bob, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("bob lists %d sessions, want 0", len(list.Items))
	}
	e.Do("GET", "/api/v1/sessions?ownerId=alice", bob, nil).Want(t, 403)
	e.Do("GET", "/api/v1/sessions?all=true", bob, nil).Want(t, 403)
	// The owner is the caller, never the body.
	e.Do("POST", "/api/v1/sessions", bob, map[string]any{"templateName": "terminal", "ownerId": "alice"}).Want(t, 400)
	// Operators view everything but change nothing.
	e.Do("GET", p, op, nil).Want(t, 200)
	e.Do("GET", "/api/v1/sessions?ownerId=alice", op, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 1 {
		t.Errorf("operator lists %d of alice's sessions, want 1", len(list.Items))
	}
	e.Do("PATCH", p, op, map[string]any{"idleTimeout": 600}).Want(t, 403)
	e.Do("DELETE", p, op, nil).Want(t, 403)
	// Without credentials: 401.
	e.Do("GET", p, "", nil).Want(t, 401)
	e.Do("GET", p, "not-a-token", nil).Want(t, 401)
}

// Defect 26: sessions were keyed by username in one place and by user id in another, so saving
// failed for everyone but the built-in admin. Here every user's sessions are keyed by the id.
func TestRegressionDefect26_SessionsKeyedByUserID(t *testing.T) {
	e := testenv.Start(t)
	for _, u := range []string{"user-1", "7c0b4f1e-5d2a-4b6e-9b1d-1f2e3d4c5b6a", "carol@example.test"} {
		tok := e.Token(u, "")
		s := create(t, e, tok, map[string]any{"templateName": "terminal"})
		if s.OwnerID != u {
			t.Errorf("owner %q, want %q", s.OwnerID, u)
		}
		var list struct{ Items []session }
		e.Do("GET", "/api/v1/sessions", tok, nil).Want(t, 200).Decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != s.ID {
			t.Errorf("%s lists %+v", u, list.Items)
		}
	}
}

// Defect 28: a failed create left an empty state; deleted sessions were never marked; creates
// answered 202 and stayed pending when the bus was down.
func TestRegressionDefect28_CreateIsAtomicAndDeleteMarks(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	r := e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "no-such-template"})
	r.Want(t, 400)
	r = e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "vscode", "resources": map[string]string{"cpu": "64", "memory": "1Gi"}})
	r.Want(t, 400)
	var list struct{ Items []session }
	e.Do("GET", "/api/v1/sessions", alice, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("failed creates left %d sessions", len(list.Items))
	}
	s := create(t, e, alice, map[string]any{"templateName": "vscode"})
	if s.State != "pending" || s.DesiredState != "running" {
		t.Fatalf("state %q/%q", s.State, s.DesiredState)
	}
	var del session
	e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &del)
	e.Do("GET", "/api/v1/sessions?state=terminated", alice, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].State != "terminated" {
		t.Fatalf("deleted session not kept as terminated: %+v", list.Items)
	}
}

func TestQuotaHoldsUnderConcurrency(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	const tries = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < tries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"})
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 5 || codes[403] != tries-5 {
		t.Fatalf("status counts %v, want 5×201 and %d×403", codes, tries-5)
	}
	// Terminating one frees one slot.
	var list struct{ Items []session }
	e.Do("GET", "/api/v1/sessions", alice, nil).Want(t, 200).Decode(t, &list)
	e.Do("DELETE", "/api/v1/sessions/"+list.Items[0].ID, alice, nil).Want(t, 200)
	create(t, e, alice, map[string]any{"templateName": "terminal"})
	r := e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}).Want(t, 403)
	if !strings.Contains(string(r.Body), "quota") {
		t.Errorf("quota refusal does not say why: %s", r.Body)
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	body := map[string]any{"templateName": "gimp"}
	var first, again session
	e.Do("POST", "/api/v1/sessions", alice, body, "Idempotency-Key", "k-1").Want(t, 201).Decode(t, &first)
	r := e.Do("POST", "/api/v1/sessions", alice, body, "Idempotency-Key", "k-1").Want(t, 201)
	r.Decode(t, &again)
	if first.ID != again.ID || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay created %s, first %s", again.ID, first.ID)
	}
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "chromium"}, "Idempotency-Key", "k-1").Want(t, 409)
	// Concurrent retries of one key still create one session.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var s session
			r := e.Do("POST", "/api/v1/sessions", alice, body, "Idempotency-Key", "k-2")
			if r.Status == 201 {
				r.Decode(t, &s)
				ids[i] = s.ID
			}
		}(i)
	}
	wg.Wait()
	var list struct{ Items []session }
	e.Do("GET", "/api/v1/sessions", alice, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("%d sessions after retries, want 2", len(list.Items))
	}
	for _, id := range ids {
		if id != "" && id != list.Items[0].ID {
			t.Errorf("retry returned %s, want %s", id, list.Items[0].ID)
		}
	}
}

func TestIfMatchPreventsLostUpdates(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("PATCH", p, alice, map[string]any{"idleTimeout": 900}, "If-Match", `"99"`).Want(t, 412)
	e.Do("PATCH", p, alice, map[string]any{"idleTimeout": 900}, "If-Match", "abc").Want(t, 400)
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"x"}}, "If-Match", `"99"`).Want(t, 412)
	e.Do("PATCH", p+"/tags", alice, map[string]any{"add": []string{"x"}}, "If-Match", `"99"`).Want(t, 412)
	e.Do("DELETE", p, alice, nil, "If-Match", `"99"`).Want(t, 412)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.Do("PATCH", p, alice, map[string]any{"idleTimeout": 600 + i*60}, "If-Match", fmt.Sprintf(`"%d"`, s.Version))
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if codes[200] != 1 || codes[412] != 5 {
		t.Fatalf("concurrent If-Match updates: %v, want one 200 and five 412", codes)
	}
}

func TestBadInputIsAClear4xx(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	cases := []struct {
		name, method, path string
		body               any
		status             int
		mentions           string
	}{
		{"invalid json", "POST", "/api/v1/sessions", `{"templateName":`, 400, "body"},
		{"not an object", "POST", "/api/v1/sessions", `[1,2]`, 400, "body"},
		{"wrong type", "POST", "/api/v1/sessions", `{"templateName":5}`, 400, "templateName"},
		{"unknown field", "POST", "/api/v1/sessions", `{"templateName":"terminal","owner":"x"}`, 400, "owner"},
		{"missing template", "POST", "/api/v1/sessions", `{}`, 400, "templateName"},
		{"bad memory", "POST", "/api/v1/sessions", `{"templateName":"terminal","resources":{"cpu":"1","memory":"lots"}}`, 400, "resources.memory"},
		{"too many tags", "POST", "/api/v1/sessions", map[string]any{"templateName": "terminal", "tags": make51()}, 400, "tags"},
		{"long tag", "POST", "/api/v1/sessions", map[string]any{"templateName": "terminal", "tags": []string{strings.Repeat("x", 129)}}, 400, "tags"},
		{"idle out of range", "PATCH", "/api/v1/sessions/" + s.ID, `{"idleTimeout":1}`, 400, "idleTimeout"},
		{"bad desired", "PATCH", "/api/v1/sessions/" + s.ID, `{"desiredState":"exploded"}`, 400, "desiredState"},
		{"empty patch", "PATCH", "/api/v1/sessions/" + s.ID, `{}`, 400, "body"},
		{"limit zero", "GET", "/api/v1/sessions?limit=0", nil, 400, "limit"},
		{"limit huge", "GET", "/api/v1/sessions?limit=101", nil, 400, "limit"},
		{"forged cursor", "GET", "/api/v1/sessions?cursor=eyJQSyI6IngifQ", nil, 400, "cursor"},
		{"malformed query", "GET", "/api/v1/sessions?cursor=%%%", nil, 400, "query"},
		{"bad state filter", "GET", "/api/v1/sessions?state=on", nil, 400, "state"},
		{"malformed id", "GET", "/api/v1/sessions/../../etc", nil, 404, ""},
		{"unknown id", "GET", "/api/v1/sessions/sess_01jd0000000000000000000000", nil, 404, ""},
		{"huge body", "POST", "/api/v1/sessions", `{"templateName":"` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		{"wrong content type", "POST", "/api/v1/sessions", nil, 400, "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := []string{}
			if c.name == "wrong content type" {
				hdr = []string{"Content-Type", "text/plain"}
				c.body = `templateName=terminal`
			}
			r := e.Do(c.method, c.path, alice, c.body, hdr...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if r.Status != 404 || c.mentions != "" {
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q", ct)
				}
			}
			if c.mentions != "" && !strings.Contains(string(r.Body), c.mentions) {
				t.Errorf("problem does not name %q: %s", c.mentions, r.Body)
			}
		})
	}
}

func make51() []string {
	out := make([]string, 51)
	for i := range out {
		out[i] = fmt.Sprintf("t%d", i)
	}
	return out
}

func TestPagination(t *testing.T) {
	e := testenv.Start(t)
	admin := e.Token("root", "admin")
	made := map[string]bool{}
	for i := 0; i < 5; i++ {
		made[create(t, e, admin, map[string]any{"templateName": "terminal"}).ID] = true
	}
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		var page struct {
			Items      []session
			NextCursor string
		}
		e.Do("GET", "/api/v1/sessions?limit=2&cursor="+cursor, admin, nil).Want(t, 200).Decode(t, &page)
		pages++
		for _, s := range page.Items {
			if seen[s.ID] {
				t.Fatalf("session %s on two pages", s.ID)
			}
			seen[s.ID] = true
		}
		if page.NextCursor == "" || pages > 5 {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d sessions, want 5", len(seen))
	}
	// A cursor of one listing is refused by another.
	var page struct{ NextCursor string }
	e.Do("GET", "/api/v1/sessions?limit=2", admin, nil).Want(t, 200).Decode(t, &page)
	e.Do("GET", "/api/v1/sessions?all=true&limit=2&cursor="+page.NextCursor, admin, nil).Want(t, 400)
}

// GET /sessions/{id} says what the caller may do with the session, so a client shows only the
// controls that work: the owner everything, a view share viewing only, an admin everything.
func TestSessionSaysTheCallersAccess(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, root := e.Token("alice", ""), e.Token("bob", ""), e.Token("root", "admin")
	seen(t, e, bob)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)
	type access struct {
		Level          string
		Manage, Delete bool
		Via            string
	}
	for tok, want := range map[string]access{alice: {"control", true, true, "owner"}, bob: {"view", false, false, "share"}, root: {"control", true, true, "admin"}} {
		var got struct {
			ID         string
			YourAccess access
		}
		e.Do("GET", "/api/v1/sessions/"+s.ID, tok, nil).Want(t, 200).Decode(t, &got)
		if got.ID != s.ID || got.YourAccess != want {
			t.Errorf("%s: yourAccess %+v, want %+v", got.ID, got.YourAccess, want)
		}
	}
}

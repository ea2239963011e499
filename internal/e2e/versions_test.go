package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"streamspace/internal/testenv"
)

// versioned describes one update route for TestEveryUpdateHonoursIfMatch: where it lives, who
// may write it, and bodies that each change the resource (so every applied write is a version).
type versioned struct {
	name   string
	method string
	path   string // the update route
	// version reads the resource's version as clients see it (a GET's ETag, or a list item).
	version func(t *testing.T, e *testenv.Env) int
	token   string
	// body i changes the resource to a value no other body i' != i gives it.
	body func(i int) any
	// writers is how many concurrent writers can all change it (roles have few values: bodies
	// 9 and 18, written before each race, differ from the racers' 10.., 19..).
	writers int
	// final checks the resource after the concurrent writes without If-Match: every writer's
	// change must be visible where the semantics allow (different fields survive together).
	final func(t *testing.T, e *testenv.Env)
}

func etagVersion(t *testing.T, r testenv.Response) int {
	t.Helper()
	tag := r.Header.Get("ETag")
	n, err := strconv.Atoi(strings.Trim(tag, `"`))
	if err != nil || !strings.HasPrefix(tag, `"`) {
		t.Fatalf("ETag %q is not a quoted version (status %d: %s)", tag, r.Status, r.Body)
	}
	return n
}

// The contract's "updates honour If-Match" and "concurrent updates with If-Match → no lost
// update", for every update route besides the session ones (TestIfMatchPreventsLostUpdates).
func TestEveryUpdateHonoursIfMatch(t *testing.T) {
	e := testenv.Start(t)
	alice, carol, admin := e.Token("alice", ""), e.Token("carol", ""), e.Token("root", "admin")
	bob, dave := e.Token("bob", ""), e.Token("dave", "")
	seen(t, e, alice, bob, carol, dave, admin)

	tm := newTeam(t, e, alice, "versions")
	teamPath := "/api/v1/teams/" + tm.ID
	e.Do("POST", teamPath+"/members", alice, map[string]string{"userId": "bob", "role": "member"}).Want(t, 201)
	e.Do("POST", "/api/v1/templates", admin, templateBody("versioned", "v0")).Want(t, 201)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	var rec struct{ Recording struct{ ID string } }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/recordings", alice, map[string]any{"type": "video", "format": "webm"}).Want(t, 201).Decode(t, &rec)
	recPath := "/api/v1/sessions/" + s.ID + "/recordings/" + rec.Recording.ID

	etag := func(path string) func(t *testing.T, e *testenv.Env) int {
		return func(t *testing.T, e *testenv.Env) int {
			tok := alice
			if !strings.HasPrefix(path, "/api/v1/teams") && !strings.HasPrefix(path, "/api/v1/sessions") {
				tok = admin
			}
			return etagVersion(t, e.Do("GET", path, tok, nil).Want(t, 200))
		}
	}
	// Memberships have no GET of their own: their version is in the members list.
	memberVersion := func(t *testing.T, e *testenv.Env) int {
		var page struct {
			Items []struct {
				UserID  string
				Version int
			}
		}
		e.Do("GET", teamPath+"/members", alice, nil).Want(t, 200).Decode(t, &page)
		for _, m := range page.Items {
			if m.UserID == "bob" {
				return m.Version
			}
		}
		t.Fatal("bob is not listed")
		return 0
	}
	cases := []versioned{
		{name: "team", method: "PATCH", path: teamPath, version: etag(teamPath), token: alice, writers: 6,
			// Even writers rename, odd writers describe: both fields must survive.
			body: func(i int) any {
				if i%2 == 0 {
					return map[string]string{"displayName": fmt.Sprintf("name-%d", i)}
				}
				return map[string]string{"description": fmt.Sprintf("desc-%d", i)}
			},
			final: func(t *testing.T, e *testenv.Env) {
				var got struct{ DisplayName, Description string }
				e.Do("GET", teamPath, alice, nil).Want(t, 200).Decode(t, &got)
				if !strings.HasPrefix(got.DisplayName, "name-") || !strings.HasPrefix(got.Description, "desc-") {
					t.Errorf("after concurrent edits of both fields: %+v, want both edited", got)
				}
			}},
		{name: "team quota", method: "PUT", path: teamPath + "/quota", version: etag(teamPath + "/quota"), token: alice, writers: 6,
			body: func(i int) any {
				if i%2 == 0 {
					return map[string]int{"maxSessions": 100 + i}
				}
				return map[string]int{"maxCpuMillis": 100000 + i}
			},
			final: func(t *testing.T, e *testenv.Env) {
				var q struct{ MaxSessions, MaxCPUMillis int }
				e.Do("GET", teamPath+"/quota", alice, nil).Want(t, 200).Decode(t, &q)
				if q.MaxSessions < 100 || q.MaxSessions > 200 || q.MaxCPUMillis < 100000 || q.MaxCPUMillis > 100100 {
					t.Errorf("after concurrent limit changes: %+v, want both limits changed", q)
				}
			}},
		{name: "team member", method: "PATCH", path: teamPath + "/members/bob", version: memberVersion, token: alice, writers: 2,
			body: func(i int) any { return map[string]string{"role": []string{"admin", "viewer", "member"}[i%3]} }},
		{name: "template", method: "PUT", path: "/api/v1/templates/versioned", version: etag("/api/v1/templates/versioned"), token: admin, writers: 6,
			body: func(i int) any { return templateBody("", fmt.Sprintf("v%d", i+1)) }},
		{name: "user role", method: "PUT", path: "/api/v1/users/carol/role", version: etag("/api/v1/users/carol"), token: admin, writers: 2,
			body: func(i int) any { return map[string]string{"role": []string{"operator", "admin", "user"}[i%3]} }},
		{name: "recording", method: "PATCH", path: recPath, version: etag(recPath), token: alice, writers: 6,
			body: func(i int) any {
				if i%2 == 0 {
					return map[string]int{"sizeBytes": 1000 + i}
				}
				return map[string]int{"durationSeconds": 1000 + i}
			},
			final: func(t *testing.T, e *testenv.Env) {
				var got struct {
					Recording struct{ SizeBytes, DurationSeconds int }
				}
				e.Do("GET", recPath, alice, nil).Want(t, 200).Decode(t, &got)
				if got.Recording.SizeBytes < 1000 || got.Recording.DurationSeconds < 1000 {
					t.Errorf("after concurrent reports: %+v, want both fields reported", got.Recording)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkVersioned(t, e, tc) })
	}
}

func checkVersioned(t *testing.T, e *testenv.Env, tc versioned) {
	current := func() int { return tc.version(t, e) }
	v := current()
	stale := fmt.Sprintf(`"%d"`, v+41)
	e.Do(tc.method, tc.path, tc.token, tc.body(0), "If-Match", stale).Want(t, 412)
	for _, bad := range []string{"abc", `"0"`, `"-1"`, `W/"x"`} {
		if r := e.Do(tc.method, tc.path, tc.token, tc.body(0), "If-Match", bad); r.Status != 400 {
			t.Fatalf("If-Match %s: status %d, want 400", bad, r.Status)
		}
	}
	if got := etagVersion(t, e.Do(tc.method, tc.path, tc.token, tc.body(0), "If-Match", "*").Want(t, 200)); got != v+1 {
		t.Fatalf("If-Match * → version %d, want %d", got, v+1)
	}
	v++
	// The ETag copied back as it is (quoted), weak or bare: all match.
	for i, im := range []string{`"%d"`, `W/"%d"`, `%d`} {
		r := e.Do(tc.method, tc.path, tc.token, tc.body(1+i), "If-Match", fmt.Sprintf(im, v)).Want(t, 200)
		if got := etagVersion(t, r); got != v+1 {
			t.Fatalf("If-Match %s → version %d, want %d", fmt.Sprintf(im, v), got, v+1)
		}
		v++
	}
	if got := current(); got != v {
		t.Fatalf("read version %d after the writes, want %d", got, v)
	}
	// prepare writes body i (a value no racer writes) and returns the version it leaves.
	prepare := func(i int) int {
		return etagVersion(t, e.Do(tc.method, tc.path, tc.token, tc.body(i), "If-Match", "*").Want(t, 200))
	}

	// Concurrent writers pinning the same version: exactly one wins, the others get 412.
	n := tc.writers
	v = prepare(9)
	codes := race(e, tc, n, fmt.Sprintf(`"%d"`, v), 10)
	if codes[200] != 1 || codes[412] != n-1 || len(codes) != 2 {
		t.Fatalf("concurrent writes with If-Match: %v, want one 200 and %d × 412", codes, n-1)
	}
	if got := current(); got != v+1 {
		t.Fatalf("after the If-Match race the version is %d, want %d", got, v+1)
	}

	// Concurrent writers without If-Match: every change is applied on top of the others (a lost
	// update would leave fewer versions than writers, or a field one writer set undone).
	v = prepare(18)
	codes = race(e, tc, n, "", 19)
	if codes[200] != n {
		t.Fatalf("concurrent writes without If-Match: %v, want %d × 200", codes, n)
	}
	if got := current(); got != v+n {
		t.Fatalf("after %d concurrent changes the version is %d, want %d", n, got, v+n)
	}
	if tc.final != nil {
		tc.final(t, e)
	}
}

// race sends n writes at once (body offset+i each), with If-Match when ifMatch is not "".
func race(e *testenv.Env, tc versioned, n int, ifMatch string, offset int) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var h []string
			if ifMatch != "" {
				h = []string{"If-Match", ifMatch}
			}
			r := e.Do(tc.method, tc.path, tc.token, tc.body(offset+i), h...)
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return codes
}

func templateBody(name, description string) map[string]any {
	b := map[string]any{"displayName": "Versioned", "description": description, "category": "Tests", "image": "example/versioned:1",
		"defaultResources": map[string]string{"cpu": "1", "memory": "1Gi"}}
	if name != "" {
		b["name"] = name
	}
	return b
}

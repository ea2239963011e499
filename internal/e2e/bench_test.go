package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"streamspace/internal/auth"
	"streamspace/internal/local/stack"
	"streamspace/internal/testenv"
)

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// benchN is a benchmark's count: the environment variable name if set to a number, else def.
func benchN(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// BenchmarkNotificationLatency measures notification latency with everything running as in
// AWS: the gateway, both readers of the stream (the notifier, and the processor with its auditor
// and runtime steps, the local runtime driving sessions). Over N session changes (BENCH_CHANGES,
// default 1000) made through the HTTP API, it times API write → event received by a WebSocket
// client (the request's own round trip included), and commit → received.
func BenchmarkNotificationLatency(b *testing.B) {
	n := benchN("BENCH_CHANGES", 1000)
	e := testenv.Start(b, func(c *stack.Config) { c.LocalRuntime = true })
	if got := e.Readers; !slices.Equal(got, []string{"notifier", "processor"}) {
		b.Fatalf("stream readers %v, want the notifier and the processor", got)
	}
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	s := create(b, e, alice, map[string]any{"templateName": "terminal"})
	ws.Expect("session.created", s.ID, wait)
	path := "/api/v1/sessions/" + s.ID + "/tags"
	write := make([]time.Duration, 0, n)
	commit := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		sent := time.Now()
		e.Do("PUT", path, alice, map[string]any{"tags": []string{fmt.Sprintf("t%d", i)}}).Want(b, http.StatusOK)
		committed := time.Now()
		m := ws.Expect("session.tags.updated", s.ID, wait)
		write = append(write, m.Received.Sub(sent))
		commit = append(commit, m.Received.Sub(committed))
	}
	b.StopTimer()
	const target = 50 * time.Millisecond
	verdict := "within"
	if percentile(write, .99) > target {
		verdict = "OVER"
	}
	fmt.Printf("notification latency over %d changes, gateway + notifier + processor (auditor, runtime) running:\n", n)
	fmt.Printf("  API write → event received: p50 %s  p90 %s  p99 %s  max %s   (%s the p99 target of %s)\n",
		ms(percentile(write, .5)), ms(percentile(write, .9)), ms(percentile(write, .99)), ms(percentile(write, 1)), verdict, ms(target))
	fmt.Printf("  commit → event received:    p50 %s  p90 %s  p99 %s  max %s\n",
		ms(percentile(commit, .5)), ms(percentile(commit, .9)), ms(percentile(commit, .99)), ms(percentile(commit, 1)))
	b.ReportMetric(float64(percentile(write, .5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(write, .99).Microseconds())/1000, "p99-ms")
}

// BenchmarkDynamoDBCallsPerRoute prints the DynamoDB operations each session route makes
// (the authorizer's one GetItem of the caller's user record included).
func BenchmarkDynamoDBCallsPerRoute(b *testing.B) {
	counter := &testenv.CallCounter{}
	e := testenv.Start(b, func(c *stack.Config) {
		c.DBOptions = append(c.DBOptions, counter.Option())
	})
	steps := benchRoutes(b, e)
	counter.Take()
	fmt.Println("DynamoDB calls per route (authorizer's GetItem included):")
	fmt.Printf("  %-36s %-6s %-5s %s\n", "route", "status", "calls", "operations")
	for _, st := range steps {
		r := st.do()
		if r.Status >= 300 {
			b.Fatalf("%s: %d %s", st.route, r.Status, r.Body)
		}
		ops := counter.Take()
		total := 0
		var parts []string
		for op, n := range ops {
			total += n
			parts = append(parts, fmt.Sprintf("%s×%d", op, n))
		}
		sort.Strings(parts)
		fmt.Printf("  %-36s %-6d %-5d %s\n", st.route, r.Status, total, strings.Join(parts, " "))
	}
}

// routeStep is one request of the per-route benchmarks (run in order: later steps use what
// earlier ones made).
type routeStep struct {
	route string
	do    func() testenv.Response
}

// benchRoutes prepares users, sessions, a share, an invitation and an API key, and returns the
// routes the per-route benchmarks measure.
func benchRoutes(b *testing.B, e *testenv.Env) []routeStep {
	alice, admin := e.Token("alice", ""), e.Token("root", "admin")
	e.Do("GET", "/api/v1/users/me", alice, nil).Want(b, 200)
	e.Do("GET", "/api/v1/users/me", admin, nil).Want(b, 200)
	var s session
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}).Want(b, 201).Decode(b, &s)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/status", admin, map[string]any{"state": "running", "url": "http://x"}).Want(b, 200)
	bob, carol := e.Token("bob", ""), e.Token("carol", "")
	seen(b, e, bob, carol)
	var shared session
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}).Want(b, 201).Decode(b, &shared)
	e.Do("POST", "/api/v1/sessions/"+shared.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(b, 201)
	var inv struct{ Token string }
	e.Do("POST", "/api/v1/sessions/"+shared.ID+"/invitations", alice, map[string]any{"permissionLevel": "collaborate"}).Want(b, 201).Decode(b, &inv)
	key := newKey(b, e, alice, map[string]any{"name": "bench"})
	time.Sleep(100 * time.Millisecond)
	p := "/api/v1/sessions/" + s.ID
	var conn struct{ ConnectionID string }
	return []routeStep{
		{"POST /sessions", func() testenv.Response {
			return e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"})
		}},
		{"POST /sessions (Idempotency-Key)", func() testenv.Response {
			return e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}, "Idempotency-Key", "bench")
		}},
		{"GET /sessions", func() testenv.Response { return e.Do("GET", "/api/v1/sessions", alice, nil) }},
		{"GET /sessions/{id}", func() testenv.Response { return e.Do("GET", p, alice, nil) }},
		{"PATCH /sessions/{id}", func() testenv.Response {
			return e.Do("PATCH", p, alice, map[string]any{"idleTimeout": 900})
		}},
		{"PATCH /sessions/{id} (resources)", func() testenv.Response {
			return e.Do("PATCH", p, alice, map[string]any{"resources": map[string]string{"cpu": "1", "memory": "1Gi"}})
		}},
		{"PUT /sessions/{id}/tags", func() testenv.Response {
			return e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"a"}})
		}},
		{"POST /sessions/{id}/connect", func() testenv.Response {
			r := e.Do("POST", p+"/connect", alice, nil)
			r.Decode(b, &conn)
			return r
		}},
		{"POST /sessions/{id}/heartbeat", func() testenv.Response { return e.Do("POST", p+"/heartbeat", alice, nil) }},
		{"POST /sessions/{id}/disconnect", func() testenv.Response {
			return e.Do("POST", p+"/disconnect", alice, map[string]string{"connectionId": conn.ConnectionID})
		}},
		{"POST /sessions/{id}/status", func() testenv.Response {
			return e.Do("POST", p+"/status", admin, map[string]any{"state": "running", "url": "http://y"})
		}},
		{"DELETE /sessions/{id}", func() testenv.Response { return e.Do("DELETE", p, alice, nil) }},
		{"GET /templates", func() testenv.Response { return e.Do("GET", "/api/v1/templates", alice, nil) }},
		{"GET /templates/{name}", func() testenv.Response { return e.Do("GET", "/api/v1/templates/gimp", alice, nil) }},
		{"GET /users/me", func() testenv.Response { return e.Do("GET", "/api/v1/users/me", alice, nil) }},
		{"GET /sessions/{id} (shared, view)", func() testenv.Response { return e.Do("GET", "/api/v1/sessions/"+shared.ID, bob, nil) }},
		{"POST /sessions/{id}/share", func() testenv.Response {
			return e.Do("POST", "/api/v1/sessions/"+shared.ID+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view"})
		}},
		{"POST /invitations/{token}/accept", func() testenv.Response {
			return e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", carol, nil)
		}},
		{"POST /teams", func() testenv.Response {
			return e.Do("POST", "/api/v1/teams", alice, map[string]string{"name": "bench"})
		}},
		{"GET /teams/my-teams", func() testenv.Response { return e.Do("GET", "/api/v1/teams/my-teams", alice, nil) }},
		{"GET /api-keys (token)", func() testenv.Response { return e.Do("GET", "/api/v1/api-keys", alice, nil) }},
		{"GET /sessions with an API key", func() testenv.Response { return doKey(e, "GET", "/api/v1/sessions", key.Key, nil) }},
	}
}

// BenchmarkWarmRequest measures GET /sessions/{id} through the local gateway (DynamoDB Local's
// own time included; compare with the DynamoDB-only figure printed beside it).
func BenchmarkWarmRequest(b *testing.B) {
	e := testenv.Start(b)
	alice := e.Token("alice", "")
	var s session
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}).Want(b, 201).Decode(b, &s)
	const n = 500
	var full, db []time.Duration
	store := e.App.SessionStore()
	users := e.App.Users()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		r := e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil)
		full = append(full, time.Since(t0))
		if r.Status != http.StatusOK {
			b.Fatal(r.Status)
		}
		t1 := time.Now()
		_, _ = users.Get(context.Background(), "alice")
		_, _ = store.Get(context.Background(), s.ID)
		db = append(db, time.Since(t1))
	}
	fmt.Printf("warm GET /sessions/{id} through the local gateway over %d requests: p50 %s p99 %s; its 2 DynamoDB Local reads alone: p50 %s → gateway+function p50 ≈ %s (target ≤ 10 ms)\n",
		n, ms(percentile(full, .5)), ms(percentile(full, .99)), ms(percentile(db, .5)), ms(percentile(full, .5)-percentile(db, .5)))
}

// BenchmarkFanOut measures one change delivered to N connected clients (N from BENCH_FANOUT,
// default 1000): commit → the last client's receipt. The clients are operators watching the
// owner (one user has at most connections.MaxPerUser), so they are one audience as well.
func BenchmarkFanOut(b *testing.B) {
	n := benchN("BENCH_FANOUT", 1000)
	e := testenv.Start(b)
	alice := e.Token("alice", "")
	clients := make([]*testenv.WS, 0, n)
	for i := 0; i < n; i++ {
		clients = append(clients, e.MustDialWS(e.Token(fmt.Sprintf("op%d", i), "operator"), url.Values{"user_id": {"alice"}}))
	}
	svc := e.App.Sessions()
	caller := auth.Caller{UserID: "alice", Role: auth.RoleUser}
	var s session
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}).Want(b, 201).Decode(b, &s)
	for _, c := range clients {
		c.Expect("session.created", s.ID, 30*time.Second)
	}
	var runs []time.Duration
	for r := 0; r < 3; r++ {
		if _, err := svc.SetTags(context.Background(), caller, s.ID, []string{fmt.Sprintf("r%d", r)}, nil, nil, nil); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		var last time.Time
		for _, c := range clients {
			m := c.Expect("session.tags.updated", s.ID, 30*time.Second)
			if m.Received.After(last) {
				last = m.Received
			}
		}
		runs = append(runs, last.Sub(committed))
	}
	fmt.Printf("fan-out of one change to %d connections: %s, %s, %s (target ≤ 1 s)\n", n, ms(runs[0]), ms(runs[1]), ms(runs[2]))
	b.ReportMetric(float64(percentile(runs, .5).Milliseconds()), "median-ms")
}

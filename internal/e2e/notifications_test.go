package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	apigw "streamspace/internal/local/gateway"
	"streamspace/internal/testenv"
)

const wait = 5 * time.Second

// The owner's WebSocket client receives every change of its sessions, derived from the stream;
// another user's client receives none of them.
func TestOwnerReceivesSessionEventsStrangerDoesNot(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, admin := e.Token("alice", ""), e.Token("bob", ""), e.Token("root", "admin")
	aws := e.MustDialWS(alice, nil)
	bws := e.MustDialWS(bob, nil)

	s := create(t, e, alice, map[string]any{"templateName": "firefox-browser"})
	p := "/api/v1/sessions/" + s.ID
	m := aws.Expect("session.created", s.ID, wait)
	if m.ID == "" || m.UserID != "alice" || m.Timestamp.IsZero() || m.Data["templateName"] != "firefox-browser" {
		t.Errorf("session.created envelope: %s", m.Raw)
	}
	e.Do("POST", p+"/status", admin, map[string]any{"state": "running", "url": "http://127.0.0.1:6080/vnc.html"}).Want(t, 200)
	m = aws.Expect("session.state.changed", s.ID, wait)
	if m.Data["previousState"] != "pending" || m.Data["state"] != "running" {
		t.Errorf("state change data: %s", m.Raw)
	}
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"x"}}).Want(t, 200)
	aws.Expect("session.tags.updated", s.ID, wait)
	e.Do("PATCH", p, alice, map[string]any{"resources": map[string]string{"cpu": "2", "memory": "4Gi"}}).Want(t, 200)
	aws.Expect("session.resources.updated", s.ID, wait)
	e.Do("PATCH", p, alice, map[string]any{"desiredState": "hibernated"}).Want(t, 200)
	m = aws.Expect("session.updated", s.ID, wait)
	if m.Data["desiredState"] != "hibernated" {
		t.Errorf("session.updated data: %s", m.Raw)
	}
	var c struct{ ConnectionID string }
	c.ConnectionID = openAsGateway(t, e, alice, s.ID) // the gateway opens what connect issued
	aws.Expect("session.connected", s.ID, wait)
	e.Do("POST", p+"/heartbeat", alice, nil).Want(t, 200)
	aws.Expect("session.heartbeat", s.ID, wait)
	e.Do("POST", p+"/disconnect", alice, map[string]string{"connectionId": c.ConnectionID}).Want(t, 204)
	aws.Expect("session.disconnected", s.ID, wait)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "failed", "error": "image pull failed"}).Want(t, 200)
	aws.Expect("session.error", s.ID, wait)
	e.Do("DELETE", p, alice, nil).Want(t, 200)
	aws.Expect("session.deleted", s.ID, wait)

	if leaked := bws.Drain(300 * time.Millisecond); len(leaked) > 0 {
		t.Fatalf("bob received %d events of alice's session, first: %s", len(leaked), leaked[0].Raw)
	}
}

func TestWebSocketConnectRules(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, op := e.Token("alice", ""), e.Token("bob", ""), e.Token("olga", "operator")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})

	for _, c := range []struct {
		name   string
		token  string
		query  url.Values
		status int
	}{
		{"no token", "", nil, http.StatusUnauthorized},
		{"bad token", "garbage", nil, http.StatusUnauthorized},
		{"another user's id", bob, url.Values{"user_id": {"alice"}}, http.StatusForbidden},
		{"another user's session", bob, url.Values{"session_id": {s.ID}}, http.StatusNotFound},
		{"malformed session", alice, url.Values{"session_id": {"nope"}}, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws, status, err := e.DialWS(c.token, c.query)
			if err == nil {
				ws.Conn.CloseNow()
				t.Fatalf("connected, want %d", c.status)
			}
			if status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, err)
			}
		})
	}

	// An operator may watch alice; a session subscription gets only that session.
	watcher := e.MustDialWS(op, url.Values{"user_id": {"alice"}})
	one := e.MustDialWS(alice, url.Values{"session_id": {s.ID}})
	other := create(t, e, alice, map[string]any{"templateName": "terminal"})
	watcher.Expect("session.created", other.ID, wait)
	e.Do("PUT", "/api/v1/sessions/"+s.ID+"/tags", alice, map[string]any{"tags": []string{"y"}}).Want(t, 200)
	one.Expect("session.tags.updated", s.ID, wait)
	for _, m := range one.Drain(200 * time.Millisecond) {
		if m.SessionID == other.ID {
			t.Fatalf("session subscriber got another session's event: %s", m.Raw)
		}
	}

	// ping → pong; subscribe to a session one may not see is refused.
	b := e.MustDialWS(bob, nil)
	b.Send(map[string]string{"action": "ping"})
	b.Expect("pong", "", wait)
	b.Send(map[string]string{"action": "subscribe", "sessionId": s.ID})
	if m := b.Expect("error", "", wait); m.SessionID != s.ID {
		t.Errorf("subscribe refusal: %s", m.Raw)
	}
	b.Send(map[string]string{"action": "dance"})
	b.Expect("error", "", wait)
}

// Defect 13: the notifier was never called, and subscriptions were removed right after being made.
func TestRegressionDefect13_NotifierRunsAndSubscriptionsLast(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	ws.Send(map[string]string{"action": "ping"})
	ws.Expect("pong", "", wait)
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		s := create(t, e, alice, map[string]any{"templateName": "terminal"})
		ws.Expect("session.created", s.ID, wait)
	}
}

// Defect 14: every client received every user's sessions every 3 seconds. Here a client gets
// only what changed, once, and nothing when nothing changes.
func TestRegressionDefect14_NoPollingNoLeak(t *testing.T) {
	e := testenv.Start(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	create(t, e, alice, map[string]any{"templateName": "terminal"})
	bws := e.MustDialWS(bob, nil)
	aws := e.MustDialWS(alice, nil)
	if got := append(bws.Drain(3500*time.Millisecond), aws.Drain(10*time.Millisecond)...); len(got) > 0 {
		t.Fatalf("idle clients received %d messages; first: %s", len(got), got[0].Raw)
	}
}

// Defect 15: user_id / session_id were ignored and the admin check read the wrong key.
func TestRegressionDefect15_SubscriptionParametersEnforced(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, admin := e.Token("alice", ""), e.Token("bob", ""), e.Token("root", "admin")
	if _, status, _ := e.DialWS(bob, url.Values{"user_id": {"alice"}}); status != http.StatusForbidden {
		t.Fatalf("bob watching alice: %d, want 403", status)
	}
	adminWS := e.MustDialWS(admin, url.Values{"user_id": {"alice"}})
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	adminWS.Expect("session.created", s.ID, wait)
	mine := create(t, e, bob, map[string]any{"templateName": "terminal"})
	for _, m := range adminWS.Drain(300 * time.Millisecond) {
		if m.SessionID == mine.ID {
			t.Fatalf("a user_id=alice subscription received bob's event")
		}
	}
}

// Business counters reach CloudWatch as embedded-metric log lines from the notifier.
func TestNotifierEmitsEmbeddedMetrics(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	ws.Expect("session.created", s.ID, wait)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.Logs.String(), `"CloudWatchMetrics"`) || !strings.Contains(e.Logs.String(), `"SessionsCreated":1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no EMF record with SessionsCreated in the logs")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(e.Logs.String(), `"Namespace":"StreamSpace"`) || !strings.Contains(e.Logs.String(), `"EventsDelivered":`) {
		t.Fatal("the EMF record lacks its namespace or the delivery count")
	}
}

// The console's origin also serves the WebSocket's client side at /ws, as the one CloudFront
// origin does in AWS (a console reached through one forwarded port still gets live events); the
// management API is not reachable there.
func TestWebSocketOnTheConsolesOrigin(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	base := "ws" + strings.TrimPrefix(e.HTTPURL, "http") + apigw.ClientsPath
	if _, status, err := e.DialWSAt(base, "", nil); err == nil || status != http.StatusUnauthorized {
		t.Fatalf("no token at /ws: %d %v, want 401", status, err)
	}
	ws, _, err := e.DialWSAt(base, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	ws.Expect("session.created", s.ID, wait)
	id := listeners(t, e, "alice")[0].ConnectionID
	for _, path := range []string{apigw.ClientsPath + "/@connections/" + url.PathEscape(id), "/@connections/" + url.PathEscape(id)} {
		r := e.Do("DELETE", path, alice, nil)
		if r.Status < 400 {
			t.Fatalf("DELETE %s on the console's origin: %d, want a refusal", path, r.Status)
		}
	}
	e.Do("PUT", "/api/v1/sessions/"+s.ID+"/tags", alice, map[string]any{"tags": []string{"still"}}).Want(t, 200)
	ws.Expect("session.tags.updated", s.ID, wait)
}

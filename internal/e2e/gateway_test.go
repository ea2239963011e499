package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"streamspace/internal/runtime"
	"streamspace/internal/testenv"
	"streamspace/internal/tickets"
)

// runningTerminal starts an xterm session for tok and waits until it runs.
func runningTerminal(t testing.TB, e *testenv.Env, tok string, body map[string]any) session {
	t.Helper()
	ws := e.MustDialWS(tok, nil)
	if body == nil {
		body = map[string]any{}
	}
	body["templateName"] = "terminal"
	if _, ok := body["persistentHome"]; !ok {
		body["persistentHome"] = false
	}
	s := create(t, e, tok, body)
	t.Cleanup(func() { e.Do("DELETE", "/api/v1/sessions/"+s.ID, tok, nil) }) // quota: 5 live sessions a user
	if st, m := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("terminal session: %s (%v), want running", st, m.Data)
	}
	return s
}

// The first acceptance points: the owner sees the desktop through the gateway; a
// control user's keys reach it (a command creates a file), a view user's do not (no file, the
// desktop unchanged) and the view stream stays open.
func TestGatewayLevelsReachTheDesktop(t *testing.T) {
	e := startLocal(t)
	alice, bob, carol := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", "")
	seen(t, e, bob, carol)
	s := runningTerminal(t, e, alice, nil)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "control"}).Want(t, 201)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view"}).Want(t, 201)

	owner := openViewer(t, e, alice, s.ID)
	if err := owner.frame(1, 30*time.Second); err != nil {
		t.Fatalf("the owner's view of the terminal: %v", err)
	}
	home := e.Runtime.Home(runtime.Spec{SessionID: s.ID, OwnerID: "alice", TemplateName: "terminal"})

	watcher := openViewer(t, e, carol, s.ID)
	if err := watcher.frame(1, 30*time.Second); err != nil {
		t.Fatalf("the view user's picture: %v", err)
	}
	before := append([]byte(nil), watcher.fb.Image.Pix...)
	watcher.typeText("touch view-was-here\n")
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(filepath.Join(home, "view-was-here")); err == nil {
		t.Fatal("a view-level viewer's keys reached the desktop: the file exists")
	}
	if err := watcher.alive(); err != nil {
		t.Fatalf("the view stream after typing: %v (it must stay open)", err)
	}
	if changed := diffPixels(before, watcher.fb.Image.Pix); changed > 0 {
		t.Fatalf("the desktop changed after the view user typed (%d bytes differ)", changed)
	}

	controller := openViewer(t, e, bob, s.ID)
	if err := controller.frame(1, 30*time.Second); err != nil {
		t.Fatalf("the control user's picture: %v", err)
	}
	name := fmt.Sprintf("control-was-here-%d", time.Now().UnixNano())
	controller.typeText("touch " + name + "\n")
	waitUntil(t, 10*time.Second, "the control user's command created its file", func() bool {
		_, err := os.Stat(filepath.Join(home, name))
		return err == nil
	})
	var got struct{ ActiveConnections int }
	e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &got)
	if got.ActiveConnections != 3 {
		t.Fatalf("activeConnections %d with three open streams, want 3", got.ActiveConnections)
	}
	var cols struct{ Items []struct{ UserID string } }
	e.Do("GET", "/api/v1/sessions/"+s.ID+"/collaborators", alice, nil).Want(t, 200).Decode(t, &cols)
	if len(cols.Items) != 3 {
		t.Fatalf("collaborators %+v, want alice, bob and carol", cols.Items)
	}
	controller.conn.Close()
	waitUntil(t, 10*time.Second, "a closed stream leaves the count", func() bool {
		e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &got)
		return got.ActiveConnections == 2
	})
}

func diffPixels(a, b []byte) int {
	if len(a) != len(b) {
		return max(len(a), len(b))
	}
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

// closesWithin5s is the promise: a stream whose access ends closes within 5 s (the
// gateway re-checks every 2 s, each check bounded by 3 s), with a reason. The time is logged
// against the promise and measured alone by make bench; the test waits up to 20 s for the close.
func closesWithin5s(t *testing.T, e *testenv.Env, v *viewer, what string, wantCode int) {
	t.Helper()
	code, reason, took := v.closedWithin(20 * time.Second)
	if code != wantCode {
		t.Fatalf("%s: stream closed with %d %q after %s, want %d", what, code, reason, took.Round(time.Millisecond), wantCode)
	}
	testenv.Target(t, fmt.Sprintf("%s: closed with %d %q", what, code, reason), took, 5*time.Second)
}

// Every way access ends closes the live stream within 5 s, and the old link opens nothing.
func TestGatewayClosesStreamsWhoseAccessEnded(t *testing.T) {
	e := startLocal(t)
	alice, bob, carol, admin := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", ""), e.Token("root", "admin")
	seen(t, e, bob, carol)

	t.Run("share revoked", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		var sh struct{ ID string }
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "control"}).Want(t, 201).Decode(t, &sh)
		connect, _ := connectURL(t, e, bob, s.ID)
		v := openTicket(t, e, s.ID, ticketOf(t, connect))
		e.Do("DELETE", "/api/v1/sessions/"+s.ID+"/shares/"+sh.ID, alice, nil).Want(t, 204)
		closesWithin5s(t, e, v, "share revoked", 4403)
		// The old link: refused, now for want of access (before it would be for having been used).
		refusedWith(t, e, s.ID, ticketOf(t, connect), 4403)
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/connect", bob, nil).Want(t, 404)
	})
	t.Run("share downgraded", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "control"}).Want(t, 201)
		v := openViewer(t, e, bob, s.ID)
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 200)
		closesWithin5s(t, e, v, "share lowered to view", 4403)
	})
	t.Run("collaborator removed", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "collaborate"}).Want(t, 201)
		v := openViewer(t, e, bob, s.ID)
		e.Do("DELETE", "/api/v1/sessions/"+s.ID+"/collaborators/bob", alice, nil).Want(t, 204)
		closesWithin5s(t, e, v, "collaborator removed", 4409)
	})
	t.Run("team member removed", func(t *testing.T) {
		var team struct{ ID string }
		e.Do("POST", "/api/v1/teams", alice, map[string]string{"name": "gw-" + time.Now().Format("150405.000")}).Want(t, 201).Decode(t, &team)
		e.Do("POST", "/api/v1/teams/"+team.ID+"/members", alice, map[string]string{"userId": "bob", "role": "member"}).Want(t, 201)
		s := runningTerminal(t, e, alice, map[string]any{"teamId": team.ID})
		v := openViewer(t, e, bob, s.ID)
		e.Do("DELETE", "/api/v1/teams/"+team.ID+"/members/bob", alice, nil).Want(t, 204)
		closesWithin5s(t, e, v, "team member removed", 4403)
	})
	t.Run("transferred", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		v := openViewer(t, e, alice, s.ID)
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer", alice, map[string]string{"newOwnerUserId": "bob"}).Want(t, 202)
		e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200) // an offer moves nothing
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer/accept", bob, nil).Want(t, 200)
		closesWithin5s(t, e, v, "transferred away", 4403)
	})
	t.Run("platform role removed", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		e.Do("PUT", "/api/v1/users/carol/role", admin, map[string]string{"role": "operator"}).Want(t, 200)
		v := openViewer(t, e, carol, s.ID) // operators may watch any session
		e.Do("PUT", "/api/v1/users/carol/role", admin, map[string]string{"role": "user"}).Want(t, 200)
		closesWithin5s(t, e, v, "operator role removed", 4403)
	})
	t.Run("API key revoked", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		var key struct{ ID, Key string }
		e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "viewer", "scopes": []string{"sessions:read", "sessions:write"}}).Want(t, 201).Decode(t, &key)
		v := openViewer(t, e, key.Key, s.ID)
		e.Do("POST", "/api/v1/api-keys/"+key.ID+"/revoke", alice, nil).Want(t, 200)
		closesWithin5s(t, e, v, "API key revoked", 4403)
	})
	t.Run("hibernated", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		v := openViewer(t, e, alice, s.ID)
		e.Do("PATCH", "/api/v1/sessions/"+s.ID, alice, map[string]string{"desiredState": "hibernated"}).Want(t, 200)
		closesWithin5s(t, e, v, "hibernated", 4404)
	})
	t.Run("terminated", func(t *testing.T) {
		s := runningTerminal(t, e, alice, nil)
		v := openViewer(t, e, alice, s.ID)
		e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200)
		closesWithin5s(t, e, v, "terminated", 4404)
	})
}

// A ticket works once, for 60 s, for its own session and user; anything else is refused with a
// clear reason and never shows a desktop.
func TestGatewayRefusesBadTickets(t *testing.T) {
	e := startLocal(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	s := runningTerminal(t, e, alice, nil)
	other := runningTerminal(t, e, alice, nil)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)

	connect, _ := connectURL(t, e, alice, s.ID)
	ticket := ticketOf(t, connect)
	v := openTicket(t, e, s.ID, ticket)
	if r := refusedWith(t, e, s.ID, ticket, 4409); !strings.Contains(r, "used already") {
		t.Errorf("second use: reason %q", r)
	}
	if err := v.alive(); err != nil {
		t.Fatalf("the first stream after its ticket was reused: %v", err)
	}

	claims, err := e.App.Tickets.Verify(ticketOf(t, mustConnect(t, e, alice, s.ID)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	expired := claims
	expired.ExpiresAt = time.Now().Add(-time.Second).Unix()
	refusedWith(t, e, s.ID, sign(t, e, expired), 4402)

	fresh := ticketOf(t, mustConnect(t, e, alice, s.ID))
	tampered := []byte(fresh)
	i := strings.LastIndexByte(fresh, '.') - 3
	tampered[i] ^= 1
	refusedWith(t, e, s.ID, string(tampered), 4401)
	refusedWith(t, e, other.ID, fresh, 4401) // a ticket for s at other's address
	refusedWith(t, e, s.ID, "not-a-ticket", 4401)
	refusedWith(t, e, s.ID, "", 4401)

	// A ticket naming bob for a connection issued to alice: the connection is not his.
	forged := claims
	forged.UserID, forged.Level, forged.ConnectionID = "bob", "view", mustConnID(t, e, alice, s.ID)
	refusedWith(t, e, s.ID, sign(t, e, forged), 4409)
	// bob's view ticket claiming control: signed tickets cannot be edited, so only a forged one
	// could say so, and even then his access is re-checked.
	bobs, err := e.App.Tickets.Verify(ticketOf(t, mustConnect(t, e, bob, s.ID)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bobs.Level = "control"
	refusedWith(t, e, s.ID, sign(t, e, bobs), 4403)
}

func mustConnect(t *testing.T, e *testenv.Env, tok, id string) string {
	u, _ := connectURL(t, e, tok, id)
	return u
}

func mustConnID(t *testing.T, e *testenv.Env, tok, id string) string {
	_, c := connectURL(t, e, tok, id)
	return c
}

func sign(t *testing.T, e *testenv.Env, c tickets.Claims) string {
	tk, err := e.App.Tickets.Sign(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// No desktop secret leaves the platform: the session's VNC password appears in no API
// response, event, activity entry or log line, and the tickets (which are credentials too)
// appear in no log line, event or activity entry, over a whole life: start, streams at two
// levels, hibernate, wake, terminate.
func TestNoDesktopSecretLeavesThePlatform(t *testing.T) {
	e := startLocal(t)
	alice, bob, root := e.Token("alice", ""), e.Token("bob", ""), e.Token("root", "admin")
	seen(t, e, bob)
	ownerWS := e.MustDialWS(alice, nil)
	adminWS := e.MustDialWS(root, nil)
	s := runningTerminal(t, e, alice, nil)
	p := "/api/v1/sessions/" + s.ID
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)

	var issued []string
	for _, tok := range []string{alice, bob} {
		connect, _ := connectURL(t, e, tok, s.ID)
		issued = append(issued, ticketOf(t, connect))
		v := openTicket(t, e, s.ID, issued[len(issued)-1])
		if err := v.frame(1, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		v.conn.Close()
	}
	se, err := e.App.SessionStore().Get(context.Background(), s.ID)
	if err != nil || se.Runtime == nil || len(se.Runtime.Secret) < 8 {
		t.Fatalf("the session's runtime: %+v %v", se.Runtime, err)
	}
	secret := se.Runtime.Secret
	e.Do("PATCH", p, alice, map[string]string{"desiredState": "hibernated"}).Want(t, 200)
	waitState(t, e, alice, s.ID, "hibernated")
	e.Do("PATCH", p, alice, map[string]string{"desiredState": "running"}).Want(t, 200)
	waitState(t, e, alice, s.ID, "running")
	connect, _ := connectURL(t, e, alice, s.ID)
	issued = append(issued, ticketOf(t, connect))
	e.Do("DELETE", p, alice, nil).Want(t, 200)
	waitState(t, e, alice, s.ID, "terminated")
	time.Sleep(time.Second) // the last stream records reach the consumers
	waitActivity(t, e, alice, p+"/activity/timeline?limit=500", 8)
	e.Do("GET", p+"/activity/timeline?limit=500", alice, nil).Want(t, 200)
	e.Do("GET", p+"/collaborators", alice, nil).Want(t, 200)

	var events strings.Builder
	for _, ws := range []*testenv.WS{ownerWS, adminWS} {
		for _, m := range ws.Drain(100 * time.Millisecond) {
			events.Write(m.Raw)
		}
	}
	places := map[string]string{"API responses": e.Responses.String(), "events": events.String(), "logs": e.Logs.String()}
	if events.Len() == 0 || !strings.Contains(places["API responses"], "connection.opened") {
		t.Fatalf("nothing to search: %d bytes of events, activity without connection.opened", events.Len())
	}
	for where, text := range places {
		if strings.Contains(text, secret) {
			t.Errorf("the session's VNC password is in the %s", where)
		}
		if where == "API responses" {
			continue // connect answers carry the tickets: that is their purpose
		}
		for _, tk := range issued {
			if strings.Contains(text, tk) || strings.Contains(text, tk[strings.LastIndexByte(tk, '.')+1:]) {
				t.Errorf("a ticket is in the %s", where)
			}
		}
	}
}

func waitState(t *testing.T, e *testenv.Env, tok, id, want string) {
	t.Helper()
	waitUntil(t, startWait, "the session is "+want, func() bool {
		var got session
		e.Do("GET", "/api/v1/sessions/"+id, tok, nil).Want(t, 200).Decode(t, &got)
		return got.State == want
	})
}

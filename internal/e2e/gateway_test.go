package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"streamspace/internal/runtime"
	"streamspace/internal/testenv"
)

// runningTerminal starts an xterm session for tok and waits until it runs.
func runningTerminal(t *testing.T, e *testenv.Env, tok string, body map[string]any) session {
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
	_ = strings.TrimSpace
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

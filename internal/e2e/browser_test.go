package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"streamspace/internal/runtime"
	"streamspace/internal/testenv"
)

// browser is a headless Chromium (Debian's) for one test; each call is a separate profile,
// as two people on two machines.
func browser(t testing.TB) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is needed: sudo apt-get install -y chromium (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	return bctx
}

// openDesktop opens a connect URL and waits for the viewer to be connected.
func openDesktop(t *testing.T, ctx context.Context, connect string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Navigate(connect)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(window.streamspace || {}).state === "connected"`,
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
		t.Fatalf("the viewer did not connect: %v (status %q)", err, status)
	}
	if frag, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`)); frag != "" {
		t.Fatalf("the ticket stayed in the address bar: %q", frag)
	}
}

// typeInto clicks the desktop at its top left (where xterm is) and types.
func typeInto(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.MouseClickXY(200, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.KeyEvent(text)); err != nil {
		t.Fatal(err)
	}
}

// In a real browser through the real noVNC client: the owner's keys reach the xterm; a view
// user's do not, even when his page is tampered to send them; revoking his share turns his
// page into "access ended" within 5 s.
func TestBrowserViewerLevelsAndRevocation(t *testing.T) {
	e := startLocal(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	s := runningTerminal(t, e, alice, nil)
	home := e.Runtime.Home(rtSpec(s.ID, "alice"))
	var sh struct{ ID string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201).Decode(t, &sh)

	owner := browser(t)
	connect, _ := connectURL(t, e, alice, s.ID)
	openDesktop(t, owner, connect)
	name := fmt.Sprintf("typed-in-chromium-%d", time.Now().UnixNano())
	typeInto(t, owner, "touch "+name+"\n")
	waitUntil(t, 15*time.Second, "the owner's keys, typed in Chromium, created the file", func() bool {
		_, err := os.Stat(filepath.Join(home, name))
		return err == nil
	})
	shot, err := canvasPNG(owner)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the owner's desktop: %s", saveShot(t, "gateway-owner-xterm", shot))

	viewer := browser(t)
	connect, _ = connectURL(t, e, bob, s.ID)
	openDesktop(t, viewer, connect)
	if vo, _ := chromedp.Run(viewer, chromedp.Evaluate[bool](`window.streamspace.rfb.viewOnly`)); !vo {
		t.Fatal("a view ticket's page does not start view-only")
	}
	// bob tampers with his page so it sends input: the gateway still drops it.
	if _, err := chromedp.Run(viewer, chromedp.Evaluate[bool](`window.streamspace.rfb.viewOnly = false`)); err != nil {
		t.Fatal(err)
	}
	typeInto(t, viewer, "touch bob-was-here\n")
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(filepath.Join(home, "bob-was-here")); err == nil {
		t.Fatal("a view user's keys reached the desktop from the browser")
	}
	if st, _ := chromedp.Run(viewer, chromedp.Evaluate[string](`window.streamspace.state`)); st != "connected" {
		t.Fatalf("the view user's page after typing: %q, want still connected", st)
	}

	e.Do("DELETE", "/api/v1/sessions/"+s.ID+"/shares/"+sh.ID, alice, nil).Want(t, 204)
	start := time.Now()
	if _, err := chromedp.Run(viewer, chromedp.Poll[bool](`window.streamspace.state === "closed"`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("bob's page after the revoke: %v", err)
	}
	took := time.Since(start)
	text, _ := chromedp.Run(viewer, chromedp.Evaluate[string](`document.getElementById("status").textContent`))
	code, _ := chromedp.Run(viewer, chromedp.Evaluate[int](`window.streamspace.code`))
	if code != 4403 || !containsAll(text, "access", "ended") {
		t.Fatalf("bob's page %s after the revoke: code %d, %q; want 4403 and the words", took, code, text)
	}
	testenv.Target(t, "bob's page said access ended", took, 5*time.Second)
	if page, err := chromedp.Run(viewer, chromedp.CaptureScreenshot()); err == nil {
		t.Logf("bob's page %s after the revoke: %q (%s)", took.Round(time.Millisecond), text, saveShot(t, "gateway-access-ended", page))
	}
	if st, _ := chromedp.Run(owner, chromedp.Evaluate[string](`window.streamspace.state`)); st != "connected" {
		t.Fatalf("alice's page after bob's revoke: %q, want still connected", st)
	}
}

func containsAll(s string, words ...string) bool {
	for _, w := range words {
		if !strings.Contains(strings.ToLower(s), w) {
			return false
		}
	}
	return true
}

func rtSpec(id, owner string) runtime.Spec {
	return runtime.Spec{SessionID: id, OwnerID: owner, TemplateName: "terminal"}
}

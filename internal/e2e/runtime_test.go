package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"streamspace/internal/local/stack"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// startWait bounds how long a local session may take to start on a loaded 2-core CI machine.
const startWait = 60 * time.Second

func withLocalRuntime(c *stack.Config) { c.LocalRuntime = true }

// startLocal brings up a stack with the local runtime; a failing test shows the runtime's logs.
func startLocal(t *testing.T) *testenv.Env {
	e := testenv.Start(t, withLocalRuntime)
	t.Cleanup(func() {
		if t.Failed() {
			for _, line := range strings.Split(e.Logs.String(), "\n") {
				if strings.Contains(line, "runtime") || strings.Contains(line, "recording") || strings.Contains(line, `"level":"ERROR"`) {
					t.Log(line)
				}
			}
		}
	})
	return e
}

// stateChange waits for the session's next state change and returns the new state.
func stateChange(t testing.TB, ws *testenv.WS, id string, within time.Duration) (string, testenv.Message) {
	t.Helper()
	m := ws.Expect("session.state.changed", id, within)
	st, _ := m.Data["state"].(string)
	return st, m
}

// The walk-through: a Firefox session really runs, a browser shows it through noVNC,
// hibernate stops every process and keeps the home, wake brings it back with the same home,
// terminate cleans everything up, and the owner's WebSocket client sees each state change.
func TestLocalRuntimeFirefoxLifecycle(t *testing.T) {
	e := startLocal(t)
	alice, admin := e.Token("alice", ""), e.Token("root", "admin")
	ws := e.MustDialWS(alice, nil)
	// Without a persistent home, the home lives and dies with the session.
	s := create(t, e, alice, map[string]any{"templateName": "firefox-browser", "persistentHome": false})
	created := time.Now()
	if st, m := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("first state change: %s (%v), want running", st, m.Data)
	}
	t.Logf("create → running in %s", time.Since(created).Round(time.Millisecond))

	var got session
	e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &got)
	if got.State != "running" || got.URL != e.GatewayURL+"/s/"+s.ID {
		t.Fatalf("running session: state %s url %q (want the gateway's viewer page, without secrets)", got.State, got.URL)
	}
	var conn struct{ URL, PermissionLevel string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/connect", alice, nil).Want(t, 200).Decode(t, &conn)
	if !strings.HasPrefix(conn.URL, got.URL+"#ticket=") || conn.PermissionLevel != "control" {
		t.Fatalf("owner's connect URL %q (%s): want the viewer page with a ticket in the fragment", conn.URL, conn.PermissionLevel)
	}
	shot := screenshot(t, conn.URL)
	if err := notBlank(shot); err != nil {
		t.Fatalf("the noVNC screen: %v (screenshot in %s)", err, saveShot(t, "firefox-running", shot))
	}
	t.Logf("screenshot of the running session: %s", saveShot(t, "firefox-running", shot))

	// Usage comes from the session's processes and everything they started.
	e.ReportUsage(context.Background())
	time.Sleep(300 * time.Millisecond)
	e.ReportUsage(context.Background())
	var used struct {
		Usage *struct{ CPUMillis, MemoryMiB int }
	}
	e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &used)
	if used.Usage == nil || used.Usage.MemoryMiB < 50 {
		t.Fatalf("usage of a running Firefox session: %+v, want its resident memory (> 50 MiB)", used.Usage)
	}
	t.Logf("usage: %+v", *used.Usage)

	// A viewer with view access gets a view ticket: the gateway, not the URL, limits it.
	bob := e.Token("bob", "")
	seen(t, e, bob)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)
	var viewer struct{ URL, PermissionLevel string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/connect", bob, nil).Want(t, 200).Decode(t, &viewer)
	if viewer.PermissionLevel != "view" || ticketOf(t, viewer.URL) == ticketOf(t, conn.URL) {
		t.Fatalf("viewer's connect %+v: want a view ticket of his own", viewer)
	}

	spec := runtime.Spec{SessionID: s.ID, OwnerID: "alice"}
	home := e.Runtime.Home(spec)
	pids := e.Runtime.Processes(s.ID)
	if len(pids) != 3 {
		t.Fatalf("processes of a running session: %v, want display, app and VNC server", pids)
	}
	// Firefox keeps its profile in ~/.mozilla, or in ~/.config/mozilla since it follows XDG.
	_, errOld := os.Stat(filepath.Join(home, ".mozilla"))
	if _, err := os.Stat(filepath.Join(home, ".config", "mozilla")); err != nil && errOld != nil {
		t.Fatalf("Firefox did not run with the session's home %s: %v", home, err)
	}
	if err := os.WriteFile(filepath.Join(home, "notes.txt"), []byte("kept across hibernation"), 0o600); err != nil {
		t.Fatal(err)
	}

	e.Do("PATCH", "/api/v1/sessions/"+s.ID, alice, map[string]string{"desiredState": "hibernated"}).Want(t, 200)
	if st, m := stateChange(t, ws, s.ID, startWait); st != "hibernated" {
		t.Fatalf("after hibernate: %s (%v)", st, m.Data)
	}
	assertGone(t, pids)

	e.Do("PATCH", "/api/v1/sessions/"+s.ID, alice, map[string]string{"desiredState": "running"}).Want(t, 200)
	if st, m := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("after wake: %s (%v)", st, m.Data)
	}
	if b, err := os.ReadFile(filepath.Join(home, "notes.txt")); err != nil || string(b) != "kept across hibernation" {
		t.Fatalf("home after wake: %q, %v", b, err)
	}
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/connect", alice, nil).Want(t, 200).Decode(t, &conn)
	if err := notBlank(screenshot(t, conn.URL)); err != nil {
		t.Fatalf("the woken session's screen: %v", err)
	}
	pids = e.Runtime.Processes(s.ID)
	e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &got)

	e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200)
	if st, _ := stateChange(t, ws, s.ID, startWait); st != "terminated" {
		t.Fatalf("after delete: %s", st)
	}
	waitUntil(t, startWait, "the session's folder is removed", func() bool {
		_, err := os.Stat(e.Runtime.SessionDir(s.ID))
		return os.IsNotExist(err)
	})
	assertGone(t, pids)
	_ = admin
}

// A template whose program is not installed fails its session with the install command.
func TestLocalRuntimeMissingProgramFailsWithInstallCommand(t *testing.T) {
	e := startLocal(t)
	admin, alice := e.Token("root", "admin"), e.Token("alice", "")
	e.Do("POST", "/api/v1/templates", admin, map[string]any{"name": "missing-app", "displayName": "Missing", "category": "Test",
		"image": "example/missing", "localCommand": "streamspace-no-such-program --flag",
		"defaultResources": map[string]string{"cpu": "250m", "memory": "256Mi"}}).Want(t, 201)
	ws := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "missing-app"})
	st, m := stateChange(t, ws, s.ID, startWait)
	reason, _ := m.Data["error"].(string)
	if st != "failed" || !strings.Contains(reason, "sudo apt-get install -y streamspace-no-such-program") {
		t.Fatalf("state %s, reason %q: want failed naming the install command", st, reason)
	}
}

// An application that ends on its own fails its session with a reason, and terminating the
// failed session removes its folder.
func TestLocalRuntimeApplicationExitFailsSession(t *testing.T) {
	e := startLocal(t)
	admin, alice := e.Token("root", "admin"), e.Token("alice", "")
	e.Do("POST", "/api/v1/templates", admin, map[string]any{"name": "short-lived", "displayName": "Short", "category": "Test",
		"image": "example/short", "localCommand": "sleep 2",
		"defaultResources": map[string]string{"cpu": "250m", "memory": "256Mi"}}).Want(t, 201)
	ws := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "short-lived"})
	if st, m := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("first state: %s (%v)", st, m.Data)
	}
	st, m := stateChange(t, ws, s.ID, startWait)
	if reason, _ := m.Data["error"].(string); st != "failed" || !strings.Contains(reason, "app was closed") {
		t.Fatalf("after the app exited: %s (%v), want failed: app was closed", st, m.Data)
	}
	if len(e.Runtime.Processes(s.ID)) != 0 {
		t.Fatalf("processes left after the app exited: %v", e.Runtime.Processes(s.ID))
	}
	e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200)
	waitUntil(t, startWait, "the failed session's folder is removed", func() bool {
		_, err := os.Stat(e.Runtime.SessionDir(s.ID))
		return os.IsNotExist(err)
	})
}

func waitUntil(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not true within %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertGone checks that none of the session's processes lives.
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	waitUntil(t, 10*time.Second, "every process of the session ended", func() bool {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				return false
			}
		}
		return true
	})
}

// screenshot opens the URL in headless Chromium, waits for the viewer page to report it is
// connected and for the remote screen to be drawn, and returns a PNG of the page.
func screenshot(t *testing.T, pageURL string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is needed: sudo apt-get install -y chromium (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	_, err = chromedp.Run(bctx, chromedp.Navigate(pageURL))
	if err == nil {
		_, err = chromedp.Run(bctx, chromedp.Poll[bool](`(window.streamspace || {}).state === "connected"`,
			chromedp.WithPollingTimeout(45*time.Second)))
	}
	if err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.getElementById("status") || {}).textContent || ""`))
		t.Fatalf("the viewer did not connect to %s: %v (status %q)", pageURL, err, status)
	}
	// The application paints a moment after the connection: take shots of the desktop's canvas
	// (not the page around it, whose own colours would pass for content) until one is not blank.
	deadline := time.Now().Add(45 * time.Second)
	for {
		shot, err := canvasPNG(bctx)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if notBlank(shot) == nil || time.Now().After(deadline) {
			return shot
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// notBlank says whether a screenshot shows a desktop with content. An empty display has one
// colour; the viewer page while connecting, or refusing, has 66–87 colours (5 bits each) with
// one covering 95 %. A desktop has either no colour that dominates (xterm: 76 colours, 62 %) or
// much detail (Firefox's home page fills the screen: 1,231 colours, its background 91 %).
func notBlank(pngBytes []byte) error {
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return err
	}
	counts := map[uint32]int{}
	b := img.Bounds()
	total := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[(r>>11)<<10|(g>>11)<<5|bl>>11]++
			total++
		}
	}
	top := 0
	for _, n := range counts {
		top = max(top, n)
	}
	if len(counts) < 16 || float64(top)/float64(total) > 0.9 && len(counts) < 256 {
		return fmt.Errorf("blank: %d colours, the commonest covers %.0f%%", len(counts), 100*float64(top)/float64(total))
	}
	return nil
}

func saveShot(t testing.TB, name string, b []byte) string {
	dir := os.Getenv("STREAMSPACE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name+".png")
	_ = os.WriteFile(p, b, 0o644)
	return p
}

// flakyDriver fails the first starts with a transient error (a platform outage), then works.
type flakyDriver struct {
	runtime.Driver
	mu       sync.Mutex
	failures int
	starts   int
}

func (f *flakyDriver) Start(ctx context.Context, spec runtime.Spec) (runtime.Observation, error) {
	f.mu.Lock()
	f.starts++
	fail := f.starts <= f.failures
	f.mu.Unlock()
	if fail {
		return runtime.Observation{}, errors.New("injected: the platform is unavailable")
	}
	return f.Driver.Start(ctx, spec)
}

// Regression 28: with the original's message bus down, creates were accepted and the session
// stayed pending forever. Here the stream keeps the start until the runtime can act: after an
// outage the session runs, started once.
func TestRegression28SessionStartsAfterRuntimeOutage(t *testing.T) {
	flaky := &flakyDriver{failures: 2}
	e := testenv.Start(t, withLocalRuntime, func(c *stack.Config) {
		c.WrapRuntime = func(d runtime.Driver) runtime.Driver { flaky.Driver = d; return flaky }
	})
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "terminal", "persistentHome": false})
	if st, m := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("after the outage: %s (%v), want running", st, m.Data)
	}
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if flaky.starts != 3 {
		t.Fatalf("driver starts: %d, want 2 failed + 1", flaky.starts)
	}
	if got := len(e.Runtime.Processes(s.ID)); got != 3 {
		t.Fatalf("processes: %d, want 3", got)
	}
	if dl := e.DeadLetters(); len(dl) != 0 {
		t.Fatalf("dead letters: %v", dl)
	}
}

// BenchmarkLocalCreateToRunning prints how long a Firefox session takes from POST /sessions to
// the owner's "running" event on this machine (median of several, each terminated after).
func BenchmarkLocalCreateToRunning(b *testing.B) {
	n := benchN("BENCH_SESSIONS", 5)
	e := testenv.Start(b, withLocalRuntime)
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < n; i++ {
		start := time.Now()
		s := create(b, e, alice, map[string]any{"templateName": "firefox-browser", "persistentHome": false})
		for {
			m := ws.Expect("session.state.changed", s.ID, startWait)
			if m.Data["state"] == "running" {
				took = append(took, m.Received.Sub(start))
				break
			}
			if m.Data["state"] == "failed" {
				b.Fatalf("session failed: %v", m.Data)
			}
		}
		e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(b, 200)
		ws.Expect("session.state.changed", s.ID, startWait)
	}
	b.StopTimer()
	fmt.Printf("local create → running (firefox-browser) over %d sessions: median %s  min %s  max %s\n",
		n, ms(percentile(took, .5)), ms(percentile(took, 0)), ms(percentile(took, 1)))
	b.ReportMetric(float64(percentile(took, .5).Milliseconds()), "median-ms")
}

// An observer's write (a task event, an ended process) is conditional on the runtime it read:
// when the reconciler has acted since, the stale observation is refused and changes nothing.
func TestStaleRuntimeObservationIsRefused(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	ctx := runtime.WithActor(context.Background())
	svc := e.App.Sessions()
	first := sessions.Runtime{Action: sessions.ActionStart, Handle: "task/1", Secret: "c"}
	if _, err := svc.ApplyRuntime(ctx, runtime.Caller, s.ID, sessions.RuntimeUpdate{Runtime: first}); err != nil {
		t.Fatal(err)
	}
	// The reconciler hibernates: a new action on the same task.
	second := first
	second.Action = sessions.ActionHibernate
	if _, err := svc.ApplyRuntime(ctx, runtime.Caller, s.ID, sessions.RuntimeUpdate{Runtime: second, Expect: &first}); err != nil {
		t.Fatalf("write expecting the current runtime: %v", err)
	}
	// A task event that read the first state reports running: refused, nothing written.
	_, err := svc.ApplyRuntime(ctx, runtime.Caller, s.ID, sessions.RuntimeUpdate{Runtime: first, Expect: &first,
		Report: &sessions.StatusReport{State: "running", URL: "http://10.0.0.1:3000/"}})
	if !errors.Is(err, sessions.ErrRuntimeChanged) {
		t.Fatalf("stale observation: %v, want ErrRuntimeChanged", err)
	}
	got, err := svc.Store.Get(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "pending" || got.Runtime == nil || got.Runtime.Action != sessions.ActionHibernate {
		t.Fatalf("after the stale observation: state %s runtime %+v", got.State, got.Runtime)
	}
}

// canvasPNG is what the viewer's canvas shows: the remote desktop as the person sees it.
func canvasPNG(ctx context.Context) ([]byte, error) {
	data, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#screen canvas").toDataURL("image/png")`))
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(data, "data:image/png;base64,"))
}

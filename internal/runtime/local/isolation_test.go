package local

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"streamspace/internal/desktop"
	"streamspace/internal/desktop/vncclient"
	"streamspace/internal/runtime"
	"streamspace/internal/testenv/tier"
)

// The test binary doubles as an X11 client run as a session user (x11Probe).
func TestMain(m *testing.M) {
	if probe, ok := os.LookupEnv("STREAMSPACE_X11_PROBE"); ok {
		display, cookieHex, _ := strings.Cut(probe, " ")
		cookie, _ := hex.DecodeString(cookieHex)
		if cookieHex == "" {
			cookie = nil
		}
		if err := desktop.OpenDisplay(display, cookie); err != nil {
			fmt.Println(err)
			if errors.Is(err, desktop.ErrRefused) {
				os.Exit(3)
			}
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("session users need a root stack (make test runs as root)")
	}
}

func needPrograms(t *testing.T, names ...string) {
	t.Helper()
	tier.Integration(t, strings.Join(names, ", "))
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: make test installs it (make runtime-packages, or sudo apt-get install -y the Debian package)", n)
		}
	}
}

// procUser is the real uid and gid of a running process.
func procUser(t *testing.T, pid int) *syscall.Credential {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid uint32
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "Uid:" {
			v, _ := strconv.Atoi(f[1])
			uid = uint32(v)
		}
		if len(f) > 1 && f[0] == "Gid:" {
			v, _ := strconv.Atoi(f[1])
			gid = uint32(v)
		}
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
}

// runAs runs a program as a user and returns its output and error.
func runAs(user *syscall.Credential, env []string, args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: user}
	cmd.Env, cmd.Dir = env, "/"
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// x11Probe opens a display as a user, with a cookie (nil: none): nil when the server accepts.
func x11Probe(t *testing.T, exe string, user *syscall.Credential, display string, cookie []byte) error {
	t.Helper()
	out, err := runAs(user, []string{"STREAMSPACE_X11_PROBE=" + display + " " + hex.EncodeToString(cookie)}, exe)
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// probeBinary copies the test binary where session users can run it.
func probeBinary(t *testing.T, dir string) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "probe")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func cookieOf(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[len(b)-16:]
}

// screenDrawn reads a session's screen through its VNC socket until it is not blank and shows
// at least minColours colours.
func screenDrawn(t *testing.T, upstream, password string, minColours int, within time.Duration) error {
	t.Helper()
	c, err := vncclient.Dial("unix", strings.TrimPrefix(upstream, "unix:"), password)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline := time.Now().Add(within)
	for {
		img, err := c.Screen(30 * time.Second)
		if err != nil {
			return err
		}
		if err = vncclient.NotBlank(img); err == nil && vncclient.Colours(img) < minColours {
			err = fmt.Errorf("%d colours, want at least %d", vncclient.Colours(img), minColours)
		}
		if err == nil || time.Now().After(deadline) {
			vncclient.SaveShot(os.Getenv("STREAMSPACE_SCREENSHOTS"), t.Name(), img)
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Issue 12, point 5: a terminal session is no root shell on the host any more. Its processes
// run as unprivileged users of its own; its user can read neither the stack's data (the
// issuer's key that mints admin tokens, the ticket keys, DynamoDB's files) nor another
// session's home, logs or VNC password, and another session cannot open its display.
func TestSessionsAreIsolated(t *testing.T) {
	needRoot(t)
	needPrograms(t, "Xvfb", "x11vnc", "xterm")
	data := tempDir(t)
	secrets := map[string]string{"issuer-key.pem": "KEY", "ticket-keys.json": "{}", "streamspace.log": "log",
		"dynamodb/shared-local-instance.db": "db"}
	for name, body := range secrets {
		p := filepath.Join(data, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := &Driver{Dir: filepath.Join(data, "runtime")}
	t.Cleanup(d.Close)
	if err := ProtectDataDir(data); err != nil {
		t.Fatal(err)
	}
	alice := runtime.Spec{SessionID: "sess_alice", OwnerID: "alice", TemplateName: "terminal", Command: "xterm",
		Secret: "alice123", PersistentHome: true}
	bob := runtime.Spec{SessionID: "sess_bob", OwnerID: "bob", TemplateName: "terminal", Command: "xterm", Secret: "bob12345"}
	obs := map[string]runtime.Observation{}
	for _, s := range []runtime.Spec{alice, bob} {
		o, err := d.Start(context.Background(), s)
		if err != nil {
			t.Fatalf("start %s: %v", s.SessionID, err)
		}
		obs[s.SessionID] = o
	}

	// Processes: display and VNC server as the session's display user, the application as its
	// home's user; none is root.
	users := func(id string) (app, display *syscall.Credential) {
		pids := d.Processes(id)
		if len(pids) != 3 {
			t.Fatalf("%s processes %v, want display, app and VNC server", id, pids)
		}
		xvfb, app, vnc := procUser(t, pids[0]), procUser(t, pids[1]), procUser(t, pids[2])
		if xvfb.Uid != vnc.Uid || xvfb.Uid == app.Uid || xvfb.Uid == 0 || app.Uid == 0 || app.Gid == 0 {
			t.Fatalf("%s runs as display %d, app %d:%d, VNC server %d", id, xvfb.Uid, app.Uid, app.Gid, vnc.Uid)
		}
		return app, xvfb
	}
	aliceApp, aliceDisplay := users(alice.SessionID)
	bobApp, _ := users(bob.SessionID)
	if aliceApp.Uid == bobApp.Uid {
		t.Fatalf("alice's and bob's applications share uid %d", aliceApp.Uid)
	}
	fi, err := os.Stat(d.Home(alice))
	if st := fi.Sys().(*syscall.Stat_t); err != nil || st.Uid != aliceApp.Uid || fi.Mode().Perm() != 0o700 {
		t.Fatalf("alice's home %s: %v %v, want 0700 owned by %d", d.Home(alice), fi.Mode(), err, aliceApp.Uid)
	}
	if err := screenDrawn(t, obs[alice.SessionID].Upstream, alice.Secret, 2, 30*time.Second); err != nil {
		t.Fatalf("alice's screen: %v", err)
	}

	// Files, as alice's application: her home yes (the control), nothing else.
	mine := filepath.Join(d.Home(alice), "mine.txt")
	theirs := filepath.Join(d.Home(bob), "secret.txt")
	for p, u := range map[string]*syscall.Credential{mine: aliceApp, theirs: bobApp} {
		if err := os.WriteFile(p, []byte("private"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(u.Uid), int(u.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runAs(aliceApp, nil, "cat", mine); err != nil || out != "private" {
		t.Fatalf("alice reading her own home: %q %v", out, err)
	}
	aliceDir := d.SessionDir(alice.SessionID)
	for _, args := range [][]string{
		{"cat", filepath.Join(data, "issuer-key.pem")},
		{"cat", filepath.Join(data, "ticket-keys.json")},
		{"cat", filepath.Join(data, "streamspace.log")},
		{"cat", filepath.Join(data, "dynamodb", "shared-local-instance.db")},
		{"ls", data},
		{"ls", filepath.Join(data, "runtime")},
		{"ls", filepath.Join(data, "runtime", "sessions")},
		{"cat", filepath.Join(data, "runtime", "uids.json")},
		{"cat", theirs},
		{"ls", d.Home(bob)},
		{"cat", filepath.Join(d.SessionDir(bob.SessionID), "run", desktop.XAuthorityFile)},
		{"cat", filepath.Join(aliceDir, "app.log")},
		{"ls", filepath.Join(aliceDir, "vnc")},
		{"cat", filepath.Join(aliceDir, "vnc", desktop.XAuthorityFile)},
	} {
		if out, err := runAs(aliceApp, nil, args...); err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("alice's application ran %v: %q (%v), want permission denied", args, out, err)
		}
	}
	if _, err := os.Stat(filepath.Join(aliceDir, "vnc", "vnc.passwd")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VNC password file after start: %v, want removed once read", err)
	}

	// The display, as bob's application: refused without a cookie and with bob's own; alice's
	// application with hers gets in (the control).
	probe := probeBinary(t, data)
	display := d.instances[alice.SessionID].desk.Display
	bobCookie := cookieOf(t, filepath.Join(d.SessionDir(bob.SessionID), "run", desktop.XAuthorityFile))
	aliceCookie := cookieOf(t, filepath.Join(aliceDir, "run", desktop.XAuthorityFile))
	for _, c := range [][]byte{nil, bobCookie} {
		if err := x11Probe(t, probe, bobApp, display, c); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("bob opening alice's display %s (cookie %x): %v, want refused", display, c, err)
		}
	}
	if err := x11Probe(t, probe, aliceApp, display, aliceCookie); err != nil {
		t.Errorf("alice opening her display: %v", err)
	}
	// Nor can alice's application stop her display or VNC server.
	if out, err := runAs(aliceApp, nil, "kill", "-0", strconv.Itoa(d.Processes(alice.SessionID)[0])); err == nil {
		t.Errorf("alice's application may signal her display (uid %d): %s", aliceDisplay.Uid, out)
	}

	// A job left running outside the application's process group (as a shell's `setsid cmd &`
	// would) ends with the session: nothing of alice's outlives it.
	job := exec.Command("sleep", "300")
	job.SysProcAttr = &syscall.SysProcAttr{Credential: aliceApp, Setsid: true}
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	jobDone := make(chan error, 1)
	go func() { jobDone <- job.Wait() }()

	// Terminate: alice's display uid is released (never handed out again), her persistent home
	// keeps its uid; bob runs on.
	if err := d.Terminate(context.Background(), alice); err != nil {
		t.Fatal(err)
	}
	select {
	case <-jobDone:
	case <-time.After(5 * time.Second):
		t.Error("alice's background job outlived her session")
		_ = job.Process.Kill()
	}
	b, _ := os.ReadFile(filepath.Join(data, "runtime", "uids.json"))
	if bytes.Contains(b, []byte(displayHolder(alice.SessionID))) || !bytes.Contains(b, []byte(strconv.Itoa(int(aliceApp.Uid)))) {
		t.Errorf("uids.json after alice's terminate: %s", b)
	}
	if len(d.Processes(bob.SessionID)) != 3 {
		t.Errorf("bob's processes after alice's terminate: %v", d.Processes(bob.SessionID))
	}
	// Her next session of the same template gets the same home and uid, a new display uid.
	again := alice
	again.SessionID = "sess_alice2"
	if _, err := d.Start(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	app2, display2 := users(again.SessionID)
	if app2.Uid != aliceApp.Uid || display2.Uid == aliceDisplay.Uid {
		t.Errorf("alice's second session: app %d display %d, first: app %d display %d", app2.Uid, display2.Uid, aliceApp.Uid, aliceDisplay.Uid)
	}
}

// Browsers start as session users (Chromium keeps its sandbox where user namespaces work).
func TestBrowsersRunAsSessionUsers(t *testing.T) {
	needRoot(t)
	for _, app := range []string{"chromium", "firefox-esr"} {
		t.Run(app, func(t *testing.T) {
			needPrograms(t, "Xvfb", "x11vnc", app)
			d := &Driver{Dir: filepath.Join(tempDir(t), "runtime")}
			t.Cleanup(d.Close)
			spec := runtime.Spec{SessionID: "sess_" + strings.ReplaceAll(app, "-", ""), OwnerID: "alice", TemplateName: app,
				Command: app, Secret: "browse12"}
			started := time.Now()
			obs, err := d.Start(context.Background(), spec)
			if err != nil {
				t.Fatalf("%v%s", err, logOf(err))
			}
			if err := screenDrawn(t, obs.Upstream, spec.Secret, 32, 60*time.Second); err != nil {
				log, _ := os.ReadFile(filepath.Join(d.SessionDir(spec.SessionID), "app.log"))
				t.Fatalf("%s's screen: %v\napp.log:\n%s", app, err, tail(log))
			}
			pids := d.Processes(spec.SessionID)
			if len(pids) != 3 {
				t.Fatalf("processes %v after the screen was drawn", pids)
			}
			u := procUser(t, pids[1])
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pids[1]))
			if u.Uid == 0 {
				t.Fatalf("%s runs as root", app)
			}
			t.Logf("%s drew its window in %s as uid %d (command line %q)", app, time.Since(started).Round(time.Millisecond),
				u.Uid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		})
	}
}

// logOf is the log a start failure points to.
func logOf(err error) string {
	if f, ok := runtime.AsFailure(err); ok {
		if _, path, ok := strings.Cut(f.Reason, "; see "); ok {
			b, _ := os.ReadFile(path)
			return "\n" + path + ":\n" + string(tail(b))
		}
	}
	return ""
}

func tail(b []byte) []byte {
	if len(b) > 3000 {
		return b[len(b)-3000:]
	}
	return b
}

// Without root, sessions are refused with the fix in words, unless the operator opted in.
func TestUnisolatedSessionsNeedOptIn(t *testing.T) {
	tier.Integration(t, "a session's processes")
	d := &Driver{Dir: tempDir(t), euid: func() int { return 1000 }}
	t.Cleanup(d.Close)
	spec := runtime.Spec{SessionID: "sess_unisolated", OwnerID: "alice", Command: "sleep 60", Secret: "ctrl1234"}
	_, err := d.Start(context.Background(), spec)
	if f, ok := runtime.AsFailure(err); !ok || !strings.Contains(f.Reason, "sudo make run") || !strings.Contains(f.Reason, UnisolatedEnv) {
		t.Fatalf("start without root: %v, want a failure naming sudo make run and %s", err, UnisolatedEnv)
	}
	t.Setenv(UnisolatedEnv, "1")
	if _, err := d.Start(context.Background(), spec); err != nil {
		t.Fatalf("start with %s=1: %v", UnisolatedEnv, err)
	}
	if u := procUser(t, d.Processes(spec.SessionID)[1]); u.Uid != uint32(os.Getuid()) {
		t.Fatalf("unisolated app runs as %d, want the stack's own user", u.Uid)
	}
}

// SEC-13: one persistent home per owner and template, not one per owner.
func TestPersistentHomePerOwnerAndTemplate(t *testing.T) {
	d := &Driver{Dir: "/data"}
	home := func(owner, template, session string) string {
		return d.Home(runtime.Spec{SessionID: session, OwnerID: owner, TemplateName: template, PersistentHome: true})
	}
	if home("alice", "terminal", "sess_1") != home("alice", "terminal", "sess_2") {
		t.Error("two terminal sessions of alice have different homes")
	}
	if home("alice", "terminal", "sess_1") == home("alice", "firefox-browser", "sess_1") {
		t.Error("alice's terminal and Firefox share a home")
	}
	if home("alice", "terminal", "sess_1") == home("bob", "terminal", "sess_1") {
		t.Error("alice and bob share a home")
	}
	if got := d.Home(runtime.Spec{SessionID: "sess_1", OwnerID: "alice"}); got != "/data/sessions/sess_1/home" {
		t.Errorf("ephemeral home %s", got)
	}
}

// The data folder: crossable, not listable; nothing but runtime/ readable or crossable by others.
func TestProtectDataDir(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"runtime/sessions", "objects/rec", "dynamodb"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "stream-checkpoint-x.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ProtectDataDir(dir); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{".": 0o711, "runtime": 0o755, "objects": 0o700, "dynamodb": 0o700, "stream-checkpoint-x.json": 0o600}
	for p, m := range want {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil || fi.Mode().Perm() != m {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode().Perm(), err, m)
		}
	}
}

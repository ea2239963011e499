package desktop

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"streamspace/internal/desktop/vncclient"
	"streamspace/internal/testenv/tier"
)

func needPrograms(t *testing.T, names ...string) {
	t.Helper()
	tier.Integration(t, strings.Join(names, ", "))
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is not installed: make test installs it (make runtime-packages, or sudo apt-get install -y the Debian package)", n)
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func logsTo(dir string) func(string) (io.WriteCloser, error) {
	return func(name string) (io.WriteCloser, error) {
		return os.Create(filepath.Join(dir, name+".log"))
	}
}

// The image's shape of a desktop (one user, VNC on TCP): xterm draws behind the VNC password,
// the display refuses clients without the cookie, the password file is gone once read, and Stop
// ends every process.
func TestDesktopOnTCP(t *testing.T) {
	needPrograms(t, "Xvfb", "x11vnc", "xterm")
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	d, err := Start(context.Background(), Spec{App: []string{"xterm"}, Home: dir, RunDir: run, DisplayDir: run,
		Env: []string{"PATH=" + os.Getenv("PATH")}, VNCPort: port, Password: "pw123456", Output: logsTo(dir)})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer d.Stop()

	if _, err := os.Stat(filepath.Join(run, "vnc.passwd")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("password file after x11vnc started: %v, want it removed", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if _, err := vncclient.Dial("tcp", addr, "wrong123"); !errors.Is(err, vncclient.ErrAuth) {
		t.Errorf("wrong password: %v, want refused", err)
	}
	c, err := vncclient.Dial("tcp", addr, "pw123456")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitDrawn(t, c)

	if err := OpenDisplay(d.Display, nil); !errors.Is(err, ErrRefused) {
		t.Errorf("display %s without a cookie: %v, want refused", d.Display, err)
	}
	if err := OpenDisplay(d.Display, make([]byte, 16)); !errors.Is(err, ErrRefused) {
		t.Errorf("display %s with a wrong cookie: %v, want refused", d.Display, err)
	}
	if err := OpenDisplay(d.Display, readCookie(t, filepath.Join(run, XAuthorityFile))); err != nil {
		t.Errorf("display %s with its cookie: %v", d.Display, err)
	}

	pids := d.Pids()
	if len(pids) != 3 {
		t.Fatalf("pids %v, want display, app and VNC server", pids)
	}
	d.Stop()
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d still runs after Stop", pid)
		}
	}
}

// waitDrawn reads the screen until it is not blank (the application paints a moment after it
// starts).
func waitDrawn(t *testing.T, c *vncclient.Client) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		img, err := c.Screen(30 * time.Second)
		if err != nil {
			t.Fatalf("screen: %v", err)
		}
		err = vncclient.NotBlank(img)
		if err == nil {
			vncclient.SaveShot(os.Getenv("STREAMSPACE_SCREENSHOTS"), t.Name(), img)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// readCookie takes the cookie back out of an X authority file written by WriteXAuthority.
func readCookie(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b[len(b)-16:]
}

// xauth, the X.org tool, reads the file as one wildcard entry with the cookie.
func TestXAuthorityFileReadsWithXauth(t *testing.T) {
	needPrograms(t, "xauth")
	path := filepath.Join(t.TempDir(), "auth")
	cookie := []byte("0123456789abcdef")
	if err := WriteXAuthority(path, cookie, nil); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xauth", "-f", path, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("xauth: %v %s", err, out)
	}
	if want := "#ffff##:  MIT-MAGIC-COOKIE-1  " + hex.EncodeToString(cookie); strings.TrimSpace(string(out)) != want {
		t.Fatalf("xauth list: %q, want %q", out, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode())
	}
}

// A link left where a private file goes is replaced, never written through.
func TestWritePrivateReplacesLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "file")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := writePrivate(link, []byte("new"), nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("target through the link: %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink != 0 {
		t.Fatal("still a link")
	}
}

// Firefox starts on a profile in the home whose user.js skips the first-run tabs; the profile is
// written by the shell that then becomes Firefox (here a stand-in that reports what it got).
func TestFirefoxStartsOnAQuietProfile(t *testing.T) {
	home, bin := t.TempDir(), t.TempDir()
	stub := filepath.Join(bin, "firefox-esr")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := AppArgs([]string{stub, "about:blank"}, nil, "1280x800x24")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	profile := filepath.Join(home, ".mozilla", "streamspace")
	if got := strings.TrimSpace(string(out)); got != "about:blank --width 1280 --height 800 --profile "+profile {
		t.Fatalf("Firefox ran with %q", got)
	}
	prefs, err := os.ReadFile(filepath.Join(profile, "user.js"))
	if err != nil || string(prefs) != firefoxPrefs {
		t.Fatalf("user.js: %q %v", prefs, err)
	}
	// A template that names its own profile keeps it.
	if got := AppArgs([]string{"firefox", "--profile", "/p"}, nil, ""); !slices.Equal(got, []string{"firefox", "--profile", "/p"}) {
		t.Fatalf("explicit profile: %q", got)
	}
}

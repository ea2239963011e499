package local

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"streamspace/internal/runtime"
	"streamspace/internal/testenv/tier"
)

// tempDir is a test folder that session users can reach, with a path short enough for the
// sessions' Unix sockets (t.TempDir's parent is 0700 and named after the test).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ss")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

// asStack lets a test run sessions whoever runs it: as root isolated, otherwise unisolated.
func asStack(t *testing.T) {
	tier.Integration(t, "a session's processes")
	if os.Geteuid() != 0 {
		t.Setenv(UnisolatedEnv, "1")
	}
}

// make run keeps its data in a relative folder (.local): the processes, which run in the
// session's folder, must still find their files. (They did not: x11vnc could not open its
// password file.)
func TestRelativeDataFolder(t *testing.T) {
	asStack(t)
	t.Chdir(tempDir(t))
	d := &Driver{Dir: filepath.Join(".local", "runtime")}
	t.Cleanup(d.Close)
	spec := runtime.Spec{SessionID: "sess_relative", OwnerID: "alice", Command: "sleep 60",
		Secret: "ctrl1234"}
	obs, err := d.Start(context.Background(), spec)
	if err != nil {
		if f, ok := runtime.AsFailure(err); ok {
			if _, path, ok := strings.Cut(f.Reason, "; see "); ok {
				b, _ := os.ReadFile(path)
				t.Logf("%s:\n%s", path, b)
			}
		}
		t.Fatalf("start: %v", err)
	}
	// The VNC server answers on the session's socket, and nowhere a browser could reach.
	sock, ok := strings.CutPrefix(obs.Upstream, "unix:")
	if !ok || !filepath.IsAbs(sock) {
		t.Fatalf("upstream %q: want the absolute path of a Unix socket", obs.Upstream)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	hello := make([]byte, 12)
	_, err = io.ReadFull(c, hello)
	c.Close()
	if err != nil || !strings.HasPrefix(string(hello), "RFB 003.") {
		t.Fatalf("VNC server on %s said %q (%v), want an RFB version", sock, hello, err)
	}
	if err := d.Terminate(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.SessionDir(spec.SessionID)); !os.IsNotExist(err) {
		t.Fatalf("session folder after terminate: %v", err)
	}
}

// A missing program fails the start with the exact install command.
func TestMissingProgramNamesTheInstallCommand(t *testing.T) {
	asStack(t)
	d := &Driver{Dir: tempDir(t)}
	_, err := d.Start(context.Background(), runtime.Spec{SessionID: "sess_missing", Command: "streamspace-absent-app"})
	f, ok := runtime.AsFailure(err)
	if !ok || !strings.Contains(f.Reason, "sudo apt-get install -y streamspace-absent-app") {
		t.Fatalf("start: %v, want a failure naming the install command", err)
	}
}

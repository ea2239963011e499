package local

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"streamspace/internal/runtime"
)

// make run keeps its data in a relative folder (.local): the processes, which run in the
// session's folder, must still find their files. (They did not: x11vnc could not open its
// password file.)
func TestRelativeDataFolder(t *testing.T) {
	t.Chdir(t.TempDir())
	d := &Driver{Dir: filepath.Join(".local", "runtime")}
	t.Cleanup(d.Close)
	spec := runtime.Spec{SessionID: "sess_relative", OwnerID: "alice", Command: "sleep 60",
		ControlSecret: "ctrl1234", ViewSecret: "view1234"}
	obs, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	resp, err := http.Get(strings.Split(obs.URL, "?")[0])
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("noVNC page at %s: %v %v", obs.URL, resp, err)
	}
	resp.Body.Close()
	if err := d.Terminate(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.SessionDir(spec.SessionID)); !os.IsNotExist(err) {
		t.Fatalf("session folder after terminate: %v", err)
	}
}

// A missing program fails the start with the exact install command.
func TestMissingProgramNamesTheInstallCommand(t *testing.T) {
	d := &Driver{Dir: t.TempDir()}
	_, err := d.Start(context.Background(), runtime.Spec{SessionID: "sess_missing", Command: "streamspace-absent-app"})
	f, ok := runtime.AsFailure(err)
	if !ok || !strings.Contains(f.Reason, "sudo apt-get install -y streamspace-absent-app") {
		t.Fatalf("start: %v, want a failure naming the install command", err)
	}
}

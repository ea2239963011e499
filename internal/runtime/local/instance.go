package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"streamspace/internal/desktop"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// instance is one running session: its desktop and the runtime's bookkeeping.
type instance struct {
	spec     runtime.Spec
	secret   string
	dir      string
	handle   string
	upstream string // unix:<the VNC server's socket>
	desk     *desktop.Desktop
	// user and displayUser run the application and the display (nil: unisolated).
	user, displayUser *syscall.Credential

	mu  sync.Mutex
	cpu sample // the last usage reading
}

func (in *instance) observation() runtime.Observation {
	return runtime.Observation{State: sessions.StateRunning, Upstream: in.upstream, Handle: in.handle}
}

func (in *instance) logPath(name string) string { return filepath.Join(in.dir, name+".log") }

func (in *instance) alive() bool { return in.desk.Alive() }

// launch starts the session's desktop (display, application, VNC server) as the session's
// users. The VNC server listens on a Unix socket in the display user's folder: only the
// streaming gateway, which runs in this stack as root, reaches it.
func (d *Driver) launch(ctx context.Context, spec runtime.Spec, l layout) (*instance, error) {
	if spec.Secret == "" {
		return nil, errors.New("the session has no VNC secret")
	}
	in := &instance{spec: spec, secret: spec.Secret, dir: l.sessDir, user: l.user, displayUser: l.displayUser}
	sock := l.socket
	geometry := d.Geometry
	desk, err := desktop.Start(ctx, desktop.Spec{
		App: appArgs(spec.Command), Home: l.home, RunDir: l.runDir, DisplayDir: l.displayDir, Geometry: geometry,
		Env:       []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"},
		VNCSocket: sock, Password: spec.Secret, User: l.user, DisplayUser: l.displayUser,
		// Logs belong to root in the session's root-owned folder: the session's users write
		// them through the descriptor they inherit but cannot read them back.
		Output: func(name string) (io.WriteCloser, error) {
			return os.OpenFile(in.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		},
	})
	if f := (*desktop.Failure)(nil); errors.As(err, &f) {
		if f.Process != "" {
			return nil, runtime.Failed(fmt.Sprintf("%s; see %s", f.Reason, in.logPath(f.Process)))
		}
		return nil, runtime.Failed(f.Reason)
	}
	if err != nil {
		return nil, err
	}
	in.desk, in.upstream = desk, "unix:"+sock
	in.handle = fmt.Sprintf("local/%d", desk.Groups()[0])
	return in, nil
}

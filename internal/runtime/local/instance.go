package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// instance is one running session: its processes, in start order.
type instance struct {
	spec     runtime.Spec
	secret   string
	dir      string
	handle   string
	upstream string // unix:<the VNC server's socket>
	procs    []*proc
	exited   chan *proc // each process sends itself when it ends

	mu         sync.Mutex
	isStopping bool
	cpu        sample // the last usage reading
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (in *instance) observation() runtime.Observation {
	return runtime.Observation{State: sessions.StateRunning, Upstream: in.upstream, Handle: in.handle}
}

func (in *instance) logPath(name string) string { return filepath.Join(in.dir, name+".log") }

// start runs one process in its own process group, killed if this program dies.
func (in *instance) start(name string, args []string, env []string, dir string, extra ...*os.File) (*proc, error) {
	logf, err := os.OpenFile(in.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = env, dir, logf, logf, extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, runtime.Failed(fmt.Sprintf("cannot start %s: %v", name, err))
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	in.procs = append(in.procs, p)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		in.exited <- p
	}()
	return p, nil
}

func (p *proc) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (in *instance) alive() bool {
	for _, p := range in.procs {
		if p.ended() {
			return false
		}
	}
	return len(in.procs) > 0
}

func (in *instance) deadProcess() (string, bool) {
	for _, p := range in.procs {
		if p.ended() {
			return p.name, true
		}
	}
	return "", false
}

func (in *instance) firstExit() (string, error) {
	p, ok := <-in.exited
	if !ok {
		return "", nil
	}
	return p.name, p.err
}

func (in *instance) stopping() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.isStopping
}

// stop ends the processes in reverse order of start (the display last, so the application can
// save its profile): SIGTERM to each process group, then SIGKILL after a grace period.
func (in *instance) stop() {
	in.mu.Lock()
	in.isStopping = true
	in.mu.Unlock()
	for i := len(in.procs) - 1; i >= 0; i-- {
		p := in.procs[i]
		if p.ended() {
			continue
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// launch starts the display, the application and the VNC server, in that order, each only once
// the one before is ready. The VNC server listens on a Unix socket in the session's folder: only
// the streaming gateway, which runs in this stack, reaches it.
func (d *Driver) launch(ctx context.Context, spec runtime.Spec, dir, home string) (_ *instance, err error) {
	in := &instance{spec: spec, secret: spec.Secret, dir: dir, exited: make(chan *proc, 8)}
	defer func() {
		if err != nil {
			in.stop()
		}
	}()
	display, err := d.startDisplay(ctx, in)
	if err != nil {
		return nil, err
	}
	env := []string{"DISPLAY=:" + display, "HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8",
		"XDG_RUNTIME_DIR=" + dir, "NO_AT_BRIDGE=1"}
	if _, err := in.start("app", appCommand(spec.Command), env, home); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "vnc.sock")
	if err := d.startVNC(ctx, in, display, sock); err != nil {
		return nil, err
	}
	in.upstream = "unix:" + sock
	in.handle = fmt.Sprintf("local/%d", in.procs[0].cmd.Process.Pid)
	return in, nil
}

// startDisplay runs Xvfb on the first free display, which it writes to a pipe (-displayfd).
func (d *Driver) startDisplay(ctx context.Context, in *instance) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	geometry := d.Geometry
	if geometry == "" {
		geometry = "1280x800x24"
	}
	_, err = in.start("xvfb", []string{"Xvfb", "-displayfd", "3", "-screen", "0", geometry, "-nolisten", "tcp"},
		[]string{"PATH=" + os.Getenv("PATH")}, in.dir, w)
	w.Close()
	if err != nil {
		return "", err
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if _, err := strconv.Atoi(n); err != nil {
			return "", runtime.Failed("the virtual display (Xvfb) did not start; see " + in.logPath("xvfb"))
		}
		return n, nil
	case <-time.After(10 * time.Second):
		return "", runtime.Failed("the virtual display (Xvfb) was not ready after 10s")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startVNC serves the display on a Unix socket only, behind the session's VNC password: nothing
// but the streaming gateway reaches it, and the gateway enforces each viewer's level.
func (d *Driver) startVNC(ctx context.Context, in *instance, display, sock string) error {
	pw := filepath.Join(in.dir, "vnc.passwd")
	if in.spec.Secret == "" {
		return errors.New("the session has no VNC secret")
	}
	body := in.spec.Secret + "\n"
	if err := os.WriteFile(pw, []byte(body), 0o600); err != nil {
		return err
	}
	_ = os.Remove(sock)
	if _, err := in.start("x11vnc", []string{"x11vnc", "-display", ":" + display, "-unixsock", sock, "-rfbport", "0",
		"-forever", "-shared", "-passwdfile", pw, "-noxdamage", "-quiet"}, []string{"PATH=" + os.Getenv("PATH")}, in.dir); err != nil {
		return err
	}
	return waitFor(ctx, in, "the VNC server (x11vnc)", 15*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// appCommand is the template's command; Chromium refuses to run as root without --no-sandbox,
// which is how CI and many containers run it.
func appCommand(command string) []string {
	args := strings.Fields(command)
	if os.Geteuid() == 0 && strings.HasPrefix(filepath.Base(args[0]), "chromium") {
		args = append(args, "--no-sandbox")
	}
	return args
}

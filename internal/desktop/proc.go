package desktop

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Desktop is a running desktop: its processes in start order.
type Desktop struct {
	// Display is the X display the desktop runs on (":N").
	Display string
	procs   []*proc
	exited  chan *proc // each process sends itself when it ends

	mu         sync.Mutex
	isStopping bool
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// start runs one process in its own process group (so stopping it reaches what it started),
// killed if this program dies.
func (d *Desktop) start(s Spec, name string, args, env []string, dir string, user *syscall.Credential, extra ...*os.File) error {
	out, err := s.Output(name)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = env, dir, out, out, extra
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: user}
	// A process that ended counts as ended even when something it started still holds its
	// output open (when the output is not a file, os/exec copies it until then).
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return failed(name, "cannot start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	d.procs = append(d.procs, p)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		d.exited <- p
	}()
	return nil
}

func (p *proc) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Alive reports whether every process still runs.
func (d *Desktop) Alive() bool {
	for _, p := range d.procs {
		if p.ended() {
			return false
		}
	}
	return len(d.procs) > 0
}

func (d *Desktop) deadProcess() (string, bool) {
	for _, p := range d.procs {
		if p.ended() {
			return p.name, true
		}
	}
	return "", false
}

// Wait blocks until the first process ends and returns its name and exit error.
func (d *Desktop) Wait() (string, error) {
	p := <-d.exited
	return p.name, p.err
}

// Pids lists the running processes (display, application, VNC server).
func (d *Desktop) Pids() []int {
	var pids []int
	for _, p := range d.procs {
		if !p.ended() {
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	return pids
}

// Groups lists the process groups the desktop started (each process leads one, which its
// children join).
func (d *Desktop) Groups() []int {
	var g []int
	for _, p := range d.procs {
		g = append(g, p.cmd.Process.Pid)
	}
	return g
}

// Stopping reports whether Stop was called.
func (d *Desktop) Stopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.isStopping
}

// Stop ends the processes in reverse order of start (the display last, so the application can
// save its profile): SIGTERM to each process group, SIGKILL after a grace period.
func (d *Desktop) Stop() {
	d.mu.Lock()
	d.isStopping = true
	d.mu.Unlock()
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
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

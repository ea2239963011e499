// Package local runs sessions as real processes on a Linux developer machine: a virtual display
// (Xvfb), the template's application on it and a VNC server on that display (x11vnc, on a Unix
// socket only, which the streaming gateway alone reaches). All come from Debian packages;
// docs/runtime.md explains the layout.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// Driver is the local runtime.Driver. One Driver owns the processes it started; Close stops them.
// Running as root it runs each session as unprivileged users of its own (isolation.go).
type Driver struct {
	// Dir holds sessions/<id>/ (logs, sockets, the session's home) and homes/<owner>/ (persistent homes).
	Dir string
	// Geometry of the virtual screen (default 1280x800x24).
	Geometry string
	Log      *slog.Logger
	// OnExit is told when a session's processes end on their own (the application was closed or
	// crashed): the runtime reports the session as failed with reason.
	OnExit func(sessionID, handle, reason string)

	mu        sync.Mutex
	instances map[string]*instance
	users     *users
	warned    sync.Once
	// euid is the stack's effective uid (tests pretend not to be root).
	euid func() int
}

// Start runs the session's processes, or returns the ones already running for it.
func (d *Driver) Start(ctx context.Context, spec runtime.Spec) (runtime.Observation, error) {
	d.mu.Lock()
	if in := d.instances[spec.SessionID]; in != nil {
		if in.alive() && in.secret == spec.Secret {
			d.mu.Unlock()
			return in.observation(), nil
		}
		d.mu.Unlock()
		d.halt(in)
		d.mu.Lock()
		delete(d.instances, spec.SessionID)
	}
	d.mu.Unlock()

	isolated, err := d.isolation()
	if err != nil {
		return runtime.Observation{}, err
	}
	if err := d.missing(spec.Command); err != nil {
		return runtime.Observation{}, err
	}
	l, err := d.prepare(spec, isolated)
	if err != nil {
		return runtime.Observation{}, err
	}
	in, err := d.launch(ctx, spec, l)
	if err != nil {
		return runtime.Observation{}, err
	}
	d.mu.Lock()
	if d.instances == nil {
		d.instances = map[string]*instance{}
	}
	d.instances[spec.SessionID] = in
	d.mu.Unlock()
	go d.watch(in)
	return in.observation(), nil
}

// Hibernate stops the processes and keeps the home folder.
func (d *Driver) Hibernate(ctx context.Context, spec runtime.Spec) (runtime.Observation, error) {
	d.stop(spec.SessionID)
	return runtime.Observation{State: sessions.StateHibernated}, nil
}

// Terminate stops the processes and removes the session's folder (a persistent home stays).
func (d *Driver) Terminate(ctx context.Context, spec runtime.Spec) error {
	d.stop(spec.SessionID)
	if !sessionIDRE.MatchString(spec.SessionID) {
		return fmt.Errorf("not a session id: %q", spec.SessionID)
	}
	if err := os.RemoveAll(d.SessionDir(spec.SessionID)); err != nil {
		return err
	}
	holders := []string{displayHolder(spec.SessionID)}
	if !spec.PersistentHome {
		holders = append(holders, homeHolder(filepath.Join("sessions", spec.SessionID, "home")))
	}
	return d.uids().release(holders...)
}

// Close stops every session's processes (the local stack is shutting down).
func (d *Driver) Close() {
	d.mu.Lock()
	all := d.instances
	d.instances = nil
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() { defer wg.Done(); d.halt(in) }()
	}
	wg.Wait()
}

// Running lists the sessions with live processes.
func (d *Driver) Running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, in := range d.instances {
		if in.alive() {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (d *Driver) stop(id string) {
	d.mu.Lock()
	in := d.instances[id]
	delete(d.instances, id)
	d.mu.Unlock()
	if in != nil {
		d.halt(in)
	}
}

// watch reports processes that end on their own.
func (d *Driver) watch(in *instance) {
	name, err := in.desk.Wait()
	if in.desk.Stopping() {
		return
	}
	d.halt(in)
	d.mu.Lock()
	if d.instances[in.spec.SessionID] == in {
		delete(d.instances, in.spec.SessionID)
	}
	d.mu.Unlock()
	reason := fmt.Sprintf("%s ended on its own (%v)", name, err)
	if err == nil {
		reason = name + " was closed"
	}
	d.log().Warn("session processes ended", slog.String("sessionId", in.spec.SessionID), slog.String("reason", reason))
	if d.OnExit != nil {
		d.OnExit(in.spec.SessionID, in.handle, reason)
	}
}

func (d *Driver) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

var sessionIDRE = regexp.MustCompile(`^sess_[0-9A-Za-z]+$`)

// packages names the Debian package of each program the driver needs.
var packages = map[string]string{"Xvfb": "xvfb", "x11vnc": "x11vnc"}

// missing explains, with the exact install command, what is not installed.
func (d *Driver) missing(command string) error {
	var pkgs []string
	for _, bin := range []string{"Xvfb", "x11vnc"} {
		if _, err := exec.LookPath(bin); err != nil {
			pkgs = append(pkgs, packages[bin])
		}
	}
	fields := strings.Fields(command)
	if len(fields) == 0 {
		return runtime.Failed("the template names no local command, so it cannot run on this machine")
	}
	if _, err := exec.LookPath(fields[0]); err != nil {
		pkgs = append(pkgs, filepath.Base(fields[0])) // the seeded commands are their packages' names
	}
	if len(pkgs) == 0 {
		return nil
	}
	return runtime.Failed(fmt.Sprintf("this machine lacks what the session needs (%s); install it with: sudo apt-get install -y %s",
		strings.Join(pkgs, ", "), strings.Join(pkgs, " ")))
}

// Processes lists the process ids of a session's running processes (display, app, VNC server).
func (d *Driver) Processes(id string) []int {
	d.mu.Lock()
	in := d.instances[id]
	d.mu.Unlock()
	if in == nil {
		return nil
	}
	return in.desk.Pids()
}

// Home is the home folder a session gets: its own, or with a persistent home the one of its
// owner and template. Not one per owner: sharing one session must not hand a collaborator the
// owner's other applications' data (browser profiles, files). Owner ids come from identity
// providers: they are hashed into a safe folder name.
func (d *Driver) Home(spec runtime.Spec) string {
	if spec.PersistentHome {
		sum := sha256.Sum256([]byte(spec.OwnerID + "\x00" + spec.TemplateName))
		return filepath.Join(d.Dir, "homes", hex.EncodeToString(sum[:8]))
	}
	return filepath.Join(d.SessionDir(spec.SessionID), "home")
}

// SessionDir is the folder of a session's logs, sockets and (unless persistent) home.
func (d *Driver) SessionDir(id string) string { return filepath.Join(d.Dir, "sessions", id) }

// appArgs is the template's command; the desktop adds what Chromium needs where it runs.
func appArgs(command string) []string { return strings.Fields(command) }

package local

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"streamspace/internal/runtime"
)

// UnisolatedEnv, set to 1, lets a stack that does not run as root run sessions as its own user:
// then a session's application can read everything that user can, the stack's keys included.
const UnisolatedEnv = "STREAMSPACE_UNISOLATED_SESSIONS"

// isolation says whether sessions run as session users (the stack runs as root), or refuses to
// run them unisolated unless the operator opted in.
func (d *Driver) isolation() (bool, error) {
	euid := os.Geteuid
	if d.euid != nil {
		euid = d.euid
	}
	if euid() == 0 {
		return true, nil
	}
	if os.Getenv(UnisolatedEnv) != "1" {
		return false, runtime.Failed("local sessions run as unprivileged users of their own, and only a stack running as root " +
			"can start them: run `sudo make run` (or set " + UnisolatedEnv + "=1 to run sessions as yourself, able to read " +
			"everything you can, including the stack's signing keys)")
	}
	d.warned.Do(func() {
		d.log().Warn("sessions run unisolated, as the stack's own user: their applications can read the stack's keys and every session's files",
			slog.String("env", UnisolatedEnv+"=1"))
	})
	return false, nil
}

// layout is where one session's processes live and as whom they run (nil users: the stack's).
type layout struct {
	sessDir, home, runDir, displayDir, socket string
	user, displayUser                         *syscall.Credential
}

// prepare makes the session's folders. Isolated, the runtime folders are root's and traversable
// but not listable (0711); the home (0700) and the run folder belong to the session's user (the
// application's), the display folder to the session's display user (Xvfb and x11vnc); the logs
// stay root's. Run and display folders are made anew on every start, so nothing a session left
// there (a link where a file will be written) counts.
func (d *Driver) prepare(spec runtime.Spec, isolated bool) (l layout, err error) {
	if !sessionIDRE.MatchString(spec.SessionID) {
		return l, fmt.Errorf("not a session id: %q", spec.SessionID)
	}
	// The processes run in the session's folder: every path they are given must be absolute.
	root, err := filepath.Abs(d.Dir)
	if err != nil {
		return l, err
	}
	shared := os.FileMode(0o700)
	if isolated {
		shared = 0o711
	}
	l.sessDir = filepath.Join(root, "sessions", spec.SessionID)
	if l.home, err = filepath.Abs(d.Home(spec)); err != nil {
		return l, err
	}
	l.runDir, l.displayDir = filepath.Join(l.sessDir, "run"), filepath.Join(l.sessDir, "vnc")
	l.socket = filepath.Join(l.displayDir, "vnc.sock")
	if len(l.socket) > maxSocketPath {
		return l, runtime.Failed(fmt.Sprintf("the session's VNC socket %s would be %d bytes long, more than a Unix socket's %d: "+
			"keep the stack's data in a shorter path (streamspace run -data /var/lib/streamspace)", l.socket, len(l.socket), maxSocketPath))
	}
	for _, p := range []string{root, filepath.Join(root, "sessions"), filepath.Join(root, "homes"), l.sessDir} {
		if err := mkdirMode(p, shared); err != nil {
			return l, err
		}
	}
	if isolated {
		if err := reachable(root); err != nil {
			return l, err
		}
		if err := x11SocketDir(); err != nil {
			return l, err
		}
		rel, _ := filepath.Rel(root, l.home)
		if l.user, err = d.uids().get(homeHolder(rel)); err != nil {
			return l, err
		}
		if l.displayUser, err = d.uids().get(displayHolder(spec.SessionID)); err != nil {
			return l, err
		}
	}
	if err := mkdirMode(l.home, 0o700); err != nil {
		return l, err
	}
	if l.user != nil {
		if err := ownTree(l.home, l.user); err != nil {
			return l, fmt.Errorf("session home: %w", err)
		}
	}
	for _, f := range []struct {
		dir   string
		owner *syscall.Credential
	}{{l.runDir, l.user}, {l.displayDir, l.displayUser}} {
		if err := os.RemoveAll(f.dir); err != nil {
			return l, err
		}
		if err := mkdirMode(f.dir, 0o700); err != nil {
			return l, err
		}
		if f.owner != nil {
			if err := os.Lchown(f.dir, int(f.owner.Uid), int(f.owner.Gid)); err != nil {
				return l, err
			}
		}
	}
	return l, nil
}

// maxSocketPath is the longest path a Unix socket takes (sun_path, 108 bytes with its NUL);
// x11vnc aborts on a longer one.
const maxSocketPath = 107

func homeHolder(rel string) string        { return "home:" + rel }
func displayHolder(session string) string { return "display:" + session }

func (d *Driver) uids() *users {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.users == nil {
		d.users = &users{path: filepath.Join(d.Dir, "uids.json")}
	}
	return d.users
}

// mkdirMode makes a folder (and its parents) and sets its mode, whatever the umask or an older
// version of the runtime left.
func mkdirMode(p string, mode os.FileMode) error {
	if err := os.MkdirAll(p, mode); err != nil {
		return fmt.Errorf("session folder: %w", err)
	}
	return os.Chmod(p, mode)
}

// reachable checks that session users can reach the runtime folder: every folder above it must
// let others through. A home folder of mode 0700 (Debian's default) does not.
func reachable(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return runtime.Failed(fmt.Sprintf("session users cannot reach their homes under %s: %s does not let other users through; "+
				"run `chmod o+x %s`, or keep the stack's data elsewhere (streamspace run -data /var/lib/streamspace)", dir, p, p))
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// x11SocketDir makes sure /tmp/.X11-unix is root's and sticky before a session user's Xvfb
// would create it: owned by a session user, that user could delete or replace other sessions'
// display sockets.
func x11SocketDir() error {
	const dir = "/tmp/.X11-unix"
	if err := os.Mkdir(dir, 0o1777); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := os.Lchown(dir, 0, 0); err != nil {
		return err
	}
	return os.Chmod(dir, os.ModeSticky|0o777)
}

// ProtectDataDir closes the stack's data folder to session users: the folder itself can be
// crossed (sessions reach runtime/ through it) but not listed, and nothing else in it (the
// issuer's key, the ticket keys, DynamoDB's files, logs, recordings) can be read or crossed by
// others. Entries made later get private modes where they are created.
func ProtectDataDir(dir string) error {
	if err := os.Chmod(dir, 0o711); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "runtime" || e.Type()&os.ModeSymlink != 0 {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			if err := os.Chmod(filepath.Join(dir, e.Name()), m&^0o077); err != nil {
				return err
			}
		}
	}
	return nil
}

// halt stops a session's processes, then ends whatever its users still run: a shell's
// background job, or a daemon the application started in a session of its own (xterm's shell
// is one), would outlive the session, and a collaborator whose access ended could keep it as a
// foothold. The home's user is spared while another running session shares that home.
func (d *Driver) halt(in *instance) {
	in.desk.Stop()
	var uids []uint32
	if in.displayUser != nil {
		uids = append(uids, in.displayUser.Uid)
	}
	if in.user != nil && !d.homeInUse(in) {
		uids = append(uids, in.user.Uid)
	}
	killUsers(uids)
}

// homeInUse reports whether another running session has in's home user.
func (d *Driver) homeInUse(in *instance) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, other := range d.instances {
		if other != in && other.user != nil && other.user.Uid == in.user.Uid && other.alive() {
			return true
		}
	}
	return false
}

// killUsers sends SIGKILL to every live process of the given users (session users only: never
// 0), until none is left (a process may fork while it is being killed).
func killUsers(uids []uint32) {
	for range 5 {
		found := false
		stats, _ := filepath.Glob("/proc/[0-9]*/status")
		for _, p := range stats {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var uid uint64
			zombie := false
			for _, line := range strings.Split(string(b), "\n") {
				switch f := strings.Fields(line); {
				case len(f) > 1 && f[0] == "State:":
					zombie = f[1] == "Z" || f[1] == "X"
				case len(f) > 1 && f[0] == "Uid:":
					uid, _ = strconv.ParseUint(f[1], 10, 32)
				}
			}
			if uid != 0 && !zombie && slices.Contains(uids, uint32(uid)) {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				_ = syscall.Kill(pid, syscall.SIGKILL)
				found = true
			}
		}
		if !found {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

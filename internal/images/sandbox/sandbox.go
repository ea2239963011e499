// Package sandbox runs an unpacked image's entrypoint on this machine roughly as a container
// runtime would, without one: new mount, PID, network, UTS and IPC namespaces, the image's
// root read-only (pivot_root), fresh /proc, a minimal /dev, tmpfs where the image may write,
// only a loopback network, and the image's user with no way to gain privileges. Tests use it
// to run the desktop images as ECS would run them.
//
// The program that calls Command must call Init first thing (TestMain, main): the sandbox is
// that program run again, which sets the namespaces up and then executes the entrypoint.
package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config is what runs in the sandbox.
type Config struct {
	Root     string   // the unpacked image
	UID, GID uint32   // the image's user
	Args     []string // entrypoint and command; Args[0] is a path inside Root
	Env      []string
	Dir      string   // working folder inside Root
	Writable []string // folders inside Root that get an empty tmpfs owned by the user (a home)
	Hostname string
}

const envKey = "STREAMSPACE_SANDBOX"

// Command is the sandbox as a command to start: its process is the entrypoint's, pid 1 in its
// own namespaces. Dial reaches its network.
func Command(c Config) (*exec.Cmd, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = []string{envKey + "=" + string(b)}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd, nil
}

// Init does nothing in a normal run; in the sandbox's process it sets the sandbox up and
// executes the entrypoint, or exits with the reason it could not.
func Init() {
	raw, ok := os.LookupEnv(envKey)
	if !ok {
		return
	}
	var c Config
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fail("config", err)
	}
	runtime.LockOSThread()
	if err := setup(c); err != nil {
		fail("setup", err)
	}
	err := syscall.Exec(c.Args[0], c.Args, c.Env)
	fail("exec "+c.Args[0], err)
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "sandbox: %s: %v\n", what, err)
	os.Exit(125)
}

func setup(c Config) error {
	r := c.Root
	steps := []struct {
		what string
		do   func() error
	}{
		// Nothing mounted here reaches the machine's mount table.
		{"private mounts", func() error { return syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "") }},
		{"root", func() error { return syscall.Mount(r, r, "", syscall.MS_BIND|syscall.MS_REC, "") }},
		{"read-only root", func() error {
			return syscall.Mount("", r, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|syscall.MS_NOSUID|syscall.MS_NODEV, "")
		}},
		{"/proc", func() error {
			return syscall.Mount("proc", r+"/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
		}},
		{"/dev", func() error { return devices(r + "/dev") }},
		{"/tmp", func() error {
			return syscall.Mount("tmpfs", r+"/tmp", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777")
		}},
		{"/run", func() error {
			return syscall.Mount("tmpfs", r+"/run", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=755")
		}},
		{"loopback", loopbackUp},
	}
	for _, w := range c.Writable {
		opts := fmt.Sprintf("mode=700,uid=%d,gid=%d", c.UID, c.GID)
		steps = append(steps, struct {
			what string
			do   func() error
		}{w, func() error { return syscall.Mount("tmpfs", r+w, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts) }})
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	// pivot_root into the image, the old root stacked under it and then detached (runc's way,
	// which needs no folder in a read-only root).
	if err := syscall.Chdir(r); err != nil {
		return err
	}
	if err := syscall.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	dir := c.Dir
	if dir == "" {
		dir = "/"
	}
	if err := syscall.Chdir("/"); err != nil {
		return err
	}
	if c.Hostname != "" {
		_ = syscall.Sethostname([]byte(c.Hostname))
	}
	if err := syscall.Setgroups(nil); err != nil {
		return err
	}
	if err := syscall.Setgid(int(c.GID)); err != nil {
		return err
	}
	if err := syscall.Setuid(int(c.UID)); err != nil {
		return err
	}
	// As a container runtime's no-new-privileges: nothing executed can gain privileges.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	return syscall.Chdir(dir)
}

// devices makes a minimal /dev: a tmpfs with the machine's harmless character devices bound
// in, a private devpts instance (terminals) and /dev/shm.
func devices(dev string) error {
	if err := syscall.Mount("tmpfs", dev, "tmpfs", syscall.MS_NOSUID, "mode=755"); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		f, err := os.Create(dev + "/" + d)
		if err != nil {
			return err
		}
		f.Close()
		if err := syscall.Mount("/dev/"+d, dev+"/"+d, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(dev+"/"+d, 0o755); err != nil {
			return err
		}
	}
	if err := syscall.Mount("devpts", dev+"/pts", "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"); err != nil {
		return fmt.Errorf("devpts: %w", err)
	}
	if err := syscall.Mount("tmpfs", dev+"/shm", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	for link, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, dev+"/"+link); err != nil {
			return err
		}
	}
	return nil
}

// loopbackUp brings lo up: a new network namespace has only lo, and down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [16]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return e
	}
	ifr.flags |= syscall.IFF_UP
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); e != 0 {
		return e
	}
	return nil
}

// Dial opens a TCP connection to addr inside the network namespace of process pid (the
// sandbox's loopback): the socket is made on a thread moved into that namespace, and keeps
// belonging to it; the thread then moves back. (It must not end instead: the sandbox may have
// been started from it, and would get its parent-death signal.)
func Dial(pid int, addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer home.Close()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // back home: the thread may serve other goroutines again
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

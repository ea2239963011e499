// Package desktop starts one streamed desktop: a virtual display (Xvfb), the application on it
// and a VNC server (x11vnc) on that display, each once the one before is ready, and stops them in
// reverse order. The local runtime (one desktop per session, run as the session's own users) and
// the desktop images' entrypoint (cmd/desktop, in ECS) both use it, so a session behaves the same
// on a developer's machine and in AWS.
package desktop

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec is one desktop.
type Spec struct {
	// App is the application's command line.
	App []string
	// Home is the application's HOME and working folder.
	Home string
	// RunDir belongs to User alone (mode 0700): the application's X authority file,
	// XDG_RUNTIME_DIR.
	RunDir string
	// DisplayDir belongs to DisplayUser alone: the display's X authority file, the VNC password
	// file, the VNC socket. It may be RunDir when both users are the same (the image).
	DisplayDir string
	// Geometry of the virtual screen, default 1280x800x24.
	Geometry string
	// Env is given to every process (PATH, LANG, ...); the desktop adds DISPLAY, HOME, XAUTHORITY
	// and XDG_RUNTIME_DIR.
	Env []string
	// The VNC server listens on the Unix socket VNCSocket only (local: only the gateway reaches
	// it) or, without one, on TCP port VNCPort on every interface (the image: the gateway
	// reaches the task through its security group).
	VNCSocket string
	VNCPort   int
	// Password is the VNC password (classic VNC authentication uses its first 8 characters).
	Password string
	// User runs the application, DisplayUser the display and the VNC server (which share
	// memory: MIT-SHM); nil = this process's user. Locally they are two unprivileged users, so
	// the application can neither read the VNC password nor trace or stop the servers; it
	// reaches the display as any X client does, with the cookie.
	User, DisplayUser *syscall.Credential
	// Output opens where a process's output goes ("xvfb", "app", "x11vnc").
	Output func(name string) (io.WriteCloser, error)
}

// Failure is why a desktop did not start, in words; Process names the process whose output
// tells more ("" when none).
type Failure struct {
	Reason  string
	Process string
}

func (f *Failure) Error() string { return f.Reason }

func failed(process, format string, a ...any) error {
	return &Failure{Reason: fmt.Sprintf(format, a...), Process: process}
}

// XAuthorityFile is the cookie file's name in RunDir and VNCDir.
const XAuthorityFile = "Xauthority"

// Start runs the display, the application and the VNC server. On error nothing is left running.
func Start(ctx context.Context, s Spec) (_ *Desktop, err error) {
	if s.Password == "" {
		return nil, errors.New("the desktop has no VNC password")
	}
	if len(s.App) == 0 {
		return nil, failed("", "the desktop has no application to run")
	}
	if s.Geometry == "" {
		s.Geometry = "1280x800x24"
	}
	d := &Desktop{exited: make(chan *proc, 8)}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	// One cookie per desktop: without it, any local process could open the display through its
	// socket in /tmp/.X11-unix (or the abstract one) and read the screen or type into it.
	cookie := make([]byte, 16)
	if _, err := rand.Read(cookie); err != nil {
		return nil, err
	}
	xauth := filepath.Join(s.RunDir, XAuthorityFile)
	if err := WriteXAuthority(xauth, cookie, s.User); err != nil {
		return nil, err
	}
	displayAuth := filepath.Join(s.DisplayDir, XAuthorityFile)
	if displayAuth != xauth {
		if err := WriteXAuthority(displayAuth, cookie, s.DisplayUser); err != nil {
			return nil, err
		}
	}
	if d.Display, err = d.startDisplay(ctx, s, displayAuth); err != nil {
		return nil, err
	}
	env := append(append([]string(nil), s.Env...), "DISPLAY="+d.Display, "HOME="+s.Home, "XAUTHORITY="+xauth,
		"XDG_RUNTIME_DIR="+s.RunDir, "NO_AT_BRIDGE=1")
	if err := d.start(s, "app", AppArgs(s.App, s.User, s.Geometry), env, s.Home, s.User); err != nil {
		return nil, err
	}
	if err := d.startVNC(ctx, s, displayAuth); err != nil {
		return nil, err
	}
	return d, nil
}

// startDisplay runs Xvfb on the first free display, which it writes to a pipe (-displayfd).
func (d *Desktop) startDisplay(ctx context.Context, s Spec, xauth string) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	// -br: a black root window instead of the grey weave, which costs the stream bandwidth.
	err = d.start(s, "xvfb", []string{"Xvfb", "-displayfd", "3", "-screen", "0", s.Geometry, "-nolisten", "tcp",
		"-auth", xauth, "-br"}, s.Env, s.DisplayDir, s.DisplayUser, w)
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
			return "", failed("xvfb", "the virtual display (Xvfb) did not start")
		}
		return ":" + n, nil
	case <-time.After(10 * time.Second):
		return "", failed("xvfb", "the virtual display (Xvfb) was not ready after 10s")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startVNC serves the display behind the VNC password. The password reaches x11vnc in a file it
// deletes once read ("rm:"), never on its command line or in its environment; -safer and -norc
// keep the application (an X client on the same display, owner of the home) from steering the
// server through X properties or a ~/.x11vncrc.
func (d *Desktop) startVNC(ctx context.Context, s Spec, xauth string) error {
	pw := filepath.Join(s.DisplayDir, "vnc.passwd")
	if err := writePrivate(pw, []byte(s.Password+"\n"), s.DisplayUser); err != nil {
		return err
	}
	args := []string{"x11vnc", "-display", d.Display, "-auth", xauth, "-passwdfile", "rm:" + pw,
		"-forever", "-shared", "-noxdamage", "-quiet", "-norc", "-safer", "-nolookup"}
	dial := func() (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.VNCPort)))
	}
	if s.VNCSocket != "" {
		_ = os.Remove(s.VNCSocket)
		args = append(args, "-unixsock", s.VNCSocket, "-rfbport", "0")
		dial = func() (net.Conn, error) { return net.Dial("unix", s.VNCSocket) }
	} else {
		args = append(args, "-rfbport", strconv.Itoa(s.VNCPort))
	}
	// HOME is the VNC server's own folder: it must never read the session's home.
	env := append(append([]string(nil), s.Env...), "HOME="+s.DisplayDir)
	if err := d.start(s, "x11vnc", args, env, s.DisplayDir, s.DisplayUser); err != nil {
		return err
	}
	return d.waitFor(ctx, "the VNC server (x11vnc)", 15*time.Second, func() bool {
		c, err := dial()
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// waitFor polls ok until it holds, the deadline passes or a process dies.
func (d *Desktop) waitFor(ctx context.Context, what string, within time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if name, dead := d.deadProcess(); dead {
			return failed(name, "%s exited while starting the session", name)
		}
		if time.Now().After(deadline) {
			return failed("", "%s was not ready after %s", what, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// AppArgs is the application's command line as it must run: Chromium cannot use its sandbox as
// root, nor where user namespaces are refused (a chroot, or a container's seccomp profile), and
// then only starts with --no-sandbox; Firefox starts through firefoxArgs.
func AppArgs(app []string, user *syscall.Credential, geometry string) []string {
	args := append([]string(nil), app...)
	if strings.HasPrefix(filepath.Base(args[0]), "firefox") {
		return firefoxArgs(args, geometry)
	}
	if !strings.HasPrefix(filepath.Base(args[0]), "chromium") {
		return args
	}
	uid := os.Geteuid()
	if user != nil {
		uid = int(user.Uid)
	}
	if uid == 0 || !userNamespaces(user) {
		args = append(args, "--no-sandbox")
	}
	return args
}

// firefoxPrefs are the user.js of a session's Firefox profile: a desktop opens on Firefox's
// home page instead of the first-run welcome, privacy-notice and "what's new" tabs (which,
// where the desktop has no network, are "problem loading page" tabs), and does not ask to be
// the default browser. Only these keys are reset at each start; the rest of the profile
// (bookmarks, history, the user's own settings) lives in the home as usual.
const firefoxPrefs = `user_pref("browser.aboutwelcome.enabled", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("startup.homepage_welcome_url", "");
user_pref("startup.homepage_welcome_url.additional", "");
user_pref("startup.homepage_override_url", "");
user_pref("datareporting.policy.firstRunURL", "");
user_pref("datareporting.policy.dataSubmissionPolicyBypassNotification", true);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.page", 1);
user_pref("browser.startup.homepage", "about:home");
`

// firefoxArgs runs Firefox as large as the screen (there is no window manager to maximise it)
// on a profile in the home with firefoxPrefs as its user.js. The profile is written by a shell
// that runs as the session's user, as the application does (the supervisor may be root, and
// must not write through whatever the user left in the home); an explicit --profile in the
// template's command wins.
func firefoxArgs(args []string, geometry string) []string {
	var w, h int
	if _, err := fmt.Sscanf(geometry, "%dx%d", &w, &h); err == nil && w > 0 && h > 0 {
		args = append(args, "--width", strconv.Itoa(w), "--height", strconv.Itoa(h))
	}
	for _, a := range args[1:] {
		if a == "--profile" || a == "-profile" || a == "-P" {
			return args
		}
	}
	const script = `p="$HOME/.mozilla/streamspace"; mkdir -p "$p" && printf '%s' "$1" > "$p/user.js"; shift; exec "$@" --profile "$p"`
	return append([]string{"/bin/sh", "-c", script, "firefox-profile", firefoxPrefs}, args...)
}

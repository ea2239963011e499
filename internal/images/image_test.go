package images

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"streamspace/internal/desktop/vncclient"
	"streamspace/internal/images/sandbox"
	"streamspace/internal/local/stack"
	"streamspace/internal/rfb"
	rt "streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
	"streamspace/internal/testenv/tier"
)

func TestMain(m *testing.M) {
	sandbox.Init() // the sandbox's own process: never returns
	os.Exit(m.Run())
}

// LayerEnv names the terminal image's root filesystem layer, which make test builds (cached)
// with `imagebuild rootfs terminal` before running the tests.
const LayerEnv = "STREAMSPACE_TERMINAL_LAYER"

// Issue 12, point 4: the terminal image, as built for ECS, runs here. Its layers (the cached
// root filesystem and the entrypoint) are unpacked as a container runtime would, its entrypoint
// runs as uid 1000 in namespaces of its own with only a loopback network, and a VNC client on
// 127.0.0.1:5900 authenticates with the session's password and sees xterm drawn.
func TestTerminalImageServesItsDesktop(t *testing.T) {
	tier.Integration(t, "root, the terminal image's layer and its processes")
	layer := os.Getenv(LayerEnv)
	if layer == "" {
		t.Skipf("%s is not set: make test builds the terminal image's root filesystem (needs root and mmdebstrap)", LayerEnv)
	}
	runImage(t, "terminal", layer, 2)
}

// MoreLayersEnv lists other images to run the same way, name=layer,... (not in make test: each
// root filesystem is a few hundred MB more to build), e.g. after make images:
// STREAMSPACE_IMAGE_LAYERS=chromium=$PWD/.cache/images/rootfs/chromium-<key>.tar.gz.
const MoreLayersEnv = "STREAMSPACE_IMAGE_LAYERS"

func TestMoreImagesServeTheirDesktops(t *testing.T) {
	tier.Integration(t, "root, the images' layers and their processes")
	list := os.Getenv(MoreLayersEnv)
	if list == "" {
		t.Skipf("opt-in: %s=name=layer,… runs the larger images make images builds (make test builds only terminal, run by TestTerminalImageServesItsDesktop)", MoreLayersEnv)
	}
	for _, item := range strings.Split(list, ",") {
		name, layer, _ := strings.Cut(item, "=")
		t.Run(name, func(t *testing.T) { runImage(t, name, layer, 32) })
	}
}

// runImage unpacks an image's layers, runs it in a sandbox and checks its desktop: drawn (at
// least minColours colours), behind its password, every process as uid 1000, a clean stop.
func runImage(t *testing.T, name, layer string, minColours int) {
	if os.Geteuid() != 0 {
		t.Skip("running an image needs root (namespaces, mounts)")
	}
	defs, err := Load(filepath.Join(repoRoot(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := Find(defs, name)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	started := time.Now()
	// The root filesystem layer exactly as it is pushed, then the entrypoint's layer.
	untar(t, root, "-xzf", layer)
	untarFrom(t, root, entrypointLayer(t))
	t.Logf("image unpacked in %s", time.Since(started).Round(time.Millisecond))
	checkNoPrivileges(t, root)

	cfg := DesktopConfig(im)
	const password = "img12345"
	var out bytes.Buffer
	cmd, err := sandbox.Command(sandbox.Config{Root: root, UID: UID, GID: UID, Args: append(cfg.Entrypoint, cfg.Cmd...),
		Env: append(cfg.Env, "STREAMSPACE_VNC_PASSWORD="+password), Dir: cfg.WorkingDir, Writable: []string{Home},
		Hostname: "session"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	started = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() || testing.Verbose() {
			t.Logf("the image's output:\n%s", out.String())
		}
	}()
	pid := cmd.Process.Pid

	// The VNC server answers on the sandbox's loopback only, behind the session's password.
	var c *vncclient.Client
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := sandbox.Dial(pid, "127.0.0.1:5900", 2*time.Second)
		if err == nil {
			if c, err = vncclient.Handshake(conn, password); err == nil {
				break
			}
			conn.Close()
		}
		select {
		case err := <-exited:
			t.Fatalf("the image's entrypoint ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no VNC server on the image's 127.0.0.1:5900 after 60 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer c.Close()
	t.Logf("VNC server ready %s after start (%dx%d %q)", time.Since(started).Round(time.Millisecond), c.Width, c.Height, c.Name)
	if conn, err := sandbox.Dial(pid, "127.0.0.1:5900", 2*time.Second); err == nil {
		if _, err := vncclient.Handshake(conn, "wrong123"); !errors.Is(err, vncclient.ErrAuth) {
			t.Errorf("wrong password: %v, want refused", err)
		}
		conn.Close()
	}
	for {
		img, err := c.Screen(30 * time.Second)
		if err != nil {
			t.Fatalf("screen: %v", err)
		}
		if err = vncclient.NotBlank(img); err == nil && vncclient.Colours(img) < minColours {
			err = fmt.Errorf("%d colours, want at least %d", vncclient.Colours(img), minColours)
		}
		if err == nil {
			t.Logf("%s drawn %s after start; screenshot %s", im.Command[0], time.Since(started).Round(time.Millisecond),
				vncclient.SaveShot(os.Getenv("STREAMSPACE_SCREENSHOTS"), name+"-image", img))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the image's screen: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	throughGateway(t, pid, name, password)

	// Every process of the image runs as its user; the entrypoint, which holds the password in
	// its environment, cannot be read by them.
	procs := sandboxProcesses(t, pid)
	if len(procs) < 4 {
		t.Errorf("processes in the image: %v, want the entrypoint, Xvfb, the application, x11vnc", procs)
	}
	for p, uid := range procs {
		if uid != UID {
			t.Errorf("process %d runs as uid %d, want %d", p, uid, UID)
		}
	}
	if fi, err := os.Stat(fmt.Sprintf("/proc/%d/environ", pid)); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("the entrypoint's environ is not root's (%v): the application could read the password", err)
	}

	// SIGTERM stops everything in order and the entrypoint exits cleanly.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("entrypoint after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the entrypoint did not stop within 30 s of SIGTERM")
	}
}

// entrypointLayer is the image's second layer, with cmd/desktop built now (static).
func entrypointLayer(t *testing.T) *bytes.Buffer {
	bin := filepath.Join(t.TempDir(), "desktop")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/desktop")
	build.Dir, build.Env = repoRoot(), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/desktop: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var top bytes.Buffer
	if err := TarFiles(&top, EntrypointFiles(b)); err != nil {
		t.Fatal(err)
	}
	return &top
}

// sandboxProcesses maps the processes in the sandbox's PID namespace to their uids.
func sandboxProcesses(t *testing.T, pid int) map[int]int {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if l, err := os.Readlink(d + "/ns/pid"); err != nil || l != ns {
			continue
		}
		status, err := os.ReadFile(d + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
				p, _ := strconv.Atoi(filepath.Base(d))
				out[p], _ = strconv.Atoi(f[1])
			}
		}
	}
	return out
}

// checkNoPrivileges: no sudo, no setuid or setgid program, the user's home private.
func checkNoPrivileges(t *testing.T, root string) {
	for _, p := range []string{"usr/bin/sudo", "usr/bin/doas"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("the image has %s", p)
		}
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Errorf("setuid/setgid program in the image: /%s", strings.TrimPrefix(p, root+"/"))
		}
		return nil
	})
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil || !strings.Contains(string(passwd), "streamspace:x:1000:1000::"+Home+":/bin/bash") {
		t.Errorf("the image's user in /etc/passwd: %v\n%s", err, passwd)
	}
	if fi, err := os.Stat(filepath.Join(root, Home)); err != nil || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != UID {
		t.Errorf("%s: %v %v, want 0700 owned by %d", Home, fi.Mode(), err, UID)
	}
}

func untar(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("tar", append([]string{"-C", dir, "--numeric-owner", "-p"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar %v: %v\n%s", args, err, out)
	}
}

func untarFrom(t *testing.T, dir string, r *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command("tar", "-C", dir, "--numeric-owner", "-p", "-xf", "-")
	cmd.Stdin = r
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
}

// repoRoot is the repository's root: the test runs in internal/images.
func repoRoot() string {
	dir, _ := filepath.Abs(filepath.Join("..", ".."))
	return dir
}

// throughGateway puts the running image behind a real local stack's streaming gateway, as ECS
// puts a task behind the AWS one: a session whose desktop is the image, a ticket from
// POST …/connect, a viewer WebSocket to the gateway, which authenticates to the image's VNC
// server with the session's secret; the picture that comes back is the image's desktop.
func throughGateway(t *testing.T, pid int, name, password string) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.GatewayDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "image:5900" {
				return nil, fmt.Errorf("no desktop at %s", addr)
			}
			return sandbox.Dial(pid, "127.0.0.1:5900", 5*time.Second) // the image's own network
		}
	})
	alice := e.Token("alice", "")
	var s struct{ ID string }
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": name}).Want(t, 201).Decode(t, &s)
	if _, err := e.App.Sessions().ApplyRuntime(rt.WithActor(context.Background()), rt.Caller, s.ID, sessions.RuntimeUpdate{
		Runtime: sessions.Runtime{Action: sessions.ActionStart, Secret: password, Upstream: "tcp:image:5900"},
		Report:  &sessions.StatusReport{State: sessions.StateRunning}}); err != nil {
		t.Fatal(err)
	}
	ticket, err := e.Ticket(alice, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, init, err := e.Stream(s.ID, ticket)
	if err != nil {
		t.Fatalf("the image through the gateway: %v", err)
	}
	defer conn.Close()
	fb, r := rfb.NewFramebuffer(int(init.Width), int(init.Height)), bufio.NewReader(conn)
	deadline := time.Now().Add(30 * time.Second)
	for rfb.Distinct(fb.Image, 2) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the image's desktop stayed blank through the gateway")
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(rfb.UpdateRequest(false, 0, 0, init.Width, init.Height)); err != nil {
			t.Fatal(err)
		}
		for {
			typ, err := fb.ReadServerMessage(r)
			if err != nil {
				t.Fatalf("reading the desktop through the gateway: %v", err)
			}
			if typ == rfb.MsgFramebufferUpdate {
				break
			}
		}
	}
	dir := os.Getenv("STREAMSPACE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, name+"-image-through-gateway.png")
	f, err := os.Create(shot)
	if err == nil {
		err = png.Encode(f, fb.Image)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the %s image through the gateway: %dx%d %q, screenshot %s", name, init.Width, init.Height, init.Name, shot)
}

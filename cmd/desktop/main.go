// Command desktop is the desktop images' entrypoint (images/, docs/runtime.md "Desktop images"):
// as the image's unprivileged user it runs a virtual display, the application given as its
// arguments and a VNC server on TCP port 5900 behind the password in STREAMSPACE_VNC_PASSWORD,
// with the same launcher (internal/desktop) as the local runtime, and stops them in reverse
// order on SIGTERM. It ends when any of them ends, so ECS sees the session's task stop.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"streamspace/internal/desktop"
)

// PasswordEnv carries the session's VNC password (from the task's environment file in S3).
const PasswordEnv = "STREAMSPACE_VNC_PASSWORD"

func main() {
	port := flag.Int("port", 5900, "TCP port of the VNC server")
	geometry := flag.String("geometry", envOr("STREAMSPACE_GEOMETRY", "1280x800x24"), "virtual screen WxHxDepth")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] application [arguments]\n(the VNC password comes from $%s)\n", os.Args[0], PasswordEnv)
		flag.PrintDefaults()
	}
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("[desktop] ")
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	password := os.Getenv(PasswordEnv)
	if password == "" {
		log.Fatalf("%s is not set: the VNC server must not run without a password", PasswordEnv)
	}
	if len(password) > 8 {
		log.Printf("%s has %d characters; classic VNC authentication uses the first 8", PasswordEnv, len(password))
	}
	// The password stays in this process's initial environment (/proc/1/environ), which the
	// application, running as the same user, could read: not dumpable makes this process's
	// /proc files root's and refuses tracing it. The children's environment never holds it.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		log.Printf("cannot make the entrypoint undumpable: %v", errno)
	}
	home := envOr("HOME", "/home/streamspace")
	run, err := os.MkdirTemp("", "desktop-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(run)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := desktop.Start(ctx, desktop.Spec{App: flag.Args(), Home: home, RunDir: run, DisplayDir: run,
		Geometry: *geometry, Env: childEnv(), VNCPort: *port, Password: password, Output: labelled})
	if err != nil {
		log.Printf("the desktop did not start: %v", err)
		os.Exit(1)
	}
	log.Printf("display %s, application %q, VNC server on port %d", d.Display, flag.Args(), *port)
	ended := make(chan string, 1)
	go func() {
		name, err := d.Wait()
		ended <- fmt.Sprintf("%s ended (%v)", name, err)
	}()
	select {
	case <-ctx.Done():
		log.Printf("stopping")
		d.Stop()
	case why := <-ended:
		log.Print(why)
		d.Stop()
		os.RemoveAll(run)
		os.Exit(1)
	}
}

// childEnv is this process's environment without the password and what the desktop sets.
func childEnv() []string {
	var env []string
	hasPath := false
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "STREAMSPACE_"), k == "DISPLAY", k == "HOME", k == "XAUTHORITY", k == "XDG_RUNTIME_DIR":
			continue
		case k == "PATH":
			hasPath = true
		}
		env = append(env, kv)
	}
	if !hasPath {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return env
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// labelled writes a process's output to stderr (the task's log stream), each line prefixed with
// the process's name.
func labelled(name string) (io.WriteCloser, error) {
	return &lineWriter{prefix: "[" + name + "] "}, nil
}

var stderrMu sync.Mutex

type lineWriter struct {
	prefix string
	buf    bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			w.buf.Write(line) // an unfinished line waits for its end
			return len(p), nil
		}
		stderrMu.Lock()
		out := bufio.NewWriter(os.Stderr)
		out.WriteString(w.prefix)
		out.Write(line)
		out.Flush()
		stderrMu.Unlock()
	}
}

// Close does nothing: the launcher closes its copy once the process started, while os/exec
// still copies the process's output into the writer.
func (w *lineWriter) Close() error { return nil }

package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The application's environment never holds the VNC password, nor what the desktop sets.
func TestChildEnv(t *testing.T) {
	t.Setenv(PasswordEnv, "secret12")
	t.Setenv("DISPLAY", ":99")
	t.Setenv("TZ", "Europe/Paris")
	env := childEnv()
	for _, kv := range env {
		if strings.Contains(kv, "secret12") || strings.HasPrefix(kv, "DISPLAY=") {
			t.Errorf("child environment holds %q", kv)
		}
	}
	if !slices.Contains(env, "TZ=Europe/Paris") {
		t.Errorf("child environment lost TZ: %v", env)
	}
}

// Each process's output reaches the log one labelled line at a time, whatever the writes.
func TestLabelledLines(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	lw, _ := labelled("app")
	lw.Write([]byte("one\ntw"))
	lw.Write([]byte("o\nthree"))
	os.Stderr = saved
	w.Close()
	b := make([]byte, 100)
	n, _ := r.Read(b)
	if got := string(b[:n]); got != "[app] one\n[app] two\n" {
		t.Fatalf("log %q", got)
	}
}

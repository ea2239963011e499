package console

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"streamspace/internal/testenv/tier"
)

func testHandler(t *testing.T) *Handler {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>console</title>"), 0o644))
	must(t, os.MkdirAll(filepath.Join(dir, "assets"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "assets", "app-1.js"), []byte("console.log(1)"), 0o644))
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Next", "1"); w.WriteHeader(404) })
	return &Handler{Dir: dir, Next: next, Reserved: []string{"/api/", "/gateway/", "/.well-known/"},
		Config: Config{SignIn: "local", WebSocketURL: "ws://127.0.0.1:1/"},
		Mint: func(user, role string) (string, time.Time, error) {
			return "tok:" + user + ":" + role, time.Now().Add(time.Hour), nil
		}}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func do(h http.Handler, method, target, host string, body string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Client routes get the page; the API, the gateway, the JWKS and unknown files never do.
func TestServesClientRoutesWithoutShadowing(t *testing.T) {
	h := testHandler(t)
	for _, p := range []string{"/", "/sessions/sess_1", "/invite/abc", "/teams/team_1", "/api-keys"} {
		w := do(h, "GET", p, "127.0.0.1:8080", "", nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "<title>console") || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: %d %q %v", p, w.Code, w.Body.String(), w.Header())
		}
	}
	for _, p := range []string{"/api/v1/nope", "/api/v1/sessions", "/gateway/s/sess_1", "/gateway/ws/sess_1", "/.well-known/jwks.json", "/favicon.ico", "/assets/../go.mod"} {
		if w := do(h, "GET", p, "127.0.0.1:8080", "", nil); w.Header().Get("X-Next") != "1" && w.Code != 404 {
			t.Errorf("GET %s answered by the console: %d %q", p, w.Code, w.Body.String())
		}
	}
	if w := do(h, "POST", "/sessions/x", "127.0.0.1:8080", "", nil); w.Header().Get("X-Next") != "1" {
		t.Errorf("POST to a client route answered by the console: %d", w.Code)
	}
	w := do(h, "GET", "/assets/app-1.js", "127.0.0.1:8080", "", nil)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("asset: %d %v", w.Code, w.Header())
	}
	w = do(h, "GET", "/config.json", "127.0.0.1:8080", "", nil)
	var c Config
	if json.Unmarshal(w.Body.Bytes(), &c); c.SignIn != "local" || c.WebSocketURL == "" {
		t.Errorf("config: %s", w.Body.String())
	}
}

// The local sign-in mints only for a same-origin JSON POST to a loopback host, with a valid
// name and role; the token is in the body, never cached.
func TestLocalSignIn(t *testing.T) {
	h := testHandler(t)
	json := map[string]string{"Content-Type": "application/json"}
	w := do(h, "POST", TokenPath, "127.0.0.1:8080", `{"user":"alice","role":"admin"}`, map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:8080"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"tok:alice:admin"`) || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-in: %d %s %v", w.Code, w.Body.String(), w.Header())
	}
	if w := do(h, "POST", TokenPath, "127.0.0.1:8080", `{"user":"bob","role":"user"}`, json); !strings.Contains(w.Body.String(), `"tok:bob:"`) {
		t.Fatalf("a plain user: %s", w.Body.String())
	}
	for _, c := range []struct {
		name, host, body string
		hdr              map[string]string
		want             int
	}{
		{"GET", "127.0.0.1:8080", "", nil, 405},
		{"another origin", "127.0.0.1:8080", `{"user":"a"}`, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, 403},
		{"a rebound host name", "evil.example:8080", `{"user":"a"}`, json, 403},
		{"a form post", "127.0.0.1:8080", `user=a`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"a bad name", "127.0.0.1:8080", `{"user":"a b"}`, json, 400},
		{"an empty name", "127.0.0.1:8080", `{"user":""}`, json, 400},
		{"a bad role", "127.0.0.1:8080", `{"user":"a","role":"root"}`, json, 400},
		{"junk", "127.0.0.1:8080", `{"user":`, json, 400},
		{"an unknown field", "127.0.0.1:8080", `{"user":"a","sub":"b"}`, json, 400},
	} {
		method := "POST"
		if c.name == "GET" {
			method = "GET"
		}
		w := do(h, method, TokenPath, c.host, c.body, c.hdr)
		if w.Code != c.want || strings.Contains(w.Body.String(), "tok:") || !strings.Contains(w.Header().Get("Content-Type"), "problem+json") {
			t.Errorf("%s: %d %s, want %d problem", c.name, w.Code, w.Body.String(), c.want)
		}
	}
}

// The budget: the console's JavaScript is at most 200 KB gzipped (noVNC is not in it:
// the gateway's viewer page loads it, only when a desktop opens).
func TestBundleBudget(t *testing.T) {
	tier.Integration(t, "the console's build, which make test makes with npm and Vite")
	dir := DefaultDir()
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(ErrNotBuilt)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "assets", "*.js"))
	if len(files) == 0 || !regexp.MustCompile(`src="/assets/[^"]+\.js"`).Match(index) {
		t.Fatalf("no JavaScript in the build: %v", files)
	}
	total := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		if bytes.Contains(b, []byte("noVNC")) || bytes.Contains(b, []byte("RFB")) && bytes.Contains(b, []byte("_rfbConnectionState")) {
			t.Errorf("%s carries noVNC: the viewer must load only with a desktop", f)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		total += gz.Len()
	}
	t.Logf("console JavaScript: %d files, %.1f KB gzipped (budget 200 KB)", len(files), float64(total)/1024)
	if total > 200*1024 {
		t.Fatalf("console JavaScript is %d bytes gzipped, over the 200 KB budget", total)
	}
}

// Nothing that ships to AWS (the functions, the gateway program) may contain the local sign-in.
func TestAbsentFromTheAWSBuild(t *testing.T) {
	tier.Integration(t, "the go command")
	out, err := exec.Command("go", "list", "-deps", "../../../functions/...", "../../../cmd/gateway").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "streamspace/internal/local/") {
		t.Fatalf("an AWS program depends on the local stack:\n%s", out)
	}
}

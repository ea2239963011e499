package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"streamspace/internal/local/console"
)

// fakeIdP is an OpenID Connect provider as the console meets Cognito's hosted UI: discovery,
// an authorize endpoint that signs "alice" in at once, a token endpoint that insists on the PKCE
// verifier (S256) and the registered redirect, and Cognito's logout (client_id, logout_uri).
type fakeIdP struct {
	t        *testing.T
	srv      *httptest.Server
	clientID string
	redirect string // the console's callback, as registered

	mu        sync.Mutex
	codes     map[string]string // code → code_challenge
	issued    string            // the last ID token
	verified  int               // token requests whose verifier matched
	loggedOut url.Values
}

func newFakeIdP(t *testing.T, clientID string) *fakeIdP {
	f := &fakeIdP{t: t, clientID: clientID, codes: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.json(w, 200, map[string]any{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint": f.srv.URL + "/token", "jwks_uri": f.srv.URL + "/jwks", "response_types_supported": []string{"code"},
			"code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for k, want := range map[string]string{"response_type": "code", "client_id": f.clientID, "redirect_uri": f.redirect, "code_challenge_method": "S256"} {
			if q.Get(k) != want {
				http.Error(w, k+" is "+q.Get(k)+", want "+want, 400)
				return
			}
		}
		if q.Get("code_challenge") == "" || q.Get("state") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "no code_challenge, state or openid scope", 400)
			return
		}
		code := "code-" + q.Get("state")[:8]
		f.mu.Lock()
		f.codes[code] = q.Get("code_challenge")
		f.mu.Unlock()
		http.Redirect(w, r, f.redirect+"?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			f.json(w, 400, map[string]string{"error": "invalid_request"})
			return
		}
		f.mu.Lock()
		challenge, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code")) // a code works once
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("client_id") != f.clientID ||
			r.PostForm.Get("redirect_uri") != f.redirect || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			f.json(w, 400, map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now()
		id, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": f.srv.URL, "aud": f.clientID, "sub": "alice",
			"email": "alice@example.com", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}).SignedString([]byte("test"))
		if err != nil {
			t.Error(err)
		}
		f.mu.Lock()
		f.issued, f.verified = id, f.verified+1
		f.mu.Unlock()
		f.json(w, 200, map[string]any{"id_token": id, "access_token": "opaque", "token_type": "Bearer", "expires_in": 3600})
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.loggedOut = r.URL.Query()
		f.mu.Unlock()
		http.Redirect(w, r, r.URL.Query().Get("logout_uri"), http.StatusFound)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// json answers with CORS open, as Cognito's endpoints do for a browser app.
func (f *fakeIdP) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeIdP) state() (issued string, verified int, loggedOut url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued, f.verified, f.loggedOut
}

// TestConsoleOIDCSignIn is the console's sign-in in AWS, without AWS: the built console served
// with an "oidc" config.json (the shape of the stack's ConsoleConfig output) signs in through an
// OIDC provider with the authorization code flow and PKCE (oidc-client-ts in Chromium), comes
// back to the page the visitor asked for without the code in the address bar, calls the API
// with the ID token, and signs out through Cognito's logout address. What it cannot show: the
// real hosted UI, and Cognito's own checks of the registered callback.
func TestConsoleOIDCSignIn(t *testing.T) {
	dir := console.DefaultDir()
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Fatal(console.ErrNotBuilt)
	}
	idp := newFakeIdP(t, "console-client")
	var authorized sync.Map
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		issued, _, _ := idp.state()
		ok := issued != "" && r.Header.Get("Authorization") == "Bearer "+issued
		if !ok {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"title":"Unauthorized","status":401}`))
			return
		}
		authorized.Store(r.URL.Path, true)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/users/me" {
			_, _ = w.Write([]byte(`{"id":"alice","role":"user","email":"alice@example.com"}`))
			return
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	})
	h := &console.Handler{Dir: dir, Next: api, Reserved: []string{"/api/"},
		Config: console.Config{SignIn: "oidc", WebSocketURL: "ws://127.0.0.1:1/",
			OIDC: &console.OIDC{Authority: idp.srv.URL, ClientID: "console-client", Scope: "openid email profile", LogoutURL: idp.srv.URL + "/logout"}}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	idp.redirect = srv.URL + "/auth/callback"

	p := &page{t: t, ctx: browser(t), base: srv.URL, name: "alice"}
	// A bookmarked page while signed out: the sign-in page, then the provider, then that page.
	p.visit("/teams")
	p.wait("the sign-in button", `[...document.querySelectorAll("button")].some(b => b.textContent.trim() === "Sign in")`, 15*time.Second)
	if p.js(`document.getElementById("signin-user") ? "local" : ""`) != "" {
		t.Fatal("the local sign-in form is shown with an OIDC configuration")
	}
	p.audit("oidc-sign-in")
	p.clickText("Sign in")
	p.waitAcross("signed in", `(document.querySelector(".who") || {}).textContent?.includes("alice")`, 20*time.Second)
	p.wait("back on /teams", `location.pathname === "/teams"`, 5*time.Second)
	issued, verified, _ := idp.state()
	if verified != 1 {
		t.Fatalf("token requests with a matching PKCE verifier: %d, want 1", verified)
	}
	if got := p.js(`location.search + location.hash`); got != "" {
		t.Errorf("the address keeps %q after sign-in; the code must leave it", got)
	}
	if got := p.js(`localStorage.getItem("streamspace.token") || ""`); got != issued {
		t.Errorf("the API token is %.20q…, want the provider's ID token", got)
	}
	if _, ok := authorized.Load("/api/v1/users/me"); !ok {
		t.Error("the console did not call /users/me with the ID token")
	}

	// Sign out: the token is gone here, and the provider's logout is asked to come back.
	p.clickText("Sign out")
	p.waitAcross("signed out", `[...document.querySelectorAll("button")].some(b => b.textContent.trim() === "Sign in")`, 15*time.Second)
	_, _, out := idp.state()
	if out.Get("client_id") != "console-client" || out.Get("logout_uri") != srv.URL+"/" {
		t.Errorf("the provider's logout got %v, want client_id console-client and logout_uri %s/", out, srv.URL)
	}
	if got := p.js(`localStorage.getItem("streamspace.token") || ""`); got != "" {
		t.Error("the token stayed in localStorage after sign-out")
	}
}

// waitAcross waits for a condition through page loads (the provider's redirects), which end a
// single poll.
func (p *page) waitAcross(what, cond string, within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](cond))
		if err == nil && v {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
			p.t.Fatalf("%s: %s: not within %s (%v)\npage: %s", p.name, what, within, err, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

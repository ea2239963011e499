// Package console serves the web console on the local stack's HTTP address, one origin with the
// API and the streaming gateway: the built files, index.html for the console's own addresses
// (so /sessions/<id> or /invite/<token> can be reloaded), its configuration, and the local
// sign-in endpoint. It lives under internal/local: no Lambda and no AWS build imports it; in
// AWS the same files come from S3 through CloudFront and sign-in goes to the user pool.
package console

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"streamspace/internal/local/repo"
)

// Config is what the page reads from /config.json before anything else: served here, and in
// AWS written by make deploy-console from the stack's ConsoleConfig output (one shape:
// internal/infratest decodes that output into this type).
type Config struct {
	SignIn       string `json:"signIn"` // "local" here; "oidc" in AWS
	WebSocketURL string `json:"websocketUrl"`
	OIDC         *OIDC  `json:"oidc,omitempty"`
}

// OIDC is the identity provider the console signs in with (authorization code + PKCE): the
// stack's Cognito user pool or the issuer of its JwtIssuer parameter.
type OIDC struct {
	Authority string `json:"authority"` // the issuer; its discovery document names the endpoints
	ClientID  string `json:"clientId"`  // a public client: the API's JWT audience
	Scope     string `json:"scope"`
	// LogoutURL is Cognito's hosted UI logout, which its discovery document does not name.
	LogoutURL string `json:"logoutUrl,omitempty"`
}

// Minter signs a token for a user and platform role ("" = plain user).
type Minter func(user, role string) (token string, expires time.Time, err error)

// Handler serves the console, and hands every other request to Next.
type Handler struct {
	Dir    string // the built console (index.html, assets/)
	Config Config
	Mint   Minter
	Next   http.Handler
	// Reserved path prefixes that always go to Next, whatever the console has: the API, the
	// gateway, the issuer's JWKS, local objects.
	Reserved []string
}

// TokenPath is the local sign-in endpoint (POST {user, role} → {token, expiresAt}).
const TokenPath = "/local/token"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	for _, pre := range h.Reserved {
		if strings.HasPrefix(p, pre) {
			h.Next.ServeHTTP(w, r)
			return
		}
	}
	switch {
	case p == TokenPath:
		h.token(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		h.Next.ServeHTTP(w, r)
	case p == "/config.json":
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(h.Config)
	case strings.HasPrefix(p, "/assets/"):
		h.file(w, r, p, "public, max-age=31536000, immutable") // names carry their content hash
	case path.Ext(p) == "":
		// A client route: the page decides what to show (and says "not found" itself).
		h.file(w, r, "/index.html", "no-cache")
	default:
		h.Next.ServeHTTP(w, r)
	}
}

// csp lets the page load only its own files and frame only the gateway's viewer (same origin);
// WebSockets may go to the WebSocket API's own port, and fetches to the sign-in issuer (its
// discovery document and token endpoint) when one is configured.
func (h *Handler) csp() string {
	connect := "'self' ws: wss:"
	if h.Config.OIDC != nil {
		if u, err := url.Parse(h.Config.OIDC.Authority); err == nil && u.Scheme != "" && u.Host != "" {
			connect += " " + u.Scheme + "://" + u.Host
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect + "; " +
		"frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
}

func (h *Handler) file(w http.ResponseWriter, r *http.Request, name, cache string) {
	clean := path.Clean("/" + name)
	f, err := os.Open(filepath.Join(h.Dir, filepath.FromSlash(clean)))
	if err != nil {
		if name == "/index.html" {
			// The console was not built: say how, rather than a bare 404.
			http.Error(w, "The console is not built: run `make run` (it builds console/ with npm).", http.StatusServiceUnavailable)
			return
		}
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	if ct := mime.TypeByExtension(path.Ext(clean)); ct != "" {
		hd.Set("Content-Type", ct)
	}
	hd.Set("Cache-Control", cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if clean == "/index.html" {
		hd.Set("Content-Security-Policy", h.csp())
		hd.Set("X-Frame-Options", "DENY")
	}
	http.ServeContent(w, r, clean, st.ModTime(), f)
}

var userRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// token mints a token for the user and role in the body. The token travels only in this
// response's body (no-store), never in a URL. Only same-origin JSON requests to a loopback host
// are served: a JSON body makes a cross-site request preflight (which this never answers), the
// Origin check refuses the rest, and the Host check refuses DNS rebinding.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		problem(w, http.StatusMethodNotAllowed, "Use POST.")
		return
	}
	if !loopback(r.Host) {
		problem(w, http.StatusForbidden, "Local sign-in answers on a loopback address only.")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
		problem(w, http.StatusForbidden, "Local sign-in answers the console's own origin only.")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		problem(w, http.StatusUnsupportedMediaType, "Send the user and role as application/json.")
		return
	}
	var in struct{ User, Role string }
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "The body must be {\"user\": …, \"role\": …}.")
		return
	}
	if !userRE.MatchString(in.User) {
		problem(w, http.StatusBadRequest, "user: 1 to 64 letters, digits, dots, dashes, underscores or @.")
		return
	}
	role := in.Role
	switch role {
	case "user", "":
		role = ""
	case "operator", "admin":
	default:
		problem(w, http.StatusBadRequest, "role: user, operator or admin.")
		return
	}
	tok, exp, err := h.Mint(in.User, role)
	if err != nil {
		problem(w, http.StatusInternalServerError, "The local issuer could not sign a token.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expiresAt": exp.UTC().Format(time.RFC3339)})
}

func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
}

// DefaultDir finds the built console in the repository's .cache (from any folder inside it, as
// tests run in their package's folder); STREAMSPACE_CONSOLE_DIR overrides.
func DefaultDir() string { return repo.Cache("STREAMSPACE_CONSOLE_DIR", "console", "dist") }

// ErrNotBuilt says how to build the console when a test needs it.
var ErrNotBuilt = errors.New("the console is not built in .cache/console/dist: run `make console` (make test and make run do)")

package httpx

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/routes"
)

// HandlerFunc is a route handler; a returned error becomes the response.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Guard runs after authentication and before the handler of every non-public route. It is where
// per-route rules that hold for all functions live (API-key scopes, rate limits); it may set
// response headers.
type Guard func(w http.ResponseWriter, r *http.Request, c auth.Caller, rt routes.Route) error

// Observer sees every authenticated request once it is answered (API-key usage records). It runs
// before the function returns, so what it writes is committed with the response.
type Observer func(r *http.Request, c auth.Caller, rt routes.Route, status int)

// Authenticator turns a request's credentials into its caller. A refusal is a problem (401);
// any other error is a server fault.
type Authenticator func(r *http.Request, rt routes.Route) (auth.Caller, error)

// Hooks are the cross-cutting rules a function's router applies. Without Authenticate, every
// route that is not public answers 401.
type Hooks struct {
	Authenticate Authenticator
	Guards       []Guard
	Observers    []Observer
}

// ScopeGuard refuses API keys on token-only routes and keys that lack the route's scope.
func ScopeGuard(_ http.ResponseWriter, _ *http.Request, c auth.Caller, rt routes.Route) error {
	if rt.TokenOnly && c.ViaAPIKey() {
		return problem.Forbidden("API keys cannot manage API keys; use a token")
	}
	if rt.Scope != "" && !c.HasScope(rt.Scope) {
		return problem.Forbidden("this API key lacks the scope " + rt.Scope)
	}
	return nil
}

// Router serves one function's routes. It only accepts patterns that the route table assigns
// to its function, authenticates every non-public request (Hooks.Authenticate), applies
// the guards, recovers panics and logs one structured line per request.
type Router struct {
	fn           string
	authenticate Authenticator
	mux          *http.ServeMux
	table        map[string]routes.Route
	registered   map[string]bool
	log          *slog.Logger
	guards       []Guard
	observers    []Observer
}

func NewRouter(fn string, log *slog.Logger, hooks Hooks) *Router {
	rt := &Router{fn: fn, mux: http.NewServeMux(), table: map[string]routes.Route{}, registered: map[string]bool{},
		// Every request made with a key counts against its limit, refused ones included, so the
		// hooks (rate limit) run before the scope check.
		log: log, guards: append(append([]Guard(nil), hooks.Guards...), ScopeGuard), observers: hooks.Observers,
		authenticate: hooks.Authenticate}
	for _, r := range routes.ForFunction(fn) {
		rt.table[r.MuxPattern()] = r
	}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, problem.NotFound("route"))
	})
	return rt
}

// Handle registers h for a route of the table; a pattern the table does not give this function
// is a programming error caught at start-up.
func (rt *Router) Handle(pattern string, h HandlerFunc) {
	route, ok := rt.table[pattern]
	if !ok {
		panic(fmt.Sprintf("route %q is not in the route table for function %q", pattern, rt.fn))
	}
	rt.registered[pattern] = true
	rt.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { rt.serve(w, r, route, h) })
}

// Unregistered lists table routes of this function that have no handler.
func (rt *Router) Unregistered() []string {
	var out []string
	for p := range rt.table {
		if !rt.registered[p] {
			out = append(out, p)
		}
	}
	return out
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (rt *Router) serve(w http.ResponseWriter, r *http.Request, route routes.Route, h HandlerFunc) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	gw, _ := core.GetAPIGatewayV2ContextFromContext(r.Context())
	var caller auth.Caller
	attrs := []any{slog.String("route", route.Key()), slog.String("requestId", gw.RequestID)}
	defer func() {
		if p := recover(); p != nil {
			rt.log.Error("panic", append(attrs, slog.Any("panic", p), slog.String("stack", string(debug.Stack())))...)
			if rec.status == 0 {
				WriteProblem(rec, problem.Internal())
			}
		}
		rt.log.Info("request", append(attrs, slog.String("callerId", caller.UserID), slog.String("keyId", caller.KeyID),
			slog.Int("status", rec.status), slog.Float64("latencyMs", float64(time.Since(start).Microseconds())/1000))...)
	}()
	err := func() error {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			return problem.Invalid("query", "malformed query string")
		}
		if !route.Public {
			if rt.authenticate == nil {
				return problem.Unauthorized("valid credentials are required")
			}
			c, err := rt.authenticate(r, route)
			if err != nil {
				return err
			}
			caller = c
			ua := r.UserAgent()
			if len(ua) > 256 {
				ua = ua[:256]
			}
			ctx := auth.WithCaller(r.Context(), c)
			ctx = auth.WithActor(ctx, auth.Actor{UserID: c.UserID, KeyID: c.KeyID, IP: gw.HTTP.SourceIP, UserAgent: ua})
			r = r.WithContext(ctx)
			for _, g := range rt.guards {
				if err := g(rec, r, c, route); err != nil {
					return err
				}
			}
		}
		return h(rec, r)
	}()
	if err != nil {
		p := problem.As(err)
		if p == nil {
			rt.log.Error("internal error", append(attrs, slog.String("error", err.Error()))...)
			p = problem.Internal()
		}
		WriteProblem(rec, p)
	}
	if caller.UserID != "" {
		for _, o := range rt.observers {
			o(r, caller, route, rec.status)
		}
	}
}

// Caller returns the authenticated caller of a request that passed the router.
func Caller(r *http.Request) auth.Caller {
	c, _ := auth.CallerFrom(r.Context())
	return c
}

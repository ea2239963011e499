// Package gateway emulates API Gateway on loopback: an HTTP API that turns each request into the
// real payload-2.0 event (route key, path parameters, authorizer context) and invokes the
// function's handler in process, and a WebSocket API with its management API.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"streamspace/internal/routes"
)

// HTTPFunction is an HTTP API function's Lambda handler.
type HTTPFunction func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

const (
	accountID = "000000000000"
	apiID     = "local"
	region    = "us-east-1"
)

// HTTP is the HTTP API emulator.
type HTTP struct {
	mux         *http.ServeMux
	functions   map[string]HTTPFunction
	corsOrigins []string
	log         *slog.Logger
}

// NewHTTP routes every entry of the route table to its function; extra handlers (the local
// issuer's JWKS) are served beside them. Like the deployed HTTP API it runs no authorizer: the
// functions authenticate their callers.
func NewHTTP(functions map[string]HTTPFunction, corsOrigins []string, log *slog.Logger, extra map[string]http.Handler) *HTTP {
	g := &HTTP{mux: http.NewServeMux(), functions: functions, corsOrigins: corsOrigins, log: log}
	for _, rt := range routes.All {
		rt := rt
		g.mux.HandleFunc(rt.MuxPattern(), func(w http.ResponseWriter, r *http.Request) { g.invoke(w, r, rt) })
	}
	for p, h := range extra {
		g.mux.Handle(p, h)
	}
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		gatewayError(w, http.StatusNotFound, "Not Found")
	})
	return g
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// ServeHTTP applies CORS as the HTTP API's CORS configuration would, then routes.
func (g *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && g.originAllowed(origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
		w.Header().Set("Access-Control-Expose-Headers", "ETag, Location, Idempotent-Replayed, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, Idempotency-Key, If-Match")
			w.Header().Set("Access-Control-Max-Age", "3600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	g.mux.ServeHTTP(w, r)
}

func (g *HTTP) originAllowed(o string) bool {
	return slices.Contains(g.corsOrigins, "*") || slices.Contains(g.corsOrigins, o)
}

var paramRE = regexp.MustCompile(`\{([^}+]+)\+?\}`)

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func flatten(h map[string][]string, lower bool) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if lower {
			k = strings.ToLower(k)
		}
		out[k] = strings.Join(v, ",")
	}
	return out
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Event builds the payload-2.0 event API Gateway would send for r on route rt.
func Event(r *http.Request, rt routes.Route, body []byte) events.APIGatewayV2HTTPRequest {
	now := time.Now()
	headers := flatten(r.Header, true)
	delete(headers, "cookie")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.Key(), RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: headers, Cookies: r.Header.Values("Cookie"),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Key(), AccountID: accountID, Stage: "$default", RequestID: requestID(), APIID: apiID,
			DomainName: r.Host, DomainPrefix: strings.Split(r.Host, ".")[0], Time: now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path,
				Protocol: r.Proto, SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
		},
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = flatten(q, false)
	}
	for _, m := range paramRE.FindAllStringSubmatch(rt.Path, -1) {
		if ev.PathParameters == nil {
			ev.PathParameters = map[string]string{}
		}
		ev.PathParameters[m[1]] = r.PathValue(m[1])
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func (g *HTTP) invoke(w http.ResponseWriter, r *http.Request, rt routes.Route) {
	fn := g.functions[rt.Function]
	if fn == nil {
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	// API Gateway's own payload limit is 10 MB; the function enforces the API's smaller one.
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20+1))
	if err != nil || len(body) > 10<<20 {
		gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := Event(r, rt, body)
	ctx := context.WithValue(r.Context(), inRequest{}, true)
	resp, err := safeInvoke(ctx, fn, ev)
	if err != nil {
		g.log.Error("function failed", slog.String("function", rt.Function), slog.String("error", err.Error()))
		gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, resp)
}

func safeInvoke(ctx context.Context, fn HTTPFunction, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError{p}
		}
	}()
	return fn(ctx, ev)
}

type panicError struct{ v any }

func (p panicError) Error() string { return "panic in function" }

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type inRequest struct{}

// InRequest reports whether ctx is that of an HTTP request through this gateway (its function's
// calls), as opposed to background work such as the notifier's.
func InRequest(ctx context.Context) bool { v, _ := ctx.Value(inRequest{}).(bool); return v }

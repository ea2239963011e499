// Package gateway is the streaming gateway: the only way from a browser to a desktop. A viewer
// presents a single-use ticket from POST /sessions/{id}/connect; the gateway opens the
// connection the ticket names, speaks VNC to the desktop on the viewer's behalf with the
// session's internal secret, lets through only what the viewer's level allows, and closes the
// stream within seconds of the viewer's access ending. docs/gateway.md describes it.
package gateway

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ids"
	"streamspace/internal/rfb"
	"streamspace/internal/routes"
	"streamspace/internal/sessions"
	"streamspace/internal/tickets"
)

// Prefix is where everything the gateway serves lives, so one CloudFront distribution (or the
// local HTTP front) can route it beside the API.
const Prefix = "/gateway/"

// Config of a gateway.
type Config struct {
	Tickets   *tickets.Keyring
	Authority *Authority
	// NoVNCDir holds the pinned noVNC client (its core/ and vendor/ folders are served).
	NoVNCDir string
	Log      *slog.Logger
	// CheckEvery is the re-check period of every open stream's access (default 2 s: with a
	// check's own time, an ended access closes its stream well within 5 s).
	CheckEvery time.Duration
	// MaxStreams bounds open streams, MaxPending the WebSockets not yet past their ticket.
	MaxStreams, MaxPending int
	// Dial reaches a desktop (default net.Dialer); tests inject faults.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Recorder makes gateway recordings (record.go); nil: this gateway records nothing.
	Recorder *Recorder
}

// Server is a running gateway: an http.Handler plus its re-check loop (Run).
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	pending chan struct{}

	handlers sync.WaitGroup // stream handlers still running (Wait)

	mu        sync.Mutex
	bySession map[string]map[*Stream]bool
	count     int
	closed    bool
}

//go:embed web
var web embed.FS

// New builds a gateway.
func New(cfg Config) *Server {
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 2 * time.Second
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 20000
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 512
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		cfg.Dial = d.DialContext
	}
	if cfg.Recorder != nil && cfg.Recorder.Dial == nil {
		cfg.Recorder.Dial = cfg.Dial
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), pending: make(chan struct{}, cfg.MaxPending), bySession: map[string]map[*Stream]bool{}}
	handlers := map[string]http.Handler{
		Prefix + "healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok\n"))
		}),
		Prefix + "s/{id}":          http.HandlerFunc(s.viewer),
		Prefix + "viewer.js":       s.asset("viewer.js", "text/javascript"),
		Prefix + "viewer.css":      s.asset("viewer.css", "text/css"),
		Prefix + "novnc/{file...}": http.StripPrefix(Prefix+"novnc/", s.novnc()),
		Prefix + "ws/{id}":         http.HandlerFunc(s.stream),
	}
	for _, r := range routes.Gateway {
		h, ok := handlers[r.Path]
		if !ok {
			panic("gateway: no handler for " + r.Path) // the route table and this list are one change
		}
		s.mux.Handle(r.Method+" "+r.Path, h)
		delete(handlers, r.Path)
	}
	if len(handlers) > 0 {
		panic(fmt.Sprintf("gateway: handlers outside the route table: %v", handlers))
	}
	s.mux.HandleFunc(Prefix, func(w http.ResponseWriter, _ *http.Request) { plain(w, http.StatusNotFound, "not found") })
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Wait waits (up to 10 s) for the streams that Run's end closed to record their end.
func (s *Server) Wait() {
	done := make(chan struct{})
	go func() { s.handlers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// viewer serves the page that opens a stream; the ticket stays in the fragment until the page's
// script moves it into the WebSocket handshake.
func (s *Server) viewer(w http.ResponseWriter, r *http.Request) {
	if !ids.Valid("sess", r.PathValue("id")) {
		plain(w, http.StatusNotFound, "no such session")
		return
	}
	b, _ := web.ReadFile("web/viewer.html")
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "+
		"style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
	_, _ = w.Write(b)
}

func (s *Server) asset(name, ctype string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := web.ReadFile("web/" + name)
		w.Header().Set("Content-Type", ctype+"; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(b)
	})
}

// novnc serves the client's modules only (core/, vendor/), never a listing.
func (s *Server) novnc() http.Handler {
	files := http.FileServer(http.Dir(s.cfg.NoVNCDir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		if s.cfg.NoVNCDir == "" || strings.HasSuffix(r.URL.Path, "/") ||
			!(strings.HasPrefix(p, "/core/") || strings.HasPrefix(p, "/vendor/")) {
			plain(w, http.StatusNotFound, "not found")
			return
		}
		if _, err := os.Stat(s.cfg.NoVNCDir + p); err != nil {
			plain(w, http.StatusNotFound, "not found")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// stream is one viewer WebSocket, from the ticket to the end of the stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	select {
	case s.pending <- struct{}{}:
	default:
		plain(w, http.StatusServiceUnavailable, "too many viewers are connecting; retry in a moment")
		return
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-s.pending
		}
	}
	defer release()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"},
		// The ticket is the credential and works once: the page's origin adds nothing to it, and
		// the console that embeds the viewer may live on another origin.
		InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the client
	}
	ws.SetReadLimit(rfb.MaxCutText + 64)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()

	ticket := tickets.FromProtocols(strings.Split(strings.Join(r.Header.Values("Sec-WebSocket-Protocol"), ","), ","))
	t, level, ref := s.verify(ticket)
	if ref == nil && t.SessionID != r.PathValue("id") {
		ref = refuse(CodeTicket, "this link is for another session")
	}
	if ref != nil {
		s.refused(ws, r, t, ref)
		return
	}
	ctx = auth.WithActor(ctx, auth.Actor{UserID: t.UserID, KeyID: t.KeyID, IP: clientIP(r), UserAgent: r.UserAgent()})
	st, ref, err := s.open(ctx, t, level, ws)
	if err != nil {
		s.cfg.Log.ErrorContext(ctx, "stream not opened", slog.String("sessionId", t.SessionID), slog.String("error", err.Error()))
		ref = refuse(CodeInternal, "the gateway could not open the stream; try again")
	}
	if ref != nil {
		s.refused(ws, r, t, ref)
		return
	}
	viewer := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	_ = viewer.SetDeadline(time.Now().Add(10 * time.Second))
	init := st.init
	if _, err := rfb.Accept(viewer, init); err != nil {
		st.Close(refuse(CodeProtocol, "the viewer did not complete the RFB handshake"))
		s.finish(st.Stream, r, st.reason)
		return
	}
	_ = viewer.SetDeadline(time.Time{})
	release()
	if ref := s.register(st.Stream); ref != nil {
		st.Close(ref)
		s.finish(st.Stream, r, st.reason)
		return
	}
	s.cfg.Log.InfoContext(ctx, "stream opened", s.attrs(st.Stream, r)...)
	reason := st.run(ctx, bufio.NewReaderSize(viewer, 4096))
	s.unregister(st.Stream)
	s.finish(st.Stream, r, reason)
}

type opened struct {
	*Stream
	init rfb.ServerInit
}

func (s *Server) verify(ticket string) (tickets.Claims, access.Level, *Refusal) {
	if ticket == "" {
		return tickets.Claims{}, 0, refuse(CodeTicket, "no ticket: open the session from StreamSpace to get a link")
	}
	t, err := s.cfg.Tickets.Verify(ticket, time.Now())
	switch {
	case errors.Is(err, tickets.ErrExpired):
		return t, 0, refuse(CodeExpired, "this link has expired (links work for 60 seconds); open the session again")
	case err != nil:
		return t, 0, refuse(CodeTicket, "this link is not valid: "+err.Error())
	}
	level, ok := access.ParseLevel(t.Level)
	if !ok {
		return t, 0, refuse(CodeTicket, "this link is not valid: unknown level")
	}
	return t, level, nil
}

// open claims the connection, reaches the desktop and authenticates to it; a failure after the
// claim closes the connection again, so it never counts as a viewer.
func (s *Server) open(ctx context.Context, t tickets.Claims, level access.Level, ws *websocket.Conn) (*opened, *Refusal, error) {
	se, ref, err := s.cfg.Authority.Open(ctx, t, level)
	if ref != nil || err != nil {
		return nil, ref, err
	}
	st := &Stream{ticket: t, level: level, upstream: se.Runtime.Upstream, ws: ws, opened: time.Now(), done: make(chan struct{})}
	st.pinged = st.opened
	st.ended = func() *Refusal { return s.cfg.Authority.Ended(context.WithoutCancel(ctx), t.SessionID) }
	desk, init, err := s.desktop(ctx, se)
	if err != nil {
		s.cfg.Log.WarnContext(ctx, "desktop unreachable", slog.String("sessionId", se.ID), slog.String("error", err.Error()))
		s.closeConnection(st, refuse(CodeUnreachable, "the desktop did not answer"))
		return nil, refuse(CodeUnreachable, "the desktop did not answer; try again in a moment"), nil
	}
	st.desk = desk
	return &opened{Stream: st, init: init}, nil, nil
}

func (s *Server) desktop(ctx context.Context, se sessions.Session) (net.Conn, rfb.ServerInit, error) {
	network, addr, err := tickets.ParseUpstream(se.Runtime.Upstream)
	if err != nil {
		return nil, rfb.ServerInit{}, err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	desk, err := s.cfg.Dial(dctx, network, addr)
	if err != nil {
		return nil, rfb.ServerInit{}, err
	}
	_ = desk.SetDeadline(time.Now().Add(10 * time.Second))
	init, err := rfb.Dial(desk, se.Runtime.Secret)
	if err != nil {
		desk.Close()
		return nil, rfb.ServerInit{}, err
	}
	_ = desk.SetDeadline(time.Time{})
	return desk, init, nil
}

func (s *Server) refused(ws *websocket.Conn, r *http.Request, t tickets.Claims, ref *Refusal) {
	s.cfg.Log.Info("stream refused", slog.String("sessionId", t.SessionID), slog.String("userId", t.UserID),
		slog.String("connectionId", t.ConnectionID), slog.Int("code", ref.Code), slog.String("reason", ref.Reason),
		slog.String("ip", clientIP(r)))
	_ = ws.Close(websocket.StatusCode(ref.Code), ref.Reason)
}

// finish records the end: the connection goes (and with it the viewer count) and one line
// says everything about the stream.
func (s *Server) finish(st *Stream, r *http.Request, reason *Refusal) {
	s.closeConnection(st, reason)
	s.cfg.Log.Info("stream closed", append(s.attrs(st, r), slog.Int("code", reason.Code), slog.String("reason", reason.Reason),
		slog.Int64("bytesIn", st.bytesIn.Load()), slog.Int64("bytesOut", st.bytesOut.Load()),
		slog.Int64("durationMs", time.Since(st.opened).Milliseconds()))...)
}

func (s *Server) closeConnection(st *Stream, reason *Refusal) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = auth.WithActor(ctx, auth.Actor{UserID: st.ticket.UserID})
	err := s.cfg.Authority.Sessions.Close(ctx, Principal, st.ticket.SessionID, st.ticket.ConnectionID, sessions.CloseInfo{
		Reason: reason.Reason, BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(), Duration: time.Since(st.opened)})
	if err != nil {
		s.cfg.Log.Error("record stream end", slog.String("sessionId", st.ticket.SessionID),
			slog.String("connectionId", st.ticket.ConnectionID), slog.String("error", err.Error()))
	}
}

func (s *Server) attrs(st *Stream, r *http.Request) []any {
	return []any{slog.String("sessionId", st.ticket.SessionID), slog.String("userId", st.ticket.UserID),
		slog.String("connectionId", st.ticket.ConnectionID), slog.String("level", st.level.String()), slog.String("ip", clientIP(r))}
}

// clientIP is the viewer's address: the first X-Forwarded-For hop when behind CloudFront/ALB.
func clientIP(r *http.Request) string {
	if f := r.Header.Get("X-Forwarded-For"); f != "" {
		return strings.TrimSpace(strings.Split(f, ",")[0])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

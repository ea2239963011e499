package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"streamspace/internal/auth"
)

// Access is re-checked by polling rather than pushed from the table stream: it needs no third
// stream reader (DynamoDB Streams allows two per shard), works the same with any number of
// gateway tasks, and fails closed. Streams are checked per session, so a session's viewers cost
// one session read, one connection query and one access decision per distinct holder each
// period, whatever their number.

// renewEvery is how often open connections' expiry is extended (their TTL is 3 minutes).
const renewEvery = 60 * time.Second

// unverifiableAfter is how long access may go unchecked (the table unreachable) before the
// streams close: the 5 s promise holds even when the check itself fails.
const unverifiableAfter = 5 * time.Second

// pingEvery is how often an open stream is pinged: well inside a load balancer's idle timeout.
const pingEvery = 25 * time.Second

// ActivityEvery is how often viewers' input marks the session active: a quarter of the
// session's idle timeout, between 60 s (as heartbeats did) and 5 minutes. Each mark is a write
// of the session item that every stream consumer reads; at the default 30-minute timeout, a
// mark every 5 minutes instead of every minute is most of the control-plane cost of a watched
// session-hour saved (docs/cost.md), and a typing user is still never idle: the session's
// lastActivity is at most a quarter of its timeout (plus a check period) old.
func ActivityEvery(idleTimeout int) time.Duration {
	return min(max(time.Duration(idleTimeout)*time.Second/4, 60*time.Second), 5*time.Minute)
}

func (s *Server) register(st *Stream) *Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return refuse(CodeShutdown, "the gateway is stopping; reconnect")
	case s.count >= s.cfg.MaxStreams:
		return refuse(CodeShutdown, "the gateway is full; reconnect")
	}
	m := s.bySession[st.ticket.SessionID]
	if m == nil {
		m = map[*Stream]bool{}
		s.bySession[st.ticket.SessionID] = m
	}
	m[st] = true
	s.count++
	return nil
}

func (s *Server) unregister(st *Stream) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.bySession[st.ticket.SessionID]; m[st] {
		delete(m, st)
		s.count--
		if len(m) == 0 {
			delete(s.bySession, st.ticket.SessionID)
		}
	}
}

// Streams is the number of open streams.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

func (s *Server) snapshot() map[string][]*Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]*Stream, len(s.bySession))
	for id, m := range s.bySession {
		for st := range m {
			out[id] = append(out[id], st)
		}
	}
	return out
}

// Run re-checks every open stream each CheckEvery until ctx ends, then closes them all. The
// recorder runs on the same period in its own goroutine: a slow recording round never delays
// the access checks.
func (s *Server) Run(ctx context.Context) {
	if rc := s.cfg.Recorder; rc != nil {
		done := make(chan struct{})
		go func() { defer close(done); rc.Run(ctx, s.cfg.CheckEvery) }()
		defer func() { <-done }()
	}
	t := time.NewTicker(s.cfg.CheckEvery)
	defer t.Stop()
	w := &watcher{s: s, lastOK: map[string]time.Time{}, renewed: map[string]time.Time{}, active: map[string]time.Time{}}
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return
		case <-t.C:
			w.round(ctx)
		}
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	for _, list := range s.snapshot() {
		for _, st := range list {
			st.Close(refuse(CodeShutdown, "the gateway is stopping; reconnect"))
		}
	}
}

type watcher struct {
	s       *Server
	mu      sync.Mutex
	lastOK  map[string]time.Time // per session: the last check that succeeded
	renewed map[string]time.Time
	active  map[string]time.Time
}

// checkers bounds how many sessions are checked at once.
const checkers = 16

func (w *watcher) round(ctx context.Context) {
	_ = w.s.cfg.Tickets.Refresh(ctx)
	all := w.s.snapshot()
	sem := make(chan struct{}, checkers)
	var wg sync.WaitGroup
	for id, list := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.check(ctx, id, list)
		}()
	}
	wg.Wait()
	w.mu.Lock()
	for id := range w.lastOK {
		if _, ok := all[id]; !ok {
			delete(w.lastOK, id)
			delete(w.renewed, id)
			delete(w.active, id)
		}
	}
	w.mu.Unlock()
}

func (w *watcher) check(ctx context.Context, id string, list []*Stream) {
	now := time.Now()
	cctx, cancel := context.WithTimeout(ctx, w.s.cfg.CheckEvery+time.Second)
	defer cancel()
	verdicts, idle, err := w.s.cfg.Authority.check(cctx, id, list)
	every := ActivityEvery(idle)
	w.mu.Lock()
	last, seen := w.lastOK[id]
	if err == nil || !seen {
		if err == nil {
			last = now
		} else {
			last = oldest(list)
		}
		w.lastOK[id] = last
	}
	renewDue := now.Sub(w.renewed[id]) >= renewEvery
	if renewDue {
		w.renewed[id] = now
	}
	activeDue := now.Sub(w.active[id]) >= every
	w.mu.Unlock()
	if err != nil {
		w.s.cfg.Log.Warn("access re-check failed", slog.String("sessionId", id), slog.String("error", err.Error()))
		if now.Sub(last) >= unverifiableAfter {
			for _, st := range list {
				st.Close(refuse(CodeUnverifiable, "access to this session could not be verified; reconnect"))
			}
		}
		return
	}
	var keep []string
	var inputBy *Stream
	for _, st := range list {
		if r := verdicts[st]; r != nil {
			st.Close(r)
			continue
		}
		keep = append(keep, st.ticket.ConnectionID)
		if now.Sub(st.pinged) >= pingEvery {
			st.pinged = now
			go st.ping()
		}
		if in := st.lastInput.Load(); in > 0 && time.Unix(in, 0).After(now.Add(-every)) {
			inputBy = st
		}
	}
	if renewDue && len(keep) > 0 {
		if err := w.s.cfg.Authority.Sessions.Store.RenewConnections(cctx, id, keep, now); err != nil {
			w.s.cfg.Log.Warn("renew connections", slog.String("sessionId", id), slog.String("error", err.Error()))
		}
	}
	if activeDue && inputBy != nil {
		// Someone is working in the desktop: the session is not idle (what heartbeats did).
		actx := auth.WithActor(cctx, auth.Actor{UserID: inputBy.ticket.UserID})
		if _, err := w.s.cfg.Authority.Sessions.Heartbeat(actx, Principal, id, ""); err != nil {
			w.s.cfg.Log.Warn("mark session active", slog.String("sessionId", id), slog.String("error", err.Error()))
		} else {
			w.mu.Lock()
			w.active[id] = now
			w.mu.Unlock()
		}
	}
}

func oldest(list []*Stream) time.Time {
	t := time.Now()
	for _, st := range list {
		if st.opened.Before(t) {
			t = st.opened
		}
	}
	return t
}

package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/connections"
	"streamspace/internal/events"
	"streamspace/internal/metrics"
	"streamspace/internal/streambatch"
)

// ErrGone is what a Poster returns for a connection that no longer exists (HTTP 410).
var ErrGone = connections.ErrGone

// Poster sends one message to one connection (the API Gateway management API).
type Poster interface {
	Post(ctx context.Context, connectionID string, data []byte) error
	// Close ends a connection from the server's side (a revoked key's).
	Close(ctx context.Context, connectionID string) error
}

// Notifier handles stream batches.
type Notifier struct {
	Conns       *connections.Store
	Audience    *Audience
	Poster      Poster
	Log         *slog.Logger
	Concurrency int           // parallel posts per event; default 32
	PostTimeout time.Duration // per post attempt; default 1 s, so one slow client cannot hold the batch
	Now         func() time.Time
	// Batch is the shared stream batch loop (dead letters, give-up budget); nil only reports
	// the first failed record.
	Batch *streambatch.Loop

	counts  map[string]int // business counters of the batch being handled (one Lambda invocation at a time)
	countMu sync.Mutex
}

// Handle processes records in order through the shared batch loop (streambatch): on the first
// record that cannot be handled it reports that record and stops, so Lambda retries from it
// (the events already sent again carry the same ids), unless the loop gives up on it and parks
// it whole in the dead letters.
func (n *Notifier) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	n.counts = map[string]int{}
	defer func() { metrics.Emit(ctx, n.Log, "notifier", n.counts) }()
	return n.Batch.Handle(ctx, ev, n.HandleRecord)
}

// HandleRecord delivers one record's events (also what a redrive calls).
func (n *Notifier) HandleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
	changes, err := Derive(rec)
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if err := n.deliver(ctx, ch); err != nil {
			return err
		}
		if ch.Event.Type == events.APIKeyRevoked {
			if err := n.closeKey(ctx, ch); err != nil {
				return err
			}
		}
		if ch.Event.Type == events.SessionCreated {
			n.count("SessionsCreated", 1)
		}
	}
	return nil
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// audiences caches the listeners of each audience for one change; prefetch queries some in the
// background, get waits for a query in flight.
type audiences struct {
	mu       sync.Mutex
	ls       map[string][]connections.Listener
	err      map[string]error
	inflight map[string]chan struct{}
}

func (a *audiences) get(ctx context.Context, n *Notifier, aud string) ([]connections.Listener, error) {
	a.mu.Lock()
	if wait, ok := a.inflight[aud]; ok {
		a.mu.Unlock()
		<-wait
		a.mu.Lock()
	}
	if ls, ok := a.ls[aud]; ok || a.err[aud] != nil {
		defer a.mu.Unlock()
		return ls, a.err[aud]
	}
	a.mu.Unlock()
	ls, err := n.Conns.Listeners(ctx, aud, n.now())
	a.mu.Lock()
	a.ls[aud], a.err[aud] = ls, err
	a.mu.Unlock()
	return ls, err
}

// prefetch starts the queries of auds; the returned func waits for them (so none outlives the change).
func (a *audiences) prefetch(ctx context.Context, n *Notifier, auds ...string) func() {
	var wg sync.WaitGroup
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight == nil {
		a.inflight = map[string]chan struct{}{}
	}
	for _, aud := range auds {
		if _, ok := a.inflight[aud]; ok {
			continue
		}
		ch := make(chan struct{})
		a.inflight[aud] = ch
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ch)
			ls, err := n.Conns.Listeners(ctx, aud, n.now())
			a.mu.Lock()
			a.ls[aud], a.err[aud] = ls, err
			a.mu.Unlock()
		}()
	}
	return wg.Wait
}

// Per-connection retry budget (SEC-08): a recipient whose posts fail costs at most
// postAttempts × PostTimeout plus the backoffs (≈ 3.1 s with the default 1 s), in parallel with
// the other recipients, and never fails the record by itself.
const postAttempts = 3

func (n *Notifier) deliver(ctx context.Context, ch Change) error {
	ls, err := n.recipients(ctx, &ch)
	if err != nil || len(ls) == 0 {
		return err
	}
	body, err := json.Marshal(ch.Event)
	if err != nil {
		return err
	}
	workers := n.Concurrency
	if workers <= 0 {
		workers = 32
	}
	timeout := n.PostTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	var mu sync.Mutex
	delivered := 0
	var failing []connections.Listener // per-connection failures, after their retries
	failedUsers := map[string]bool{}
	var outage error // an error that says the management API itself is unavailable
	for _, l := range ls {
		wg.Add(1)
		sem <- struct{}{}
		go func(l connections.Listener) {
			defer func() { <-sem; wg.Done() }()
			err := n.post(ctx, l.ConnectionID, body, timeout)
			switch {
			case err == nil:
				mu.Lock()
				delivered++
				mu.Unlock()
			case errors.Is(err, ErrGone) && l.Handshaking(n.now()):
				// Not open yet: its client resynchronises once connected (docs/websocket-client.md).
			case errors.Is(err, ErrGone):
				// The client left without a clean $disconnect: forget that connection only.
				if err := n.Conns.Remove(ctx, l.ConnectionID); err != nil {
					n.Log.WarnContext(ctx, "remove gone connection", slog.String("connectionId", l.ConnectionID), slog.String("error", err.Error()))
				}
			default:
				n.Log.WarnContext(ctx, "delivery failed", slog.String("connectionId", l.ConnectionID),
					slog.String("eventId", ch.Event.ID), slog.String("error", err.Error()))
				mu.Lock()
				if serviceFailure(err) && outage == nil {
					outage = err
				}
				failing = append(failing, l)
				failedUsers[l.UserID] = true
				mu.Unlock()
			}
		}(l)
	}
	wg.Wait()
	n.count("EventsDelivered", delivered)
	n.count("DeliveriesFailed", len(failing))
	n.Log.InfoContext(ctx, "event delivered", slog.String("eventId", ch.Event.ID), slog.String("type", ch.Event.Type),
		slog.Int("recipients", len(ls)), slog.Int("delivered", delivered), slog.Int("failed", len(failing)))
	if len(failing) == 0 {
		return nil
	}
	// The management API unavailable for everyone (throttled, 502/503/504, unreachable, refused
	// to this function), or every post failing across the connections of several users: the
	// record is retried (without counting towards its dead-letter budget), so no event is lost.
	// One user's connections failing alone can never make that call (SEC-08).
	if outage == nil && delivered == 0 && len(failedUsers) >= 2 {
		outage = fmt.Errorf("every post failed across %d users", len(failedUsers))
	}
	if outage != nil {
		return streambatch.Transient(fmt.Errorf("management API unavailable: %w", outage))
	}
	// Otherwise each failing connection is that connection's problem: it is parked — closed
	// through the management API and forgotten — so its client reconnects and resynchronises
	// (docs/websocket-client.md), and the record succeeds for everyone else.
	for _, l := range failing {
		wg.Add(1)
		sem <- struct{}{}
		go func(l connections.Listener) {
			defer func() { <-sem; wg.Done() }()
			n.park(ctx, l, ch.Event.ID)
		}(l)
	}
	wg.Wait()
	return nil
}

// park closes a connection whose posts keep failing and removes it; both are best effort (a
// connection that cannot be closed expires with its TTL and its posts keep failing fast).
func (n *Notifier) park(ctx context.Context, l connections.Listener, eventID string) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := n.Poster.Close(cctx, l.ConnectionID); err != nil {
		n.Log.WarnContext(ctx, "close a failing connection", slog.String("connectionId", l.ConnectionID), slog.String("error", err.Error()))
	}
	if err := n.Conns.Remove(ctx, l.ConnectionID); err != nil {
		n.Log.WarnContext(ctx, "remove a failing connection", slog.String("connectionId", l.ConnectionID), slog.String("error", err.Error()))
	}
	n.countSafe("ConnectionsParked", 1)
	n.Log.WarnContext(ctx, "parked a failing connection", slog.String("connectionId", l.ConnectionID),
		slog.String("userId", l.UserID), slog.String("eventId", eventID))
}

// serviceFailure tells an error of the management API as a whole (throttling, 502/503/504, 403
// from a wrong role, an endpoint that cannot be reached) from one connection's failure (a 500
// for that connection, a post that times out because its client stopped reading).
func serviceFailure(err error) bool {
	var st interface{ HTTPStatusCode() int }
	if errors.As(err, &st) {
		switch st.HTTPStatusCode() {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable,
			http.StatusGatewayTimeout, http.StatusForbidden, http.StatusUnauthorized:
			return true
		}
		return false
	}
	var ne *net.OpError
	var dns *net.DNSError
	return errors.As(err, &ne) || errors.As(err, &dns)
}

// post sends to one connection, retrying a failure other than 410 a few times with a short
// backoff (25 ms, 75 ms); each attempt has its own timeout so a slow client cannot hold the others.
func (n *Notifier) post(ctx context.Context, connID string, body []byte, timeout time.Duration) error {
	backoff := 25 * time.Millisecond
	var err error
	for attempt := 0; attempt < postAttempts; attempt++ {
		if attempt > 0 {
			time.Sleep(backoff)
			backoff *= 3
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err = n.Poster.Post(pctx, connID, body)
		cancel()
		if err == nil || errors.Is(err, ErrGone) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// countSafe is count from parallel goroutines.
func (n *Notifier) countSafe(name string, v int) {
	n.countMu.Lock()
	defer n.countMu.Unlock()
	n.count(name, v)
}

func (n *Notifier) count(name string, v int) {
	if n.counts != nil && v > 0 {
		n.counts[name] += v
	}
}

// closeKey ends every WebSocket opened with a key that was just revoked (after telling its owner):
// a revoked credential keeps no event flowing (SEC-06).
func (n *Notifier) closeKey(ctx context.Context, ch Change) error {
	data, _ := ch.Event.Data.(map[string]any)
	keyID, _ := data["keyId"].(string)
	if keyID == "" {
		return nil
	}
	ls, err := n.Conns.Listeners(ctx, connections.KeyAudience(keyID), n.now())
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := n.Poster.Close(ctx, l.ConnectionID); err != nil {
			return fmt.Errorf("close the connection of revoked key %s: %w", keyID, err)
		}
		if err := n.Conns.Remove(ctx, l.ConnectionID); err != nil {
			return err
		}
		n.Log.InfoContext(ctx, "closed the connection of a revoked key", slog.String("connectionId", l.ConnectionID), slog.String("keyId", keyID))
	}
	return nil
}

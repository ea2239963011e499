package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/auth"
	"streamspace/internal/connections"
	"streamspace/internal/events"
	"streamspace/internal/metrics"
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
	PostTimeout time.Duration // per post; default 3 s, so one slow client cannot hold the batch
	Now         func() time.Time

	counts map[string]int // business counters of the batch being handled (one Lambda invocation at a time)
}

// Handle processes records in order. On the first record that cannot be fully handled it
// reports that record and stops: Lambda retries from it (ReportBatchItemFailures), and the
// events already sent again carry the same ids.
func (n *Notifier) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	var resp lambdaevents.DynamoDBEventResponse
	n.counts = map[string]int{}
	defer func() { metrics.Emit(ctx, n.Log, "notifier", n.counts) }()
	for _, rec := range ev.Records {
		if err := n.handleRecord(ctx, rec); err != nil {
			n.Log.ErrorContext(ctx, "record failed", slog.String("eventId", rec.EventID),
				slog.String("sequenceNumber", rec.Change.SequenceNumber), slog.String("error", err.Error()))
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			return resp, nil
		}
	}
	return resp, nil
}

func (n *Notifier) handleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
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

// recipients resolves who receives a change, with indexed lookups only — O(recipients), never
// O(connections): the connections of every user who may see the session (owner, team members,
// active share holders), operators and admins watching the owner or subscribed to the session,
// and the Extra users the change concerns.
func (n *Notifier) recipients(ctx context.Context, ch *Change) ([]connections.Listener, error) {
	seen := map[string]bool{}
	var out []connections.Listener
	fetched := map[string][]connections.Listener{} // per audience: each is queried once per change
	listeners := func(aud string) ([]connections.Listener, error) {
		if ls, ok := fetched[aud]; ok {
			return ls, nil
		}
		ls, err := n.Conns.Listeners(ctx, aud, n.now())
		fetched[aud] = ls
		return ls, err
	}
	// own adds the connections a user opened for themselves.
	own := func(user string) error {
		ls, err := listeners(connections.UserAudience(user))
		for _, l := range ls {
			if l.UserID == user && !seen[l.ConnectionID] {
				seen[l.ConnectionID] = true
				out = append(out, l)
			}
		}
		return err
	}
	if ch.OwnerOnly {
		return out, own(ch.OwnerID)
	}
	if ch.TeamOnly {
		members, err := n.Audience.TeamMembers(ctx, ch.TeamID, false)
		if err != nil {
			return nil, err
		}
		for _, u := range append(members, ch.Extra...) {
			if err := own(u); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if ch.OwnerID == "" { // share events carry only the session id
		owner, team, err := n.Audience.Session(ctx, ch.Event.SessionID)
		if err != nil {
			return nil, err
		}
		ch.OwnerID, ch.TeamID = owner, team
		ch.Event.UserID, ch.Event.TeamID = owner, team
	}
	viewers := map[string]bool{ch.OwnerID: true}
	if ch.TeamID != "" {
		members, err := n.Audience.TeamMembers(ctx, ch.TeamID, true)
		if err != nil {
			return nil, err
		}
		for _, u := range members {
			viewers[u] = true
		}
	}
	holders, err := n.Audience.ShareHolders(ctx, ch.Event.SessionID, n.now())
	if err != nil {
		return nil, err
	}
	for _, u := range holders {
		viewers[u] = true
	}
	for _, u := range ch.Extra {
		viewers[u] = true
	}
	for u := range viewers {
		if u != "" {
			if err := own(u); err != nil {
				return nil, err
			}
		}
	}
	// Watchers: operators and admins subscribed to the owner (or to a user the change concerns,
	// as the previous owner of a transferred session), and session subscribers who may see it.
	auds := []string{connections.UserAudience(ch.OwnerID), connections.SessionAudience(ch.Event.SessionID)}
	for _, u := range ch.Extra {
		auds = append(auds, connections.UserAudience(u))
	}
	for _, aud := range auds {
		ls, err := listeners(aud)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if seen[l.ConnectionID] {
				continue
			}
			c := auth.Caller{UserID: l.UserID, Role: l.Role}
			if viewers[l.UserID] || c.IsOperator() {
				seen[l.ConnectionID] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}

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
		timeout = 3 * time.Second
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	var mu sync.Mutex
	failed, delivered := 0, 0
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
			case errors.Is(err, ErrGone):
				// The client left without a clean $disconnect: forget that connection only.
				if err := n.Conns.Remove(ctx, l.ConnectionID); err != nil {
					n.Log.WarnContext(ctx, "remove gone connection", slog.String("connectionId", l.ConnectionID), slog.String("error", err.Error()))
				}
			default:
				n.Log.WarnContext(ctx, "delivery failed", slog.String("connectionId", l.ConnectionID),
					slog.String("eventId", ch.Event.ID), slog.String("error", err.Error()))
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}(l)
	}
	wg.Wait()
	n.count("EventsDelivered", delivered)
	n.count("DeliveriesFailed", failed)
	n.Log.InfoContext(ctx, "event delivered", slog.String("eventId", ch.Event.ID), slog.String("type", ch.Event.Type),
		slog.Int("recipients", len(ls)), slog.Int("delivered", delivered), slog.Int("failed", failed))
	// One connection that keeps failing after its retries must not make everyone receive the
	// event again: it is logged and left. When nothing got through, the management API itself is
	// failing: the record is retried (and parked in the dead-letter queue if it never gets through).
	if failed > 0 && delivered == 0 {
		return errors.New("no delivery succeeded")
	}
	return nil
}

// post sends to one connection, retrying a failure other than 410 a few times with a short
// backoff; each attempt has its own timeout so a slow client cannot hold the others.
func (n *Notifier) post(ctx context.Context, connID string, body []byte, timeout time.Duration) error {
	backoff := 25 * time.Millisecond
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err = n.Poster.Post(pctx, connID, body)
		cancel()
		if err == nil || errors.Is(err, ErrGone) || ctx.Err() != nil {
			return err
		}
		time.Sleep(backoff)
		backoff *= 3
	}
	return err
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

package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/connections"
)

// ErrGone is what a Poster returns for a connection that no longer exists (HTTP 410).
var ErrGone = connections.ErrGone

// Poster sends one message to one connection (the API Gateway management API).
type Poster interface {
	Post(ctx context.Context, connectionID string, data []byte) error
}

// Notifier handles stream batches.
type Notifier struct {
	Conns       *connections.Store
	Poster      Poster
	Access      *access.Decider
	Log         *slog.Logger
	Concurrency int           // parallel posts per event; default 32
	PostTimeout time.Duration // per post; default 3 s, so one slow client cannot hold the batch
	Now         func() time.Time
}

// Handle processes records in order. On the first record that cannot be fully handled it
// reports that record and stops: Lambda retries from it (ReportBatchItemFailures), and the
// events already sent again carry the same ids.
func (n *Notifier) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	var resp lambdaevents.DynamoDBEventResponse
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
	}
	return nil
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// recipients finds the connections listening to the session's owner or to the session, and
// keeps those whose user may view it. Indexed lookups only: O(recipients), never O(connections).
func (n *Notifier) recipients(ctx context.Context, ch Change) ([]connections.Listener, error) {
	seen := map[string]bool{}
	var out []connections.Listener
	if ch.OwnerOnly {
		ls, err := n.Conns.Listeners(ctx, connections.UserAudience(ch.OwnerID), n.now())
		for _, l := range ls {
			if l.UserID == ch.OwnerID && !seen[l.ConnectionID] {
				seen[l.ConnectionID] = true
				out = append(out, l)
			}
		}
		return out, err
	}
	subject := access.Subject{SessionID: ch.Event.SessionID, OwnerID: ch.OwnerID, TeamID: ch.TeamID}
	for _, aud := range []string{connections.UserAudience(ch.OwnerID), connections.SessionAudience(ch.Event.SessionID)} {
		ls, err := n.Conns.Listeners(ctx, aud, n.now())
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			if seen[l.ConnectionID] {
				continue
			}
			g, err := n.Access.Decide(ctx, auth.Caller{UserID: l.UserID, Role: l.Role}, subject)
			if err != nil {
				return nil, err
			}
			if g.Level >= access.View {
				seen[l.ConnectionID] = true
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func (n *Notifier) deliver(ctx context.Context, ch Change) error {
	ls, err := n.recipients(ctx, ch)
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
	failed := 0
	for _, l := range ls {
		wg.Add(1)
		sem <- struct{}{}
		go func(l connections.Listener) {
			defer func() { <-sem; wg.Done() }()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			err := n.Poster.Post(pctx, l.ConnectionID, body)
			cancel()
			switch {
			case err == nil:
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
	n.Log.InfoContext(ctx, "event delivered", slog.String("eventId", ch.Event.ID), slog.String("type", ch.Event.Type),
		slog.Int("recipients", len(ls)), slog.Int("failed", failed))
	if failed > 0 {
		return errors.New("some deliveries failed")
	}
	return nil
}

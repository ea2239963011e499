package activity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"streamspace/internal/auth"
	"streamspace/internal/clock"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
)

// Service holds the activity log's rules for the HTTP routes; handlers translate HTTP to calls
// on it. (The log's writes from the stream are the Auditor's.)
type Service struct {
	Store    *Store
	Sessions *sessions.Service
	Now      func() time.Time
}

func (sv *Service) now() time.Time { return clock.UTC(sv.Now) }

const maxMetadata = 8 << 10

// LogInput is the body of POST /sessions/{id}/activity/log.
type LogInput struct {
	EventType     string         `json:"eventType"`
	EventCategory string         `json:"eventCategory"`
	Description   string         `json:"description"`
	Metadata      map[string]any `json:"metadata"`
}

// Log records what a client reports about a session the caller may see. A record back is a
// replay of an earlier report with the same Idempotency-Key, to be answered as stored.
func (sv *Service) Log(ctx context.Context, c auth.Caller, sessionID string, in LogInput, key idempotency.Requested) (Activity, *idempotency.Record, error) {
	category, err := Validate(in.EventType, in.EventCategory)
	if err != nil {
		return Activity{}, nil, err
	}
	if len(in.Description) > 1024 {
		return Activity{}, nil, problem.Invalid("description", "must be at most 1024 characters")
	}
	if b, _ := json.Marshal(in.Metadata); len(b) > maxMetadata {
		return Activity{}, nil, problem.Invalid("metadata", "must be at most 8 KiB as JSON")
	}
	if err := storable(in.Metadata, 1); err != nil {
		return Activity{}, nil, problem.Invalid("metadata", err.Error())
	}
	idem, err := key.Claim(in, sv.now())
	if err != nil {
		return Activity{}, nil, err
	}
	// The session is the one in the path, never one named in the body; the caller must see it.
	se, _, err := sv.Sessions.Get(ctx, c, sessionID)
	if err != nil {
		return Activity{}, nil, err
	}
	now := sv.now()
	a := Activity{ID: ids.New("act"), SessionID: se.ID, EventType: in.EventType, EventCategory: category, ActorID: c.UserID,
		Description: in.Description, Metadata: in.Metadata, Timestamp: now, Source: "client", Order: fmt.Sprintf("C%09d", now.Nanosecond())}
	// The caller's address and user agent, as the router recorded them.
	if actor := auth.ActorFrom(ctx); actor != nil && (actor.IP != "" || actor.UserAgent != "") {
		a.IP, a.UserAgent = actor.IP, actor.UserAgent
	}
	if err := idem.Respond(http.StatusCreated, "", a); err != nil {
		return Activity{}, nil, err
	}
	_, rec, err := sv.Store.PutClaimed(ctx, a, idem)
	if err != nil || rec != nil {
		return Activity{}, rec, err
	}
	return a, nil, nil
}

// SessionActivity is one page of a session's activity, newest first, as the caller's grant on
// the session lets them see it.
func (sv *Service) SessionActivity(ctx context.Context, c auth.Caller, sessionID string, q Query) ([]Activity, string, error) {
	se, g, err := sv.Sessions.Get(ctx, c, sessionID)
	if err != nil {
		return nil, "", err
	}
	q.SessionID = se.ID
	items, next, err := sv.Store.List(ctx, q)
	for i := range items {
		items[i] = items[i].For(g)
	}
	return items, next, err
}

// TimelineEntry is an activity with the time since the one before it.
type TimelineEntry struct {
	Activity
	DurationSinceMs int64 `json:"durationSinceMs"`
}

// Timeline is one page of a session's activity, oldest first, with the gaps between entries.
func (sv *Service) Timeline(ctx context.Context, c auth.Caller, sessionID string, q Query) ([]TimelineEntry, string, error) {
	q.Oldest = true
	items, next, err := sv.SessionActivity(ctx, c, sessionID, q)
	if err != nil {
		return nil, "", err
	}
	out := make([]TimelineEntry, len(items))
	for i, a := range items {
		out[i] = TimelineEntry{Activity: a}
		if i > 0 { // never negative: an entry with only a whole-second time may follow a finer one
			out[i].DurationSinceMs = max(0, a.Timestamp.Sub(items[i-1].Timestamp).Milliseconds())
		}
	}
	return out, next, nil
}

// Stats are the platform's activity counters, for operators.
func (sv *Service) Stats(ctx context.Context, c auth.Caller) (Stats, error) {
	if !c.IsOperator() {
		return Stats{}, problem.Forbidden("activity statistics need the operator or admin role")
	}
	return sv.Store.Stats(ctx, sv.now())
}

// UserActivity is one page of what a user did, for that user, operators and admins.
func (sv *Service) UserActivity(ctx context.Context, c auth.Caller, userID string, q Query) ([]Activity, string, error) {
	if userID != c.UserID && !c.IsOperator() {
		return nil, "", problem.Forbidden("only that user, operators and admins read a user's activity")
	}
	q.UserID = userID
	return sv.Store.List(ctx, q)
}

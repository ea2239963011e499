package activity

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
)

// Service serves the activity routes.
type Service struct {
	Store    *Store
	Sessions *sessions.Service
	Now      func() time.Time
}

func (sv *Service) now() time.Time {
	if sv.Now != nil {
		return sv.Now().UTC()
	}
	return time.Now().UTC()
}

// Register adds the activity routes.
func Register(rt *httpx.Router, sv *Service) {
	rt.Handle("POST /api/v1/sessions/{id}/activity/log", sv.log)
	rt.Handle("GET /api/v1/sessions/{id}/activity", sv.list)
	rt.Handle("GET /api/v1/sessions/{id}/activity/timeline", sv.timeline)
	rt.Handle("GET /api/v1/activity/stats", sv.stats)
	rt.Handle("GET /api/v1/activity/users/{userId}", sv.user)
}

const maxMetadata = 8 << 10

func (sv *Service) log(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Caller(r)
	var in struct {
		EventType     string         `json:"eventType"`
		EventCategory string         `json:"eventCategory"`
		Description   string         `json:"description"`
		Metadata      map[string]any `json:"metadata"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	category, err := Validate(in.EventType, in.EventCategory)
	if err != nil {
		return err
	}
	if len(in.Description) > 1024 {
		return problem.Invalid("description", "must be at most 1024 characters")
	}
	if b, _ := json.Marshal(in.Metadata); len(b) > maxMetadata {
		return problem.Invalid("metadata", "must be at most 8 KiB as JSON")
	}
	if err := storable(in.Metadata, 1); err != nil {
		return problem.Invalid("metadata", err.Error())
	}
	idem, err := idempotency.FromRequest(r, c.UserID, in, sv.now())
	if err != nil {
		return err
	}
	// The session is the one in the path, never one named in the body; the caller must see it.
	se, _, err := sv.Sessions.Get(r.Context(), c, r.PathValue("id"))
	if err != nil {
		return err
	}
	now := sv.now()
	a := Activity{ID: ids.New("act"), SessionID: se.ID, EventType: in.EventType, EventCategory: category, ActorID: c.UserID,
		Description: in.Description, Metadata: in.Metadata, Timestamp: now, Source: "client", Order: fmt.Sprintf("C%09d", now.Nanosecond())}
	if gwIP, ua := clientInfo(r); gwIP != "" || ua != "" {
		a.IP, a.UserAgent = gwIP, ua
	}
	if err := idem.Respond(http.StatusCreated, "", a); err != nil {
		return err
	}
	_, rec, err := sv.Store.PutClaimed(r.Context(), a, idem)
	if err != nil {
		return err
	}
	if rec != nil {
		rec.Write(w)
		return nil
	}
	httpx.WriteJSON(w, http.StatusCreated, a)
	return nil
}

// query reads the listing parameters; limit outside 1..500 is a 400, never replaced.
func query(r *http.Request) (Query, error) {
	q := Query{}
	limit, err := httpx.QueryInt(r, "limit", 100, 1, 500)
	if err != nil {
		return q, err
	}
	v := r.URL.Query()
	q.Limit, q.Cursor, q.EventType, q.Category = limit, v.Get("cursor"), v.Get("eventType"), v.Get("category")
	if q.EventType != "" {
		if _, ok := Types[q.EventType]; !ok {
			return q, problem.Invalid("eventType", "unknown event type")
		}
	}
	switch q.Category {
	case "", Lifecycle, Connection, State, Configuration, Access, Error:
	default:
		return q, problem.Invalid("category", "must be lifecycle, connection, state, configuration, access or error")
	}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, problem.Invalid(name, "must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, problem.Invalid("until", "must not be before since")
	}
	return q, nil
}

func (sv *Service) list(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	se, g, err := sv.Sessions.Get(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	q.SessionID = se.ID
	items, next, err := sv.Store.List(r.Context(), q)
	if err != nil {
		return err
	}
	for i := range items {
		items[i] = items[i].For(g)
	}
	httpx.WritePage(w, items, next)
	return nil
}

type timelineEntry struct {
	Activity
	DurationSinceMs int64 `json:"durationSinceMs"`
}

func (sv *Service) timeline(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	se, g, err := sv.Sessions.Get(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	q.SessionID, q.Oldest = se.ID, true
	items, next, err := sv.Store.List(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]timelineEntry, len(items))
	for i, a := range items {
		out[i] = timelineEntry{Activity: a.For(g)}
		if i > 0 { // never negative: an entry with only a whole-second time may follow a finer one
			out[i].DurationSinceMs = max(0, a.Timestamp.Sub(items[i-1].Timestamp).Milliseconds())
		}
	}
	httpx.WritePage(w, out, next)
	return nil
}

func (sv *Service) stats(w http.ResponseWriter, r *http.Request) error {
	if !httpx.Caller(r).IsOperator() {
		return problem.Forbidden("activity statistics need the operator or admin role")
	}
	st, err := sv.Store.Stats(r.Context(), sv.now())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, st)
	return nil
}

func (sv *Service) user(w http.ResponseWriter, r *http.Request) error {
	c, id := httpx.Caller(r), r.PathValue("userId")
	if id != c.UserID && !c.IsOperator() {
		return problem.Forbidden("only that user, operators and admins read a user's activity")
	}
	q, err := query(r)
	if err != nil {
		return err
	}
	q.UserID = id
	items, next, err := sv.Store.List(r.Context(), q)
	if err != nil {
		return err
	}
	httpx.WritePage(w, items, next)
	return nil
}

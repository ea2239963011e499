package activity

import (
	"context"
	"net/http"
	"time"

	"streamspace/internal/auth"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
)

// Register adds the activity routes.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("POST /api/v1/sessions/{id}/activity/log", h.log)
	rt.Handle("GET /api/v1/sessions/{id}/activity", list(sv.SessionActivity, "id"))
	rt.Handle("GET /api/v1/sessions/{id}/activity/timeline", list(sv.Timeline, "id"))
	rt.Handle("GET /api/v1/activity/stats", h.stats)
	rt.Handle("GET /api/v1/activity/users/{userId}", list(sv.UserActivity, "userId"))
}

type handler struct{ sv *Service }

func (h handler) log(w http.ResponseWriter, r *http.Request) error {
	var in LogInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	a, rec, err := h.sv.Log(r.Context(), c, r.PathValue("id"), in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	httpx.WriteCreated(w, rec, http.StatusCreated, "", a)
	return nil
}

// list serves a listing of the activity of the session or user named by the path parameter.
func list[T any](read func(context.Context, auth.Caller, string, Query) ([]T, string, error), param string) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return httpx.List(w, r, paging.Long, func(ctx context.Context, c auth.Caller, p paging.Query) ([]T, string, error) {
			q, err := query(r, p)
			if err != nil {
				return nil, "", err
			}
			return read(ctx, c, r.PathValue(param), q)
		})
	}
}

// query reads the listing's filters.
func query(r *http.Request, p paging.Query) (Query, error) {
	v := r.URL.Query()
	q := Query{Limit: p.Limit, Cursor: p.Cursor, EventType: v.Get("eventType"), Category: v.Get("category")}
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

func (h handler) stats(w http.ResponseWriter, r *http.Request) error {
	st, err := h.sv.Stats(r.Context(), httpx.Caller(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, st)
	return nil
}

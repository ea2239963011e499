package recordings

import (
	"context"
	"net/http"

	"streamspace/internal/auth"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
)

// Register adds the recordings routes.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("POST /api/v1/sessions/{id}/recordings", h.create)
	rt.Handle("GET /api/v1/sessions/{id}/recordings", h.list)
	rt.Handle("GET /api/v1/sessions/{id}/recordings/{recordingId}", h.get)
	rt.Handle("PATCH /api/v1/sessions/{id}/recordings/{recordingId}", h.patch)
	rt.Handle("DELETE /api/v1/sessions/{id}/recordings/{recordingId}", h.delete)
}

type handler struct{ sv *Service }

func (h handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	rec, out, replayed, err := h.sv.Create(r.Context(), c, r.PathValue("id"), in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	if replayed {
		idempotency.MarkReplayed(w)
	}
	httpx.WriteCreated(w, nil, http.StatusCreated, "/api/v1/sessions/"+rec.SessionID+"/recordings/"+rec.ID, out)
	return nil
}

func (h handler) list(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, func(ctx context.Context, c auth.Caller, q paging.Query) ([]Recording, string, error) {
		return h.sv.List(ctx, c, r.PathValue("id"), q)
	})
}

func (h handler) get(w http.ResponseWriter, r *http.Request) error {
	d, err := h.sv.Get(r.Context(), httpx.Caller(r), r.PathValue("id"), r.PathValue("recordingId"))
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, d.Recording.Version, d)
	return nil
}

func (h handler) patch(w http.ResponseWriter, r *http.Request) error {
	var in PatchInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	rec, accepted, err := h.sv.Patch(r.Context(), httpx.Caller(r), r.PathValue("id"), r.PathValue("recordingId"), in, im)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if accepted {
		status = http.StatusAccepted // stopping: the gateway completes it
	}
	httpx.WriteVersioned(w, status, rec.Version, map[string]any{"recording": rec})
	return nil
}

func (h handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.Delete(r.Context(), httpx.Caller(r), r.PathValue("id"), r.PathValue("recordingId")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

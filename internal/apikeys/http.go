package apikeys

import (
	"net/http"

	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
)

// Register adds the /api-keys routes (token-only: keys cannot manage keys).
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("POST /api/v1/api-keys", h.create)
	rt.Handle("GET /api/v1/api-keys", h.list)
	rt.Handle("POST /api/v1/api-keys/{id}/revoke", h.revoke)
	rt.Handle("DELETE /api/v1/api-keys/{id}", h.delete)
	rt.Handle("GET /api/v1/api-keys/{id}/usage", h.usage)
}

type handler struct{ sv *Service }

func (h handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	k, rec, err := h.sv.Create(r.Context(), c, in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the secret is a credential
	httpx.WriteCreated(w, rec, http.StatusCreated, "/api/v1/api-keys/"+k.ID, k)
	return nil
}

func (h handler) list(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, h.sv.List)
}

func (h handler) revoke(w http.ResponseWriter, r *http.Request) error {
	k, err := h.sv.Revoke(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, k)
	return nil
}

func (h handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.Delete(r.Context(), httpx.Caller(r), r.PathValue("id")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

func (h handler) usage(w http.ResponseWriter, r *http.Request) error {
	st, err := h.sv.Stats(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, st)
	return nil
}

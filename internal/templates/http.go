package templates

import (
	"context"
	"net/http"

	"streamspace/internal/auth"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
)

// Register adds the catalog routes to a router.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("GET /api/v1/templates", h.list)
	rt.Handle("GET /api/v1/templates/{name}", h.get)
	rt.Handle("POST /api/v1/templates", h.create)
	rt.Handle("PUT /api/v1/templates/{name}", h.replace)
	rt.Handle("DELETE /api/v1/templates/{name}", h.delete)
}

type handler struct{ sv *Service }

func (h handler) list(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	return httpx.List(w, r, paging.Long, func(ctx context.Context, c auth.Caller, q paging.Query) ([]Template, string, error) {
		return h.sv.List(ctx, c, ListQuery{Q: v.Get("q"), Category: v.Get("category"), Tag: v.Get("tag"), Query: q})
	})
}

func (h handler) get(w http.ResponseWriter, r *http.Request) error {
	t, err := h.sv.Get(r.Context(), httpx.Caller(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, t.Version, t)
	return nil
}

func (h handler) create(w http.ResponseWriter, r *http.Request) error {
	var in Template
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	t, rec, err := h.sv.Create(r.Context(), c, in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	httpx.WriteCreated(w, rec, http.StatusCreated, "", t)
	return nil
}

func (h handler) replace(w http.ResponseWriter, r *http.Request) error {
	var in Template
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	t, err := h.sv.Replace(r.Context(), httpx.Caller(r), r.PathValue("name"), in, im)
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, t.Version, t)
	return nil
}

func (h handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.Delete(r.Context(), httpx.Caller(r), r.PathValue("name")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

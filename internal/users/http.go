package users

import (
	"net/http"

	"streamspace/internal/httpx"
	"streamspace/internal/paging"
)

// Register adds the users routes.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("GET /api/v1/users/me", h.me)
	rt.Handle("GET /api/v1/users/me/quota", h.quota)
	rt.Handle("GET /api/v1/users", h.list)
	rt.Handle("GET /api/v1/users/{userId}", h.get)
	rt.Handle("PUT /api/v1/users/{userId}/role", h.setRole)
}

type handler struct{ sv *Service }

func (h handler) me(w http.ResponseWriter, r *http.Request) error {
	m, err := h.sv.Me(r.Context(), httpx.Caller(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (h handler) quota(w http.ResponseWriter, r *http.Request) error {
	q, err := h.sv.Quota(r.Context(), httpx.Caller(r))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, q)
	return nil
}

func (h handler) list(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, h.sv.List)
}

func (h handler) get(w http.ResponseWriter, r *http.Request) error {
	u, err := h.sv.Get(r.Context(), httpx.Caller(r), r.PathValue("userId"))
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, u.Version, u)
	return nil
}

func (h handler) setRole(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Role string `json:"role"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	u, err := h.sv.SetRole(r.Context(), httpx.Caller(r), r.PathValue("userId"), in.Role, im)
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, u.Version, u)
	return nil
}

package teams

import (
	"context"
	"net/http"

	"streamspace/internal/auth"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
	"streamspace/internal/sessions"
)

// Register adds the /teams routes.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("POST /api/v1/teams", h.create)
	rt.Handle("GET /api/v1/teams/my-teams", h.myTeams)
	rt.Handle("GET /api/v1/teams/{teamId}", h.get)
	rt.Handle("PATCH /api/v1/teams/{teamId}", h.update)
	rt.Handle("DELETE /api/v1/teams/{teamId}", h.delete)
	rt.Handle("GET /api/v1/teams/{teamId}/members", h.members)
	rt.Handle("POST /api/v1/teams/{teamId}/members", h.addMember)
	rt.Handle("PATCH /api/v1/teams/{teamId}/members/{userId}", h.changeMember)
	rt.Handle("DELETE /api/v1/teams/{teamId}/members/{userId}", h.removeMember)
	rt.Handle("GET /api/v1/teams/{teamId}/permissions", h.describe(sv.Permissions))
	rt.Handle("GET /api/v1/teams/{teamId}/role-info", h.describe(sv.RoleInfo))
	rt.Handle("GET /api/v1/teams/{teamId}/my-permissions", h.describe(sv.MyPermissions))
	rt.Handle("GET /api/v1/teams/{teamId}/check-permission/{permission}", h.checkPermission)
	rt.Handle("GET /api/v1/teams/{teamId}/sessions", h.sessions)
	rt.Handle("GET /api/v1/teams/{teamId}/quota", h.getQuota)
	rt.Handle("PUT /api/v1/teams/{teamId}/quota", h.putQuota)
}

type handler struct{ sv *Service }

func (h handler) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	t, rec, err := h.sv.Create(r.Context(), c, in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	httpx.WriteCreated(w, rec, http.StatusCreated, "/api/v1/teams/"+t.ID, t)
	return nil
}

func (h handler) myTeams(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, h.sv.MyTeams)
}

func (h handler) get(w http.ResponseWriter, r *http.Request) error {
	t, err := h.sv.Get(r.Context(), httpx.Caller(r), r.PathValue("teamId"))
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, t.Version, t)
	return nil
}

func (h handler) update(w http.ResponseWriter, r *http.Request) error {
	var in UpdateInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	t, err := h.sv.Update(r.Context(), httpx.Caller(r), r.PathValue("teamId"), in, im)
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, t.Version, t)
	return nil
}

func (h handler) delete(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.Delete(r.Context(), httpx.Caller(r), r.PathValue("teamId")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

func (h handler) members(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, func(ctx context.Context, c auth.Caller, q paging.Query) ([]Member, string, error) {
		return h.sv.Members(ctx, c, r.PathValue("teamId"), q)
	})
}

func (h handler) addMember(w http.ResponseWriter, r *http.Request) error {
	var in MemberInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	m, rec, err := h.sv.AddMember(r.Context(), c, r.PathValue("teamId"), in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	httpx.WriteCreated(w, rec, http.StatusCreated, "", m)
	return nil
}

func (h handler) changeMember(w http.ResponseWriter, r *http.Request) error {
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
	m, err := h.sv.ChangeRole(r.Context(), httpx.Caller(r), r.PathValue("teamId"), r.PathValue("userId"), in.Role, im)
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, m.Version, m)
	return nil
}

func (h handler) removeMember(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.RemoveMember(r.Context(), httpx.Caller(r), r.PathValue("teamId"), r.PathValue("userId")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

// describe serves the read-only routes that describe roles and permissions in a team.
func (h handler) describe(read func(context.Context, auth.Caller, string) (map[string]any, error)) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		out, err := read(r.Context(), httpx.Caller(r), r.PathValue("teamId"))
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	}
}

func (h handler) checkPermission(w http.ResponseWriter, r *http.Request) error {
	out, err := h.sv.CheckPermission(r.Context(), httpx.Caller(r), r.PathValue("teamId"), r.PathValue("permission"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h handler) sessions(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, func(ctx context.Context, c auth.Caller, q paging.Query) ([]sessions.Session, string, error) {
		return h.sv.TeamSessions(ctx, c, r.PathValue("teamId"), r.URL.Query().Get("state"), q)
	})
}

func (h handler) getQuota(w http.ResponseWriter, r *http.Request) error {
	q, err := h.sv.Quota(r.Context(), httpx.Caller(r), r.PathValue("teamId"))
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, q.Version, q)
	return nil
}

func (h handler) putQuota(w http.ResponseWriter, r *http.Request) error {
	var in QuotaInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	q, err := h.sv.SetQuota(r.Context(), httpx.Caller(r), r.PathValue("teamId"), in, im)
	if err != nil {
		return err
	}
	httpx.WriteVersioned(w, http.StatusOK, q.Version, q)
	return nil
}

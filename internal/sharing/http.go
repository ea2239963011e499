package sharing

import (
	"context"
	"net/http"

	"streamspace/internal/auth"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
	"streamspace/internal/sessions"
)

// Register adds the sharing routes.
func Register(rt *httpx.Router, sv *Service) {
	h := handler{sv}
	rt.Handle("POST /api/v1/sessions/{id}/share", h.share)
	rt.Handle("GET /api/v1/sessions/{id}/shares", h.shares)
	rt.Handle("DELETE /api/v1/sessions/{id}/shares/{shareId}", h.unshare)
	rt.Handle("POST /api/v1/sessions/{id}/invitations", h.invite)
	rt.Handle("GET /api/v1/sessions/{id}/invitations", h.invitations)
	rt.Handle("DELETE /api/v1/sessions/{id}/invitations/{invitationId}", h.revokeInvitationByID)
	rt.Handle("DELETE /api/v1/invitations/{token}", h.revokeInvitation)
	rt.Handle("POST /api/v1/invitations/{token}/accept", h.accept)
	rt.Handle("GET /api/v1/sessions/{id}/collaborators", h.collaborators)
	rt.Handle("DELETE /api/v1/sessions/{id}/collaborators/{userId}", h.removeCollaborator)
	rt.Handle("GET /api/v1/shared-sessions", h.sharedSessions)
}

type handler struct{ sv *Service }

func (h handler) share(w http.ResponseWriter, r *http.Request) error {
	var in ShareInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	sh, created, replayed, err := h.sv.Share(r.Context(), c, r.PathValue("id"), in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	if replayed {
		idempotency.MarkReplayed(w)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpx.WriteJSON(w, status, sh)
	return nil
}

// sessionPage is a list of something in the session named by the path.
func sessionPage[T any](w http.ResponseWriter, r *http.Request, list func(context.Context, auth.Caller, string, paging.Query) ([]T, string, error)) error {
	return httpx.List(w, r, paging.Standard, func(ctx context.Context, c auth.Caller, q paging.Query) ([]T, string, error) {
		return list(ctx, c, r.PathValue("id"), q)
	})
}

func (h handler) shares(w http.ResponseWriter, r *http.Request) error {
	return sessionPage(w, r, h.sv.Shares)
}

func (h handler) invitations(w http.ResponseWriter, r *http.Request) error {
	return sessionPage(w, r, h.sv.Invitations)
}

func (h handler) collaborators(w http.ResponseWriter, r *http.Request) error {
	return sessionPage[sessions.Collaborator](w, r, h.sv.Collaborators)
}

func (h handler) sharedSessions(w http.ResponseWriter, r *http.Request) error {
	return httpx.List(w, r, paging.Standard, func(ctx context.Context, c auth.Caller, q paging.Query) ([]SharedSession, string, error) {
		return h.sv.SharedWith(ctx, c, r.URL.Query().Get("userId"), q)
	})
}

func (h handler) unshare(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.Unshare(r.Context(), httpx.Caller(r), r.PathValue("id"), r.PathValue("shareId")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

func (h handler) invite(w http.ResponseWriter, r *http.Request) error {
	var in InviteInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	c := httpx.Caller(r)
	inv, rec, err := h.sv.Invite(r.Context(), c, r.PathValue("id"), in, idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the token is a credential
	httpx.WriteCreated(w, rec, http.StatusCreated, "", inv)
	return nil
}

func (h handler) revokeInvitationByID(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.RevokeInvitationByID(r.Context(), httpx.Caller(r), r.PathValue("id"), r.PathValue("invitationId")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

func (h handler) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.RevokeInvitation(r.Context(), httpx.Caller(r), r.PathValue("token")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

func (h handler) accept(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength != 0 {
		var none struct{} // the route takes no input: naming a user here is refused, not ignored
		if err := httpx.DecodeJSON(r, &none); err != nil {
			return err
		}
	}
	c := httpx.Caller(r) // the acceptor is the caller, never the body
	out, rec, err := h.sv.Accept(r.Context(), c, r.PathValue("token"), idempotency.RequestedBy(r, c.UserID))
	if err != nil {
		return err
	}
	httpx.WriteCreated(w, rec, http.StatusOK, "", out)
	return nil
}

func (h handler) removeCollaborator(w http.ResponseWriter, r *http.Request) error {
	if err := h.sv.RemoveCollaborator(r.Context(), httpx.Caller(r), r.PathValue("id"), r.PathValue("userId")); err != nil {
		return err
	}
	return httpx.NoContent(w)
}

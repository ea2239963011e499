package sharing

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/expiry"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
	"streamspace/internal/users"
)

// Service holds the sharing rules.
type Service struct {
	Store    *Store
	Sessions *sessions.Service
	Users    *users.Store
	Access   *access.Decider
	Now      func() time.Time
}

func (sv *Service) now() time.Time {
	if sv.Now != nil {
		return sv.Now().UTC()
	}
	return time.Now().UTC()
}

// session loads a session the caller may see, with the caller's grant; manage demands the
// right to share (owner, team sessions.update, admin).
func (sv *Service) session(ctx context.Context, c auth.Caller, id string, manage bool) (sessions.Session, access.Grant, error) {
	se, g, err := sv.Sessions.Get(ctx, c, id)
	if err != nil {
		return se, g, err
	}
	if manage && !g.Manage {
		return se, g, problem.Forbidden("sharing this session is for its owner")
	}
	return se, g, nil
}

const maxShareLifetime = 366 * 24 * time.Hour

// Register adds the sharing routes.
func Register(rt *httpx.Router, sv *Service) {
	rt.Handle("POST /api/v1/sessions/{id}/share", sv.share)
	rt.Handle("GET /api/v1/sessions/{id}/shares", sv.shares)
	rt.Handle("DELETE /api/v1/sessions/{id}/shares/{shareId}", sv.unshare)
	rt.Handle("POST /api/v1/sessions/{id}/invitations", sv.invite)
	rt.Handle("GET /api/v1/sessions/{id}/invitations", sv.invitations)
	rt.Handle("DELETE /api/v1/sessions/{id}/invitations/{invitationId}", sv.revokeInvitationByID)
	rt.Handle("DELETE /api/v1/invitations/{token}", sv.revokeInvitation)
	rt.Handle("POST /api/v1/invitations/{token}/accept", sv.accept)
	rt.Handle("GET /api/v1/sessions/{id}/collaborators", sv.collaborators)
	rt.Handle("DELETE /api/v1/sessions/{id}/collaborators/{userId}", sv.removeCollaborator)
	rt.Handle("GET /api/v1/shared-sessions", sv.sharedSessions)
}

func level(field, v string) error {
	if _, ok := access.ParseLevel(v); !ok {
		return problem.Invalid(field, "must be view, collaborate or control")
	}
	return nil
}

func (sv *Service) share(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Caller(r)
	var in struct {
		SharedWithUserID string     `json:"sharedWithUserId"`
		PermissionLevel  string     `json:"permissionLevel"`
		ExpiresAt        *time.Time `json:"expiresAt"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.SharedWithUserID == "" || len(in.SharedWithUserID) > 128 {
		return problem.Invalid("sharedWithUserId", "is required")
	}
	if err := level("permissionLevel", in.PermissionLevel); err != nil {
		return err
	}
	now := sv.now()
	if in.ExpiresAt != nil && (!in.ExpiresAt.After(now) || in.ExpiresAt.Sub(now) > maxShareLifetime) {
		return problem.Invalid("expiresAt", "must be in the future, within a year")
	}
	idem, err := idempotency.FromRequest(r, c.UserID, in, now)
	if err != nil {
		return err
	}
	se, _, err := sv.session(r.Context(), c, r.PathValue("id"), true)
	if err != nil {
		return err
	}
	if in.SharedWithUserID == c.UserID || in.SharedWithUserID == se.OwnerID {
		return problem.Invalid("sharedWithUserId", "cannot share a session with its owner or yourself")
	}
	if se.Final() {
		return problem.Conflict("the session is terminated")
	}
	if _, err := sv.Users.Get(r.Context(), in.SharedWithUserID); errors.Is(err, users.ErrNotFound) {
		return problem.Invalid("sharedWithUserId", "no such user")
	} else if err != nil {
		return err
	}
	sh := Share{ID: ids.New("shr"), SessionID: se.ID, SharedWithUserID: in.SharedWithUserID, PermissionLevel: in.PermissionLevel,
		CreatedBy: c.UserID, CreatedAt: now}
	if in.ExpiresAt != nil {
		sh.Expiry = in.ExpiresAt.Unix()
	}
	got, created, rec, err := sv.Store.PutShareClaimed(r.Context(), sh, idem)
	if err != nil {
		return err
	}
	if rec != nil {
		idempotency.MarkReplayed(w)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpx.WriteJSON(w, status, got)
	return nil
}

type shareView struct {
	Share
	Active bool `json:"active"`
}

func (sv *Service) shares(w http.ResponseWriter, r *http.Request) error {
	se, _, err := sv.session(r.Context(), httpx.Caller(r), r.PathValue("id"), true)
	if err != nil {
		return err
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	shares, next, err := sv.Store.SharesPage(r.Context(), se.ID, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	items := make([]shareView, 0, len(shares))
	for _, sh := range shares {
		items = append(items, shareView{Share: sh, Active: sh.Active(sv.now())})
	}
	httpx.WritePage(w, items, next)
	return nil
}

func (sv *Service) unshare(w http.ResponseWriter, r *http.Request) error {
	se, _, err := sv.session(r.Context(), httpx.Caller(r), r.PathValue("id"), true)
	if err != nil {
		return err
	}
	shareID := r.PathValue("shareId")
	if !ids.Valid("shr", shareID) {
		return problem.NotFound("share")
	}
	shares, err := sv.Store.Shares(r.Context(), se.ID)
	if err != nil {
		return err
	}
	for _, sh := range shares {
		if sh.ID == shareID {
			if err := sv.Store.DeleteShare(r.Context(), se.ID, sh.SharedWithUserID, shareID); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	return problem.NotFound("share")
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func (sv *Service) invite(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Caller(r)
	var in struct {
		PermissionLevel string     `json:"permissionLevel"`
		MaxUses         *int       `json:"maxUses"`
		ExpiresIn       string     `json:"expiresIn"`
		ExpiresAt       *time.Time `json:"expiresAt"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := level("permissionLevel", in.PermissionLevel); err != nil {
		return err
	}
	maxUses := 1
	if in.MaxUses != nil {
		if *in.MaxUses < 1 || *in.MaxUses > 1000 {
			return problem.Invalid("maxUses", "must be from 1 to 1000")
		}
		maxUses = *in.MaxUses
	}
	now := sv.now()
	until := now.AddDate(0, 0, 7)
	switch {
	case in.ExpiresIn != "" && in.ExpiresAt != nil:
		return problem.Invalid("expiresIn", "give expiresIn or expiresAt, not both")
	case in.ExpiresIn != "":
		t, err := expiry.Parse("expiresIn", in.ExpiresIn, now, maxShareLifetime)
		if err != nil {
			return err
		}
		until = t
	case in.ExpiresAt != nil:
		if !in.ExpiresAt.After(now) || in.ExpiresAt.Sub(now) > maxShareLifetime {
			return problem.Invalid("expiresAt", "must be in the future, within a year")
		}
		until = *in.ExpiresAt
	}
	idem, err := idempotency.FromRequest(r, c.UserID, in, now)
	if err != nil {
		return err
	}
	se, _, err := sv.session(r.Context(), c, r.PathValue("id"), true)
	if err != nil {
		return err
	}
	if se.Final() {
		return problem.Conflict("the session is terminated")
	}
	if n, err := sv.Store.OpenInvitations(r.Context(), se.ID, now); err != nil {
		return err
	} else if n >= MaxOpenInvitations {
		return problem.Conflict(fmt.Sprintf("the session has %d open invitations, the most it may have: revoke some first", n))
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	inv := Invitation{ID: ids.New("inv"), SessionID: se.ID, PermissionLevel: in.PermissionLevel, MaxUses: maxUses,
		ValidUntil: until.UTC(), ValidUntilUnix: until.Unix(), TokenPrefix: token[:6], CreatedBy: c.UserID, CreatedAt: now,
		CreatorRole: c.ExternalRole}
	// A replay answers the invitation without its token: the token is shown once, and only its
	// hash is stored anywhere.
	if err := idem.Respond(http.StatusCreated, "", inv); err != nil {
		return err
	}
	rec, err := sv.Store.CreateInvitation(r.Context(), inv, TokenHash(token), idem)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	if rec != nil {
		rec.Write(w)
		return nil
	}
	httpx.WriteJSON(w, http.StatusCreated, struct {
		Invitation
		Token     string `json:"token"`
		AcceptURL string `json:"acceptUrl"`
	}{inv, token, "/api/v1/invitations/" + token + "/accept"})
	return nil
}

func (sv *Service) invitations(w http.ResponseWriter, r *http.Request) error {
	se, _, err := sv.session(r.Context(), httpx.Caller(r), r.PathValue("id"), true)
	if err != nil {
		return err
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	invs, next, err := sv.Store.Invitations(r.Context(), se.ID, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	httpx.WritePage(w, invs, next)
	return nil
}

// invitation finds an invitation by the token in the path (404 for anything unknown).
func (sv *Service) invitation(r *http.Request) (Invitation, string, error) {
	token := r.PathValue("token")
	if !tokenRE.MatchString(token) {
		return Invitation{}, "", problem.NotFound("invitation")
	}
	hash := TokenHash(token)
	inv, ok, err := sv.Store.Invitation(r.Context(), hash)
	if err != nil {
		return Invitation{}, "", err
	}
	if !ok {
		return Invitation{}, "", problem.NotFound("invitation")
	}
	return inv, hash, nil
}

func (sv *Service) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	inv, hash, err := sv.invitation(r)
	if err != nil {
		return err
	}
	if _, _, err := sv.session(r.Context(), httpx.Caller(r), inv.SessionID, true); err != nil {
		if problem.As(err) != nil && problem.As(err).Status == http.StatusForbidden {
			return problem.NotFound("invitation") // a guest holding a token learns nothing more
		}
		return err
	}
	if err := sv.Store.RevokeInvitation(r.Context(), hash); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (sv *Service) accept(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Caller(r) // the acceptor is the caller, never the body
	if r.ContentLength != 0 {
		var none struct{} // the route takes no input: naming a user here is refused, not ignored
		if err := httpx.DecodeJSON(r, &none); err != nil {
			return err
		}
	}
	now := sv.now()
	idem, err := idempotency.FromRequest(r, c.UserID, nil, now)
	if err != nil {
		return err
	}
	// A retry must replay even when the first acceptance used the invitation up.
	if rec, err := idempotency.Peek(r.Context(), sv.Store.DB, sv.Store.Table, idem); err != nil || rec != nil {
		if rec != nil {
			rec.Write(w)
		}
		return err
	}
	inv, hash, err := sv.invitation(r)
	if err != nil {
		return err
	}
	if why := inv.Usable(now); why != "" {
		return problem.Gone(why)
	}
	se, err := sv.Sessions.Store.Get(r.Context(), inv.SessionID)
	if errors.Is(err, sessions.ErrNotFound) {
		return problem.Gone("the session no longer exists")
	} else if err != nil {
		return err
	}
	if se.OwnerID == c.UserID {
		return problem.Conflict("the owner cannot accept an invitation to their own session")
	}
	if se.Final() {
		return problem.Gone("the session is terminated")
	}
	if err := sv.acceptable(r.Context(), c, se, inv); err != nil {
		return err
	}
	// Keep a stronger share the user already holds; otherwise write the invitation's level.
	lvl, _ := access.ParseLevel(inv.PermissionLevel)
	var share *Share
	existing, err := sv.Store.Shares(r.Context(), se.ID)
	if err != nil {
		return err
	}
	current := Share{}
	for _, sh := range existing {
		if sh.SharedWithUserID == c.UserID && sh.Active(now) {
			current = sh
		}
	}
	have, _ := access.ParseLevel(current.PermissionLevel)
	if have < lvl {
		id := current.ID
		if id == "" {
			id = ids.New("shr")
		}
		share = &Share{ID: id, SessionID: se.ID, SharedWithUserID: c.UserID, PermissionLevel: inv.PermissionLevel,
			CreatedBy: inv.CreatedBy, CreatedAt: now}
	}
	effective := inv.PermissionLevel
	if have >= lvl {
		effective = current.PermissionLevel
	}
	out := map[string]any{"sessionId": se.ID, "permissionLevel": effective, "invitationId": inv.ID}
	if err := idem.Respond(http.StatusOK, "", out); err != nil {
		return err
	}
	rec, err := sv.Store.Accept(r.Context(), hash, c.UserID, share, now, idem)
	switch {
	case rec != nil:
		rec.Write(w)
		return nil
	case errors.Is(err, errAlreadyAccepted):
		// accepting twice is harmless and consumes nothing
	case err != nil:
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (sv *Service) collaborators(w http.ResponseWriter, r *http.Request) error {
	se, _, err := sv.session(r.Context(), httpx.Caller(r), r.PathValue("id"), false)
	if err != nil {
		return err
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	list, next, err := sv.Sessions.Collaborators(r.Context(), se.ID, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	httpx.WritePage(w, list, next)
	return nil
}

func (sv *Service) removeCollaborator(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Caller(r)
	se, _, err := sv.session(r.Context(), c, r.PathValue("id"), true)
	if err != nil {
		return err
	}
	n, err := sv.Sessions.DisconnectUser(r.Context(), c, se.ID, r.PathValue("userId"))
	if err != nil {
		return err
	}
	if n == 0 {
		return problem.NotFound("collaborator")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (sv *Service) sharedSessions(w http.ResponseWriter, r *http.Request) error {
	c := httpx.Caller(r)
	user := c.UserID
	if u := r.URL.Query().Get("userId"); u != "" && u != c.UserID {
		if !c.IsAdmin() {
			return problem.Forbidden("listing another user's shared sessions needs the admin role")
		}
		user = u
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	shares, next, err := sv.Store.SharedWith(r.Context(), user, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	now := sv.now()
	var idList []string
	for _, sh := range shares {
		if sh.Active(now) {
			idList = append(idList, sh.SessionID)
		}
	}
	found, err := sv.Sessions.Store.GetMany(r.Context(), idList)
	if err != nil {
		return err
	}
	items := []map[string]any{}
	for _, sh := range shares {
		if se, ok := found[sh.SessionID]; ok && sh.Active(now) {
			items = append(items, map[string]any{"session": se, "permissionLevel": sh.PermissionLevel, "shareId": sh.ID,
				"sharedAt": sh.CreatedAt, "expiresAt": sh.ExpiresAt})
		}
	}
	httpx.WritePage(w, items, next)
	return nil
}

// acceptable holds an invitation to what a direct share is held to (SEC-03): nobody grants
// himself access through it, and it is only as good as its creator's right to share now.
func (sv *Service) acceptable(ctx context.Context, c auth.Caller, se sessions.Session, inv Invitation) error {
	subject := access.Subject{SessionID: se.ID, OwnerID: se.OwnerID, TeamID: se.TeamID}
	if inv.CreatedBy == c.UserID {
		return problem.Conflict("you cannot accept an invitation you created")
	}
	if g, err := sv.Access.Decide(ctx, c, subject); err != nil {
		return err
	} else if g.Manage {
		return problem.Conflict("you already manage this session")
	}
	if se.TransferredAt != nil && inv.CreatedAt.Before(*se.TransferredAt) {
		return problem.Gone("the invitation ended when the session changed owner")
	}
	creator, err := sv.Users.Get(ctx, inv.CreatedBy)
	if errors.Is(err, users.ErrNotFound) {
		return problem.Gone("the invitation's creator no longer exists")
	} else if err != nil {
		return err
	}
	cc := auth.Caller{UserID: creator.ID, Role: auth.HighestRole(auth.RoleUser, creator.Role, inv.CreatorRole)}
	if g, err := sv.Access.Decide(ctx, cc, subject); err != nil {
		return err
	} else if !g.Manage {
		return problem.Gone("the invitation's creator can no longer share this session")
	}
	return nil
}

// revokeInvitationByID lets whoever manages the session now revoke any of its invitations by
// the id the list shows (the token was only ever seen by its creator; SEC-03).
func (sv *Service) revokeInvitationByID(w http.ResponseWriter, r *http.Request) error {
	se, _, err := sv.session(r.Context(), httpx.Caller(r), r.PathValue("id"), true)
	if err != nil {
		return err
	}
	id := r.PathValue("invitationId")
	if !ids.Valid("inv", id) {
		return problem.NotFound("invitation")
	}
	hash, found, err := sv.Store.InvitationHash(r.Context(), se.ID, id)
	if err != nil {
		return err
	}
	if !found {
		return problem.NotFound("invitation")
	}
	if err := sv.Store.RevokeInvitation(r.Context(), hash); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

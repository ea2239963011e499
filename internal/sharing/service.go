package sharing

import (
	"context"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/clock"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
	"streamspace/internal/users"
)

// Service holds the sharing rules; handlers translate HTTP to calls on it.
type Service struct {
	Store    *Store
	Sessions *sessions.Service
	Users    *users.Store
	Access   *access.Decider
	Now      func() time.Time
}

func (sv *Service) now() time.Time { return clock.UTC(sv.Now) }

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

func level(field, v string) error {
	if _, ok := access.ParseLevel(v); !ok {
		return problem.Invalid(field, "must be view, collaborate or control")
	}
	return nil
}

// ShareInput is the body of POST /sessions/{id}/share.
type ShareInput struct {
	SharedWithUserID string     `json:"sharedWithUserId"`
	PermissionLevel  string     `json:"permissionLevel"`
	ExpiresAt        *time.Time `json:"expiresAt"`
}

// Share gives a user a level on a session the caller manages, or changes the level of the share
// the user has. created is false for such a change; replayed is true when the Idempotency-Key
// was used before (the answer is the share as it is now).
func (sv *Service) Share(ctx context.Context, c auth.Caller, sessionID string, in ShareInput, key idempotency.Requested) (sh Share, created, replayed bool, err error) {
	if in.SharedWithUserID == "" || len(in.SharedWithUserID) > 128 {
		return Share{}, false, false, problem.Invalid("sharedWithUserId", "is required")
	}
	if err := level("permissionLevel", in.PermissionLevel); err != nil {
		return Share{}, false, false, err
	}
	now := sv.now()
	if in.ExpiresAt != nil && (!in.ExpiresAt.After(now) || in.ExpiresAt.Sub(now) > maxShareLifetime) {
		return Share{}, false, false, problem.Invalid("expiresAt", "must be in the future, within a year")
	}
	idem, err := key.Claim(in, now)
	if err != nil {
		return Share{}, false, false, err
	}
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return Share{}, false, false, err
	}
	if in.SharedWithUserID == c.UserID || in.SharedWithUserID == se.OwnerID {
		return Share{}, false, false, problem.Invalid("sharedWithUserId", "cannot share a session with its owner or yourself")
	}
	if se.Final() {
		return Share{}, false, false, problem.Conflict("the session is terminated")
	}
	if err := sv.Users.Known(ctx, "sharedWithUserId", in.SharedWithUserID); err != nil {
		return Share{}, false, false, err
	}
	sh = Share{ID: ids.New("shr"), SessionID: se.ID, SharedWithUserID: in.SharedWithUserID, PermissionLevel: in.PermissionLevel,
		CreatedBy: c.UserID, CreatedAt: now}
	if in.ExpiresAt != nil {
		sh.Expiry = in.ExpiresAt.Unix()
	}
	got, created, rec, err := sv.Store.PutShareClaimed(ctx, sh, idem)
	return got, created, rec != nil, err
}

// ShareView is a share as its session's manager lists it.
type ShareView struct {
	Share
	Active bool `json:"active"`
}

// Shares is one page of a session's shares, for its managers.
func (sv *Service) Shares(ctx context.Context, c auth.Caller, sessionID string, q paging.Query) ([]ShareView, string, error) {
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return nil, "", err
	}
	shares, next, err := sv.Store.SharesPage(ctx, se.ID, q.Limit, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	items := make([]ShareView, 0, len(shares))
	for _, sh := range shares {
		items = append(items, ShareView{Share: sh, Active: sh.Active(sv.now())})
	}
	return items, next, nil
}

// Unshare removes one share of a session the caller manages.
func (sv *Service) Unshare(ctx context.Context, c auth.Caller, sessionID, shareID string) error {
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return err
	}
	if !ids.Valid("shr", shareID) {
		return problem.NotFound("share")
	}
	shares, err := sv.Store.Shares(ctx, se.ID)
	if err != nil {
		return err
	}
	for _, sh := range shares {
		if sh.ID == shareID {
			return sv.Store.DeleteShare(ctx, se.ID, sh.SharedWithUserID, shareID)
		}
	}
	return problem.NotFound("share")
}

// Collaborators is one page of the users connected to a session the caller may see.
func (sv *Service) Collaborators(ctx context.Context, c auth.Caller, sessionID string, q paging.Query) ([]sessions.Collaborator, string, error) {
	se, _, err := sv.session(ctx, c, sessionID, false)
	if err != nil {
		return nil, "", err
	}
	return sv.Sessions.Collaborators(ctx, se.ID, q.Limit, q.Cursor)
}

// RemoveCollaborator disconnects a user from a session the caller manages.
func (sv *Service) RemoveCollaborator(ctx context.Context, c auth.Caller, sessionID, userID string) error {
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return err
	}
	n, err := sv.Sessions.DisconnectUser(ctx, c, se.ID, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return problem.NotFound("collaborator")
	}
	return nil
}

// SharedSession is a session shared with a user, with the share.
type SharedSession struct {
	Session         sessions.Session `json:"session"`
	PermissionLevel string           `json:"permissionLevel"`
	ShareID         string           `json:"shareId"`
	SharedAt        time.Time        `json:"sharedAt"`
	ExpiresAt       *time.Time       `json:"expiresAt"`
}

// SharedWith is one page of the sessions shared with userID ("" or the caller: the caller's;
// another user's: admins only).
func (sv *Service) SharedWith(ctx context.Context, c auth.Caller, userID string, q paging.Query) ([]SharedSession, string, error) {
	user := c.UserID
	if userID != "" && userID != c.UserID {
		if !c.IsAdmin() {
			return nil, "", problem.Forbidden("listing another user's shared sessions needs the admin role")
		}
		user = userID
	}
	shares, next, err := sv.Store.SharedWith(ctx, user, q.Limit, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	now := sv.now()
	var idList []string
	for _, sh := range shares {
		if sh.Active(now) {
			idList = append(idList, sh.SessionID)
		}
	}
	found, err := sv.Sessions.Store.GetMany(ctx, idList)
	if err != nil {
		return nil, "", err
	}
	items := []SharedSession{}
	for _, sh := range shares {
		if se, ok := found[sh.SessionID]; ok && sh.Active(now) {
			items = append(items, SharedSession{Session: se, PermissionLevel: sh.PermissionLevel, ShareID: sh.ID,
				SharedAt: sh.CreatedAt, ExpiresAt: sh.ExpiresAt})
		}
	}
	return items, next, nil
}

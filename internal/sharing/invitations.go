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
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
	"streamspace/internal/users"
)

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// InviteInput is the body of POST /sessions/{id}/invitations.
type InviteInput struct {
	PermissionLevel string     `json:"permissionLevel"`
	MaxUses         *int       `json:"maxUses"`
	ExpiresIn       string     `json:"expiresIn"`
	ExpiresAt       *time.Time `json:"expiresAt"`
}

// NewInvitation is the one answer that carries an invitation's token.
type NewInvitation struct {
	Invitation
	Token     string `json:"token"`
	AcceptURL string `json:"acceptUrl"`
}

// Invite makes an invitation to a session the caller manages. A record back is a replay of an
// earlier invite with the same Idempotency-Key: it answers the invitation without its token,
// which is shown once and only stored as a hash.
func (sv *Service) Invite(ctx context.Context, c auth.Caller, sessionID string, in InviteInput, key idempotency.Requested) (NewInvitation, *idempotency.Record, error) {
	if err := level("permissionLevel", in.PermissionLevel); err != nil {
		return NewInvitation{}, nil, err
	}
	maxUses := 1
	if in.MaxUses != nil {
		if *in.MaxUses < 1 || *in.MaxUses > 1000 {
			return NewInvitation{}, nil, problem.Invalid("maxUses", "must be from 1 to 1000")
		}
		maxUses = *in.MaxUses
	}
	now := sv.now()
	until := now.AddDate(0, 0, 7)
	switch {
	case in.ExpiresIn != "" && in.ExpiresAt != nil:
		return NewInvitation{}, nil, problem.Invalid("expiresIn", "give expiresIn or expiresAt, not both")
	case in.ExpiresIn != "":
		t, err := expiry.Parse("expiresIn", in.ExpiresIn, now, maxShareLifetime)
		if err != nil {
			return NewInvitation{}, nil, err
		}
		until = t
	case in.ExpiresAt != nil:
		if !in.ExpiresAt.After(now) || in.ExpiresAt.Sub(now) > maxShareLifetime {
			return NewInvitation{}, nil, problem.Invalid("expiresAt", "must be in the future, within a year")
		}
		until = *in.ExpiresAt
	}
	idem, err := key.Claim(in, now)
	if err != nil {
		return NewInvitation{}, nil, err
	}
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return NewInvitation{}, nil, err
	}
	if se.Final() {
		return NewInvitation{}, nil, problem.Conflict("the session is terminated")
	}
	if n, err := sv.Store.OpenInvitations(ctx, se.ID, now); err != nil {
		return NewInvitation{}, nil, err
	} else if n >= MaxOpenInvitations {
		return NewInvitation{}, nil, problem.Conflict(fmt.Sprintf("the session has %d open invitations, the most it may have: revoke some first", n))
	}
	token, err := newToken()
	if err != nil {
		return NewInvitation{}, nil, err
	}
	inv := Invitation{ID: ids.New("inv"), SessionID: se.ID, PermissionLevel: in.PermissionLevel, MaxUses: maxUses,
		ValidUntil: until.UTC(), ValidUntilUnix: until.Unix(), TokenPrefix: token[:6], CreatedBy: c.UserID, CreatedAt: now,
		CreatorRole: c.ExternalRole}
	if err := idem.Respond(http.StatusCreated, "", inv); err != nil {
		return NewInvitation{}, nil, err
	}
	rec, err := sv.Store.CreateInvitation(ctx, inv, TokenHash(token), idem)
	if err != nil || rec != nil {
		return NewInvitation{}, rec, err
	}
	return NewInvitation{inv, token, "/api/v1/invitations/" + token + "/accept"}, nil, nil
}

// Invitations is one page of a session's invitations (never their tokens), for its managers.
func (sv *Service) Invitations(ctx context.Context, c auth.Caller, sessionID string, q paging.Query) ([]Invitation, string, error) {
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return nil, "", err
	}
	return sv.Store.Invitations(ctx, se.ID, q.Limit, q.Cursor)
}

// invitation finds an invitation by its token (404 for anything unknown).
func (sv *Service) invitation(ctx context.Context, token string) (Invitation, string, error) {
	if !tokenRE.MatchString(token) {
		return Invitation{}, "", problem.NotFound("invitation")
	}
	hash := TokenHash(token)
	inv, ok, err := sv.Store.Invitation(ctx, hash)
	if err != nil {
		return Invitation{}, "", err
	}
	if !ok {
		return Invitation{}, "", problem.NotFound("invitation")
	}
	return inv, hash, nil
}

// RevokeInvitation revokes the invitation of a token, for whoever manages its session now.
func (sv *Service) RevokeInvitation(ctx context.Context, c auth.Caller, token string) error {
	inv, hash, err := sv.invitation(ctx, token)
	if err != nil {
		return err
	}
	if _, _, err := sv.session(ctx, c, inv.SessionID, true); err != nil {
		if problem.As(err) != nil && problem.As(err).Status == http.StatusForbidden {
			return problem.NotFound("invitation") // a guest holding a token learns nothing more
		}
		return err
	}
	return sv.Store.RevokeInvitation(ctx, hash)
}

// RevokeInvitationByID lets whoever manages the session now revoke any of its invitations by
// the id the list shows (the token was only ever seen by its creator; SEC-03).
func (sv *Service) RevokeInvitationByID(ctx context.Context, c auth.Caller, sessionID, id string) error {
	se, _, err := sv.session(ctx, c, sessionID, true)
	if err != nil {
		return err
	}
	if !ids.Valid("inv", id) {
		return problem.NotFound("invitation")
	}
	hash, found, err := sv.Store.InvitationHash(ctx, se.ID, id)
	if err != nil {
		return err
	}
	if !found {
		return problem.NotFound("invitation")
	}
	return sv.Store.RevokeInvitation(ctx, hash)
}

// Accepted is the answer of an acceptance: the level the caller now holds on the session.
type Accepted struct {
	SessionID       string `json:"sessionId"`
	PermissionLevel string `json:"permissionLevel"`
	InvitationID    string `json:"invitationId"`
}

// Accept gives the caller (never anyone named in a request) the share a token's invitation
// offers. A record back is a replay of an earlier acceptance with the same Idempotency-Key.
func (sv *Service) Accept(ctx context.Context, c auth.Caller, token string, key idempotency.Requested) (Accepted, *idempotency.Record, error) {
	now := sv.now()
	idem, err := key.Claim(nil, now)
	if err != nil {
		return Accepted{}, nil, err
	}
	// A retry must replay even when the first acceptance used the invitation up.
	if rec, err := idempotency.Peek(ctx, sv.Store.DB, sv.Store.Table, idem); err != nil || rec != nil {
		return Accepted{}, rec, err
	}
	inv, hash, err := sv.invitation(ctx, token)
	if err != nil {
		return Accepted{}, nil, err
	}
	if why := inv.Usable(now); why != "" {
		return Accepted{}, nil, problem.Gone(why)
	}
	se, err := sv.Sessions.Store.Get(ctx, inv.SessionID)
	if errors.Is(err, sessions.ErrNotFound) {
		return Accepted{}, nil, problem.Gone("the session no longer exists")
	} else if err != nil {
		return Accepted{}, nil, err
	}
	if se.OwnerID == c.UserID {
		return Accepted{}, nil, problem.Conflict("the owner cannot accept an invitation to their own session")
	}
	if se.Final() {
		return Accepted{}, nil, problem.Gone("the session is terminated")
	}
	if err := sv.acceptable(ctx, c, se, inv); err != nil {
		return Accepted{}, nil, err
	}
	share, effective, err := sv.acceptedShare(ctx, c, se, inv, now)
	if err != nil {
		return Accepted{}, nil, err
	}
	out := Accepted{SessionID: se.ID, PermissionLevel: effective, InvitationID: inv.ID}
	if err := idem.Respond(http.StatusOK, "", out); err != nil {
		return Accepted{}, nil, err
	}
	rec, err := sv.Store.Accept(ctx, hash, c.UserID, share, now, idem)
	switch {
	case rec != nil:
		return Accepted{}, rec, nil
	case errors.Is(err, errAlreadyAccepted):
		// accepting twice is harmless and consumes nothing
	case err != nil:
		return Accepted{}, nil, err
	}
	return out, nil, nil
}

// acceptedShare keeps a stronger share the user already holds (nil share: nothing to write);
// otherwise it is the invitation's level. effective is the level the user ends up with.
func (sv *Service) acceptedShare(ctx context.Context, c auth.Caller, se sessions.Session, inv Invitation, now time.Time) (*Share, string, error) {
	lvl, _ := access.ParseLevel(inv.PermissionLevel)
	existing, err := sv.Store.Shares(ctx, se.ID)
	if err != nil {
		return nil, "", err
	}
	current := Share{}
	for _, sh := range existing {
		if sh.SharedWithUserID == c.UserID && sh.Active(now) {
			current = sh
		}
	}
	have, _ := access.ParseLevel(current.PermissionLevel)
	if have >= lvl {
		return nil, current.PermissionLevel, nil
	}
	id := current.ID
	if id == "" {
		id = ids.New("shr")
	}
	return &Share{ID: id, SessionID: se.ID, SharedWithUserID: c.UserID, PermissionLevel: inv.PermissionLevel,
		CreatedBy: inv.CreatedBy, CreatedAt: now}, inv.PermissionLevel, nil
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

// Observed state from the runtime, and ownership transfer.

package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/resources"
	"streamspace/internal/users"
)

// StatusReport is what the runtime observed (POST /sessions/{id}/status).
type StatusReport struct {
	State string `json:"state"`
	URL   string `json:"url,omitempty"`
	Error string `json:"error,omitempty"`
	Usage *Usage `json:"usage,omitempty"`
}

// ReportStatus applies an observation; only the runtime (an admin principal) may report.
func (sv *Service) ReportStatus(ctx context.Context, c auth.Caller, id string, in StatusReport) (Session, error) {
	if err := in.validate(); err != nil {
		return Session{}, err
	}
	return sv.apply(ctx, c, id, change{required: access.View, what: "reporting status",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if !c.IsAdmin() { // checked after visibility: a stranger learns nothing, not even this
				return nil, nil, problem.Forbidden("only the session runtime reports status")
			}
			return sv.observe(ctx, old, next, in)
		}})
}

// TransferOfferTTL is how long a transfer offer waits for its recipient.
const TransferOfferTTL = 7 * 24 * time.Hour

// Transfer offers the session to another user (owner, team manager or admin): nothing moves and
// no quota is used until the recipient accepts (SEC-15). A new offer replaces a pending one.
func (sv *Service) Transfer(ctx context.Context, c auth.Caller, id, newOwner string) (Session, error) {
	if newOwner == "" || len(newOwner) > 128 {
		return Session{}, problem.Invalid("newOwnerUserId", "is required")
	}
	if err := sv.Users.Known(ctx, "newOwnerUserId", newOwner); err != nil {
		return Session{}, err
	}
	return sv.apply(ctx, c, id, change{required: access.View, manage: true, what: "transferring the session",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.Final() {
				return nil, nil, problem.Conflict("the session is terminated")
			}
			if newOwner == old.OwnerID {
				return nil, nil, problem.Conflict("the session already belongs to " + newOwner)
			}
			now := sv.now()
			next.TransferOffer = &TransferOffer{ToUserID: newOwner, OfferedBy: c.UserID, CreatedAt: now, ExpiresAt: now.Add(TransferOfferTTL),
				OfferedByRole: c.ExternalRole}
			return nil, nil, nil
		}})
}

// CancelTransfer withdraws the pending offer (whoever may transfer the session).
func (sv *Service) CancelTransfer(ctx context.Context, c auth.Caller, id string) error {
	_, err := sv.apply(ctx, c, id, change{required: access.View, manage: true, what: "cancelling a transfer",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.TransferOffer == nil {
				return nil, nil, problem.NotFound("transfer offer")
			}
			next.TransferOffer = nil
			return nil, nil, nil
		}})
	return err
}

// DeclineTransfer refuses the offer made to the caller.
func (sv *Service) DeclineTransfer(ctx context.Context, c auth.Caller, id string) error {
	_, err := sv.apply(ctx, c, id, change{recipient: true, what: "declining a transfer",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			next.TransferOffer = nil
			return nil, nil, nil
		}})
	return err
}

// AcceptTransfer makes the caller, to whom the session was offered, its owner: the quota moves in
// the same transaction (refused when the caller's quota is full), and invitations made before
// now end (TransferredAt). The offer is only as good as its maker's right to transfer now (a team
// admin removed from the team since: 410), as for invitations (SEC-03).
func (sv *Service) AcceptTransfer(ctx context.Context, c auth.Caller, id string) (Session, error) {
	if err := sv.mayRunSessions(c); err != nil {
		return Session{}, err
	}
	return sv.apply(ctx, c, id, change{recipient: true, what: "accepting a transfer",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.Final() {
				return nil, nil, problem.Conflict("the session is terminated")
			}
			if err := sv.offerStands(ctx, old); err != nil {
				return nil, nil, err
			}
			now := sv.now()
			newOwner := old.TransferOffer.ToUserID
			next.OwnerID, next.TransferredAt, next.TransferOffer = newOwner, &now, nil
			if !old.Live() {
				return nil, nil, nil
			}
			amt, _, _ := old.Resources.Parse()
			return []types.TransactWriteItem{
				sv.Store.quotaChange(newOwner, 1, amt, sv.Limits),
				sv.Store.quotaChange(old.OwnerID, -1, resources.Amount{CPUMillis: -amt.CPUMillis, MemoryMiB: -amt.MemoryMiB}, sv.Limits),
			}, nil, nil
		}})
}

// loadOffered reads a session with a live transfer offer to the caller; anything else (no such
// session, no offer, an offer to someone else, an expired one) is "not found".
func (sv *Service) loadOffered(ctx context.Context, c auth.Caller, id string) (Session, error) {
	if !ids.Valid("sess", id) {
		return Session{}, ErrNotFound
	}
	se, err := sv.Store.Get(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if o := se.TransferOffer; o == nil || o.ToUserID != c.UserID || !sv.now().Before(o.ExpiresAt) {
		return Session{}, problem.NotFound("transfer offer")
	}
	return se, nil
}

// offerStands checks that the offer's maker may still transfer the session (the owner always may).
func (sv *Service) offerStands(ctx context.Context, se Session) error {
	o := se.TransferOffer
	if o.OfferedBy == se.OwnerID {
		return nil
	}
	maker, err := sv.Users.Get(ctx, o.OfferedBy)
	if errors.Is(err, users.ErrNotFound) {
		return problem.Gone("the offer's maker no longer exists")
	} else if err != nil {
		return err
	}
	mc := auth.Caller{UserID: maker.ID, Role: auth.HighestRole(auth.RoleUser, maker.Role, o.OfferedByRole)}
	g, err := sv.Access.Decide(ctx, mc, access.Subject{SessionID: se.ID, OwnerID: se.OwnerID, TeamID: se.TeamID})
	if err != nil {
		return err
	}
	if !g.Manage {
		return problem.Gone("the offer's maker may no longer transfer this session")
	}
	return nil
}

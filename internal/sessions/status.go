// Observed state from the runtime, and ownership transfer.

package sessions

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
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

// Transfer gives the session to another user (owner, team manager or admin). The new owner must
// exist and have quota; the old owner keeps nothing unless shared; shares stay.
func (sv *Service) Transfer(ctx context.Context, c auth.Caller, id, newOwner string) (Session, error) {
	if newOwner == "" || len(newOwner) > 128 {
		return Session{}, problem.Invalid("newOwnerUserId", "is required")
	}
	if _, err := sv.Users.Get(ctx, newOwner); errors.Is(err, users.ErrNotFound) {
		return Session{}, problem.Invalid("newOwnerUserId", "no such user")
	} else if err != nil {
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
			next.OwnerID, next.TransferredAt = newOwner, &now
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

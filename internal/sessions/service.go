package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/resources"
	"streamspace/internal/templates"
	"streamspace/internal/tickets"
	"streamspace/internal/users"
)

// Service holds the sessions area's rules; handlers translate HTTP to calls on it.
type Service struct {
	Store     *Store
	Users     *users.Store
	Templates *templates.Store
	Access    *access.Decider
	Limits    Limits
	// RequireRoleGrant: a user runs no sessions until an administrator grants a role (SEC-05).
	RequireRoleGrant bool
	// Tickets signs stream tickets; GatewayURL is the streaming gateway's public base
	// (https://…/gateway). Without both, connect answers 503.
	Tickets    *tickets.Keyring
	GatewayURL string
	// Recorder starts the recordings templates ask for (recordSessions); nil: none.
	Recorder PolicyRecorder
	Now      func() time.Time
}

// Bounds on session settings (seconds).
const (
	DefaultIdleTimeout        = 30 * 60
	DefaultMaxSessionDuration = 8 * 3600
	MaxIdleTimeout            = 7 * 24 * 3600
	MaxMaxSessionDuration     = 30 * 24 * 3600
	MaxTags                   = 50
	MaxTagLength              = 128
	connectionTTL             = 2 * time.Hour
	saveAttempts              = 8
)

func (sv *Service) now() time.Time {
	if sv.Now != nil {
		return sv.Now().UTC()
	}
	return time.Now().UTC()
}

// CreateInput is the body of POST /sessions.
type CreateInput struct {
	TemplateName       string               `json:"templateName"`
	TeamID             string               `json:"teamId,omitempty"`
	Resources          *resources.Resources `json:"resources,omitempty"`
	Tags               []string             `json:"tags,omitempty"`
	IdleTimeout        *int                 `json:"idleTimeout,omitempty"`
	MaxSessionDuration *int                 `json:"maxSessionDuration,omitempty"`
	PersistentHome     *bool                `json:"persistentHome,omitempty"`
}

// Create starts a session for the caller, as POST /sessions with idemKey (none when empty) as
// its Idempotency-Key. The second result is true for an idempotent replay.
func (sv *Service) Create(ctx context.Context, c auth.Caller, in CreateInput, idemKey string) (Session, bool, error) {
	var idem *idempotency.Claim
	if idemKey != "" {
		var err error
		if idem, err = idempotency.New(c.UserID, idemKey, "POST", "/api/v1/sessions", in, sv.now()); err != nil {
			return Session{}, false, err
		}
	}
	return sv.CreateClaimed(ctx, c, in, idem)
}

// CreateClaimed is Create with the request's idempotency claim (nil without a key).
func (sv *Service) CreateClaimed(ctx context.Context, c auth.Caller, in CreateInput, idem *idempotency.Claim) (Session, bool, error) {
	if in.TemplateName == "" {
		return Session{}, false, problem.Invalid("templateName", "is required")
	}
	if !templates.ValidName(in.TemplateName) {
		return Session{}, false, problem.Invalid("templateName", "is not a template name")
	}
	if in.TeamID != "" && !ids.Valid("team", in.TeamID) {
		return Session{}, false, problem.Invalid("teamId", "is not a team id")
	}
	tags, err := normalizeTags(in.Tags)
	if err != nil {
		return Session{}, false, err
	}
	idle, err := boundedSeconds("idleTimeout", in.IdleTimeout, DefaultIdleTimeout, 60, MaxIdleTimeout)
	if err != nil {
		return Session{}, false, err
	}
	maxDur, err := boundedSeconds("maxSessionDuration", in.MaxSessionDuration, DefaultMaxSessionDuration, 300, MaxMaxSessionDuration)
	if err != nil {
		return Session{}, false, err
	}
	tpl, err := sv.Templates.Get(ctx, in.TemplateName)
	if errors.Is(err, templates.ErrNotFound) {
		return Session{}, false, problem.Invalid("templateName", "no template named "+in.TemplateName)
	} else if err != nil {
		return Session{}, false, err
	}
	res := tpl.DefaultResources
	if in.Resources != nil {
		res = *in.Resources
	}
	amt, field, err := res.Parse()
	if err != nil {
		return Session{}, false, problem.Invalid(field, err.Error())
	}
	if err := sv.mayRunSessions(c); err != nil {
		return Session{}, false, err
	}
	now := sv.now()
	se := Session{ID: ids.New("sess"), OwnerID: c.UserID, TeamID: in.TeamID, TemplateName: tpl.Name, State: StatePending,
		DesiredState: StateRunning, Resources: res, Tags: tags, IdleTimeout: idle, MaxSessionDuration: maxDur,
		PersistentHome: in.PersistentHome == nil || *in.PersistentHome, LastActivity: now, CreatedAt: now, UpdatedAt: now, Version: 1,
		Actor: auth.ActorFrom(ctx)}
	created, replayed, err := sv.Store.Create(ctx, se, amt, sv.Limits, idem)
	if err != nil || !replayed {
		return created, replayed, err
	}
	// A replay answers the session as it is now, so as any read would: one the caller can no
	// longer see (transferred, unshared) is 404, not a look at someone else's session.
	g, err := sv.Access.Decide(ctx, c, access.Subject{SessionID: created.ID, OwnerID: created.OwnerID, TeamID: created.TeamID})
	if err != nil {
		return Session{}, false, err
	}
	if g.Level < access.View {
		return Session{}, false, ErrNotFound
	}
	return created, true, nil
}

func boundedSeconds(field string, v *int, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, problem.Invalid(field, fmt.Sprintf("must be from %d to %d seconds", lo, hi))
	}
	return *v, nil
}

func normalizeTags(in []string) ([]string, error) {
	out := []string{}
	for _, t := range in {
		if t == "" || len(t) > MaxTagLength {
			return nil, problem.Invalid("tags", fmt.Sprintf("each tag must be 1-%d characters", MaxTagLength))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, problem.Invalid("tags", fmt.Sprintf("at most %d tags per session", MaxTags))
	}
	return out, nil
}

// load reads a session and the caller's grant; sessions the caller may not view are "not found".
func (sv *Service) load(ctx context.Context, c auth.Caller, id string) (Session, access.Grant, error) {
	if !ids.Valid("sess", id) {
		return Session{}, access.Grant{}, ErrNotFound
	}
	se, err := sv.Store.Get(ctx, id)
	if err != nil {
		return Session{}, access.Grant{}, err
	}
	g, err := sv.Access.Decide(ctx, c, access.Subject{SessionID: se.ID, OwnerID: se.OwnerID, TeamID: se.TeamID})
	if err != nil {
		return Session{}, access.Grant{}, err
	}
	if g.Level < access.View {
		return Session{}, access.Grant{}, ErrNotFound
	}
	return se, g, nil
}

// Get returns a session the caller may view.
func (sv *Service) Get(ctx context.Context, c auth.Caller, id string) (Session, access.Grant, error) {
	return sv.load(ctx, c, id)
}

func need(g access.Grant, l access.Level, what string) error {
	if g.Level < l {
		return problem.Forbidden(fmt.Sprintf("%s needs %s access to the session", what, l))
	}
	return nil
}

// change is one read-check-write of a session: mutate edits next (or returns a problem) and may
// ask for a quota change and extra writes. It is retried on a concurrent update unless the
// client pinned a version with If-Match (then the conflict is the client's: 412).
type change struct {
	required access.Level
	manage   bool // sharing, transfer: owner, team sessions.update, admin
	delete   bool // owner, team sessions.delete, admin
	// recipient: the caller is the recipient of the session's transfer offer, who may not see
	// the session yet (access is the offer, not a grant).
	recipient bool
	what      string
	ifMatch   *int
	mutate    func(old Session, next *Session, g access.Grant) (quota []types.TransactWriteItem, extra []types.TransactWriteItem, err error)
}

func (sv *Service) apply(ctx context.Context, c auth.Caller, id string, ch change) (Session, error) {
	for attempt := 0; ; attempt++ {
		var old Session
		var g access.Grant
		var err error
		if ch.recipient {
			old, err = sv.loadOffered(ctx, c, id)
		} else {
			old, g, err = sv.load(ctx, c, id)
		}
		if err != nil {
			return Session{}, err
		}
		if err := need(g, ch.required, ch.what); err != nil {
			return Session{}, err
		}
		if (ch.manage && !g.Manage) || (ch.delete && !g.Delete) {
			return Session{}, problem.Forbidden(ch.what + " is for the session's owner")
		}
		if ch.ifMatch != nil && *ch.ifMatch != old.Version {
			return Session{}, problem.PreconditionFailed(fmt.Sprintf("the session is at version %d", old.Version))
		}
		next := old
		next.Tags = slices.Clone(old.Tags)
		quota, extra, err := ch.mutate(old, &next, g)
		if err != nil {
			return Session{}, err
		}
		if quota == nil && extra == nil && sameSession(old, next) {
			return old, nil // nothing to change: no write, no event
		}
		next.UpdatedAt, next.Actor = sv.now(), auth.ActorFrom(ctx)
		err = sv.Store.Save(ctx, old, next, quota, extra...)
		switch {
		case err == nil:
			next.Version = old.Version + 1
			return next, nil
		case errors.Is(err, errQuota):
			return Session{}, quotaExceeded(sv.Limits)
		case errors.Is(err, errVersionConflict) && ch.ifMatch == nil && attempt < saveAttempts:
			// Jittered backoff: writers that collided once must not collide again in lockstep.
			time.Sleep(time.Duration(rand.IntN(5<<attempt)+1) * time.Millisecond)
			continue
		case errors.Is(err, errVersionConflict) && ch.ifMatch == nil:
			return Session{}, problem.Conflict("the session is being changed by others right now; retry")
		case errors.Is(err, errVersionConflict):
			return Session{}, problem.PreconditionFailed("the session changed concurrently; read it again")
		}
		var ef extraFailed
		if errors.As(err, &ef) {
			return Session{}, problem.NotFound("connection")
		}
		return Session{}, err
	}
}

func sameSession(a, b Session) bool {
	ja, _ := json.Marshal([]any{a, a.Runtime, a.ConnectionsCheckedAt}) // parts not in the JSON form
	jb, _ := json.Marshal([]any{b, b.Runtime, b.ConnectionsCheckedAt})
	return string(ja) == string(jb)
}

// PatchInput is the body of PATCH /sessions/{id}.
type PatchInput struct {
	DesiredState       *string              `json:"desiredState,omitempty"`
	Resources          *resources.Resources `json:"resources,omitempty"`
	IdleTimeout        *int                 `json:"idleTimeout,omitempty"`
	MaxSessionDuration *int                 `json:"maxSessionDuration,omitempty"`
}

// Patch changes settings and the desired state (control access).
func (sv *Service) Patch(ctx context.Context, c auth.Caller, id string, in PatchInput, ifMatch *int) (Session, error) {
	if in.DesiredState == nil && in.Resources == nil && in.IdleTimeout == nil && in.MaxSessionDuration == nil {
		return Session{}, problem.Invalid("body", "nothing to change: give desiredState, resources, idleTimeout or maxSessionDuration")
	}
	if in.DesiredState != nil && !ValidDesired(*in.DesiredState) {
		return Session{}, problem.Invalid("desiredState", "must be running, hibernated or terminated")
	}
	var newAmt resources.Amount
	if in.Resources != nil {
		a, field, err := in.Resources.Parse()
		if err != nil {
			return Session{}, problem.Invalid(field, err.Error())
		}
		newAmt = a
	}
	idle, err := boundedSeconds("idleTimeout", in.IdleTimeout, 0, 60, MaxIdleTimeout)
	if err != nil {
		return Session{}, err
	}
	maxDur, err := boundedSeconds("maxSessionDuration", in.MaxSessionDuration, 0, 300, MaxMaxSessionDuration)
	if err != nil {
		return Session{}, err
	}
	return sv.apply(ctx, c, id, change{required: access.Control, what: "changing the session", ifMatch: ifMatch,
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.Final() {
				return nil, nil, problem.Conflict("the session is terminated")
			}
			if idle > 0 {
				next.IdleTimeout = idle
			}
			if maxDur > 0 {
				next.MaxSessionDuration = maxDur
			}
			var quota []types.TransactWriteItem
			if in.Resources != nil && *in.Resources != old.Resources {
				oldAmt, _, _ := old.Resources.Parse()
				next.Resources = *in.Resources
				if old.Live() {
					quota = sv.Store.quotaChanges(old, 0, resources.Amount{CPUMillis: newAmt.CPUMillis - oldAmt.CPUMillis,
						MemoryMiB: newAmt.MemoryMiB - oldAmt.MemoryMiB}, sv.Limits)
				}
			}
			if in.DesiredState != nil && *in.DesiredState != old.DesiredState {
				if err := checkDesired(old, *in.DesiredState); err != nil {
					return nil, nil, problem.Conflict(err.Error())
				}
				if *in.DesiredState == StateTerminated {
					// Ending a session for good is DELETE's right (owner, team.sessions.delete,
					// admin), whichever route asks: a control share may hibernate, not terminate.
					if !g.Delete {
						return nil, nil, problem.Forbidden("terminating the session is for its owner")
					}
					return sv.terminate(old, next)
				}
				next.DesiredState = *in.DesiredState
			}
			return quota, nil, nil
		}})
}

// terminate ends a session at once in the control plane (the runtime reaps what ran) and
// releases its quota in the same transaction.
func (sv *Service) terminate(old Session, next *Session) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
	next.DesiredState, next.State, next.URL = StateTerminated, StateTerminated, ""
	return sv.release(old), nil, nil
}

// release gives a live session's quota back to its owner and team.
func (sv *Service) release(old Session) []types.TransactWriteItem {
	if !old.Live() {
		return nil
	}
	amt, _, _ := old.Resources.Parse()
	return sv.Store.quotaChanges(old, -1, resources.Amount{CPUMillis: -amt.CPUMillis, MemoryMiB: -amt.MemoryMiB}, sv.Limits)
}

// Delete terminates the session and keeps its record as history (owner or admin).
func (sv *Service) Delete(ctx context.Context, c auth.Caller, id string, ifMatch *int) (Session, error) {
	return sv.apply(ctx, c, id, change{required: access.View, delete: true, what: "deleting the session", ifMatch: ifMatch,
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.DeletedAt != nil {
				return nil, nil, ErrNotFound
			}
			now := sv.now()
			next.DeletedAt = &now
			return sv.terminate(old, next)
		}})
}

// SetTags replaces the tags (add/remove = nil) or edits them.
func (sv *Service) SetTags(ctx context.Context, c auth.Caller, id string, replace []string, add, remove []string, ifMatch *int) (Session, error) {
	var err error
	if replace != nil {
		if replace, err = normalizeTags(replace); err != nil {
			return Session{}, err
		}
	}
	if _, err := normalizeTags(add); err != nil {
		return Session{}, err
	}
	return sv.apply(ctx, c, id, change{required: access.Control, what: "changing tags", ifMatch: ifMatch,
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if old.Final() {
				return nil, nil, problem.Conflict("the session is terminated")
			}
			if replace != nil {
				next.Tags = replace
				return nil, nil, nil
			}
			tags := slices.DeleteFunc(next.Tags, func(t string) bool { return slices.Contains(remove, t) })
			for _, t := range add {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
			if len(tags) > MaxTags {
				return nil, nil, problem.Invalid("add", fmt.Sprintf("at most %d tags per session", MaxTags))
			}
			next.Tags = tags
			return nil, nil, nil
		}})
}

// List returns a page of sessions: the caller's own, or (admin/operator) another owner's or all.
func (sv *Service) List(ctx context.Context, c auth.Caller, q ListQuery) ([]Session, string, error) {
	if q.OwnerID != "" || q.All {
		if !c.IsOperator() {
			return nil, "", problem.Forbidden("listing other users' sessions needs the operator or admin role")
		}
	}
	if q.OwnerID == "" && !q.All {
		q.OwnerID = c.UserID
	}
	return sv.Store.List(ctx, q)
}

package teams

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
	"streamspace/internal/users"
)

// Service holds the teams rules; handlers translate HTTP to calls on it.
type Service struct {
	Store    *Store
	Users    *users.Store
	Sessions *sessions.Store
}

// anyMember stands for "every member may", on routes the brief opens to all members.
const anyMember = ""

// readPerms are what a platform operator may do on any team (view everything).
var readPerms = []string{anyMember, access.PermSessionsView, access.PermQuotaView}

// authorize returns the caller's team role ("" for platform admins and operators acting on a
// team they are not in). Non-members learn nothing: 404.
func (sv *Service) authorize(ctx context.Context, c auth.Caller, teamID, perm string) (string, error) {
	if !ids.Valid("team", teamID) {
		return "", ErrNotFound
	}
	m, ok, err := sv.Store.Membership(ctx, teamID, c.UserID)
	if err != nil {
		return "", err
	}
	switch {
	case ok && (perm == anyMember || access.RoleHas(m.Role, perm)):
		return m.Role, nil
	case c.IsAdmin() || (c.IsOperator() && slices.Contains(readPerms, perm)):
		if _, err := sv.Store.Get(ctx, teamID); err != nil {
			return "", err
		}
		if ok {
			return m.Role, nil
		}
		return "", nil
	case ok:
		return "", problem.Forbidden("this needs the " + perm + " permission in the team")
	case c.IsOperator(): // operators see every team, so refusing them reveals nothing
		if _, err := sv.Store.Get(ctx, teamID); err != nil {
			return "", err
		}
		return "", problem.Forbidden("operators may view teams, not change them")
	}
	return "", ErrNotFound
}

func checkText(field, v string, max int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return problem.Invalid(field, "is required")
	}
	if len(v) > max {
		return problem.Invalid(field, "is too long")
	}
	return nil
}

// CreateInput is the body of POST /teams.
type CreateInput struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

// WithRole is a team as one caller sees it: with the caller's role and its permissions.
type WithRole struct {
	Team
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions"`
}

// Create makes a team with the caller as its owner. A record back is a replay of an earlier
// create with the same Idempotency-Key, to be answered as stored.
func (sv *Service) Create(ctx context.Context, c auth.Caller, in CreateInput, key idempotency.Requested) (WithRole, *idempotency.Record, error) {
	in.Name = strings.TrimSpace(in.Name)
	for _, e := range []error{checkText("name", in.Name, 64, true), checkText("displayName", in.DisplayName, 128, false),
		checkText("description", in.Description, 1024, false)} {
		if e != nil {
			return WithRole{}, nil, e
		}
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Name
	}
	now := time.Now().UTC()
	t := Team{ID: ids.New("team"), Name: in.Name, DisplayName: in.DisplayName, Description: in.Description,
		CreatedBy: c.UserID, CreatedAt: now, UpdatedAt: now, OwnerCount: 1, Version: 1}
	owner := Member{TeamID: t.ID, UserID: c.UserID, Role: access.TeamOwner, AddedBy: c.UserID, AddedAt: now, Version: 1}
	idem, err := key.Claim(in, now)
	if err != nil {
		return WithRole{}, nil, err
	}
	out := WithRole{Team: t, Role: access.TeamOwner, Permissions: access.TeamPermissions[access.TeamOwner]}
	if err := idem.Respond(http.StatusCreated, "/api/v1/teams/"+t.ID, out); err != nil {
		return WithRole{}, nil, err
	}
	rec, err := sv.Store.Create(ctx, t, owner, DefaultQuota, idem)
	if err != nil || rec != nil {
		return WithRole{}, rec, err
	}
	return out, nil, nil
}

// MyTeams is one page of the caller's teams, paged on the membership index; the page's teams are
// read in one BatchGetItem. A team that is gone (its memberships are removed after it) is
// skipped within the page.
func (sv *Service) MyTeams(ctx context.Context, c auth.Caller, q paging.Query) ([]WithRole, string, error) {
	ms, next, err := sv.Store.MyTeams(ctx, c.UserID, q.Limit, q.Cursor)
	if err != nil {
		return nil, "", err
	}
	idList := make([]string, len(ms))
	for i, m := range ms {
		idList[i] = m.TeamID
	}
	teams, err := sv.Store.Teams(ctx, idList)
	if err != nil {
		return nil, "", err
	}
	items := []WithRole{}
	for _, m := range ms {
		if t, ok := teams[m.TeamID]; ok && access.ValidTeamRole(m.Role) {
			items = append(items, WithRole{Team: t, Role: m.Role, Permissions: access.TeamPermissions[m.Role]})
		}
	}
	return items, next, nil
}

// Get reads a team any member (and any operator) may see, with the caller's role in it.
func (sv *Service) Get(ctx context.Context, c auth.Caller, id string) (WithRole, error) {
	role, err := sv.authorize(ctx, c, id, anyMember)
	if err != nil {
		return WithRole{}, err
	}
	t, err := sv.Store.Get(ctx, id)
	if err != nil {
		return WithRole{}, err
	}
	perms := access.TeamPermissions[role]
	if perms == nil {
		perms = []string{}
	}
	return WithRole{Team: t, Role: role, Permissions: perms}, nil
}

// UpdateInput is the body of PATCH /teams/{teamId}: the fields given change.
type UpdateInput struct {
	DisplayName *string `json:"displayName"`
	Description *string `json:"description"`
}

// Update changes a team's descriptive fields, on the version ifMatch names (nil: any).
func (sv *Service) Update(ctx context.Context, c auth.Caller, id string, in UpdateInput, ifMatch *int) (Team, error) {
	if _, err := sv.authorize(ctx, c, id, access.PermTeamManage); err != nil {
		return Team{}, err
	}
	if in.DisplayName != nil {
		if err := checkText("displayName", *in.DisplayName, 128, true); err != nil {
			return Team{}, err
		}
	}
	if in.Description != nil {
		if err := checkText("description", *in.Description, 1024, false); err != nil {
			return Team{}, err
		}
	}
	var t Team
	// Each attempt applies the edit to a fresh read and writes on its version: a concurrent edit
	// of the other field survives (regression: this used to write unconditionally).
	err := ddb.RetryOnVersionConflict(ifMatch, "team", func() error {
		var err error
		if t, err = sv.Store.Get(ctx, id); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(ifMatch, "team", t.Version); err != nil {
			return err
		}
		next := t
		if in.DisplayName != nil {
			next.DisplayName = *in.DisplayName
		}
		if in.Description != nil {
			next.Description = *in.Description
		}
		if next == t {
			return nil // nothing changes: no write, same version
		}
		next.UpdatedAt = time.Now().UTC()
		if err := sv.Store.Update(ctx, next); err != nil {
			return err
		}
		t, t.Version = next, next.Version+1
		return nil
	})
	return t, err
}

// Delete removes a team with no live sessions, and its memberships.
func (sv *Service) Delete(ctx context.Context, c auth.Caller, id string) error {
	if _, err := sv.authorize(ctx, c, id, access.PermTeamManage); err != nil {
		return err
	}
	ms, err := sv.Store.Members(ctx, id)
	if err != nil {
		return err
	}
	return sv.Store.Delete(ctx, id, ms)
}

// TeamSessions is one page of the team's sessions, of one state when state is not empty.
func (sv *Service) TeamSessions(ctx context.Context, c auth.Caller, id, state string, q paging.Query) ([]sessions.Session, string, error) {
	if _, err := sv.authorize(ctx, c, id, access.PermSessionsView); err != nil {
		return nil, "", err
	}
	switch state {
	case "", sessions.StatePending, sessions.StateRunning, sessions.StateHibernated, sessions.StateTerminated, sessions.StateFailed:
	default:
		return nil, "", problem.Invalid("state", "must be pending, running, hibernated, terminated or failed")
	}
	return sv.Sessions.List(ctx, sessions.ListQuery{TeamID: id, Limit: q.Limit, Cursor: q.Cursor, State: state})
}

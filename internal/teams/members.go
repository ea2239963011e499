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
)

// Members is one page of a team's members, for any member.
func (sv *Service) Members(ctx context.Context, c auth.Caller, id string, q paging.Query) ([]Member, string, error) {
	if _, err := sv.authorize(ctx, c, id, anyMember); err != nil {
		return nil, "", err
	}
	return sv.Store.MembersPage(ctx, id, q.Limit, q.Cursor)
}

// mayAssign says whether a caller with callerRole may touch a membership of role target: a team
// admin cannot add, promote, demote or remove owners (platform admins and team owners can).
func mayAssign(c auth.Caller, callerRole, target string) error {
	if target == access.TeamOwner && callerRole != access.TeamOwner && !c.IsAdmin() {
		return problem.Forbidden("only owners manage owners")
	}
	return nil
}

func validRole(role string) error {
	if !access.ValidTeamRole(role) {
		return problem.Invalid("role", "must be owner, admin, member or viewer")
	}
	return nil
}

// MemberInput is the body of POST /teams/{teamId}/members.
type MemberInput struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

// AddMember adds a platform user to the team. A record back is a replay of an earlier add with
// the same Idempotency-Key, to be answered as stored.
func (sv *Service) AddMember(ctx context.Context, c auth.Caller, id string, in MemberInput, key idempotency.Requested) (Member, *idempotency.Record, error) {
	role, err := sv.authorize(ctx, c, id, access.PermMembersManage)
	if err != nil {
		return Member{}, nil, err
	}
	if err := validRole(in.Role); err != nil {
		return Member{}, nil, err
	}
	if err := mayAssign(c, role, in.Role); err != nil {
		return Member{}, nil, err
	}
	if in.UserID == "" || len(in.UserID) > 128 {
		return Member{}, nil, problem.Invalid("userId", "is required")
	}
	if err := sv.Users.Known(ctx, "userId", in.UserID); err != nil {
		return Member{}, nil, err
	}
	m := Member{TeamID: id, UserID: in.UserID, Role: in.Role, AddedBy: c.UserID, AddedAt: time.Now().UTC(), Version: 1}
	idem, err := key.Claim(in, m.AddedAt)
	if err != nil {
		return Member{}, nil, err
	}
	if err := idem.Respond(http.StatusCreated, "", m); err != nil {
		return Member{}, nil, err
	}
	rec, err := sv.Store.AddMember(ctx, m, idem)
	if err != nil || rec != nil {
		return Member{}, rec, err
	}
	return m, nil, nil
}

func (sv *Service) target(ctx context.Context, teamID, userID string) (Member, error) {
	m, ok, err := sv.Store.Membership(ctx, teamID, userID)
	if err != nil {
		return Member{}, err
	}
	if !ok {
		return Member{}, problem.NotFound("member")
	}
	return m, nil
}

// ChangeRole gives a member another role, on the version ifMatch names (nil: any).
func (sv *Service) ChangeRole(ctx context.Context, c auth.Caller, id, uid, to string, ifMatch *int) (Member, error) {
	role, err := sv.authorize(ctx, c, id, access.PermMembersManage)
	if err != nil {
		return Member{}, err
	}
	if err := validRole(to); err != nil {
		return Member{}, err
	}
	var m Member
	retry := false
	// Each attempt reads the member afresh; a retry also re-reads the caller's own role, so it
	// never acts on a permission that changed meanwhile.
	err = ddb.RetryOnVersionConflict(ifMatch, "membership", func() error {
		if retry {
			if role, err = sv.authorize(ctx, c, id, access.PermMembersManage); err != nil {
				return err
			}
		}
		retry = true
		if m, err = sv.target(ctx, id, uid); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(ifMatch, "membership", m.Version); err != nil {
			return err
		}
		if err := mayAssign(c, role, m.Role); err != nil {
			return err
		}
		if err := mayAssign(c, role, to); err != nil {
			return err
		}
		if m.Role == to {
			return nil // the same role writes nothing
		}
		if err := sv.Store.ChangeRole(ctx, m, to); err != nil {
			return err
		}
		m.Role, m.Version = to, m.Version+1
		return nil
	})
	return m, err
}

// RemoveMember removes a member; leaving (uid is the caller) needs no permission, only membership.
func (sv *Service) RemoveMember(ctx context.Context, c auth.Caller, id, uid string) error {
	perm := access.PermMembersManage
	if uid == c.UserID {
		perm = anyMember
	}
	role, err := sv.authorize(ctx, c, id, perm)
	if err != nil {
		return err
	}
	m, err := sv.target(ctx, id, uid)
	if err != nil {
		return err
	}
	if uid != c.UserID {
		if err := mayAssign(c, role, m.Role); err != nil {
			return err
		}
	}
	return sv.Store.RemoveMember(ctx, id, uid, m.Role)
}

// Permissions is every team role's permissions, for any member.
func (sv *Service) Permissions(ctx context.Context, c auth.Caller, id string) (map[string]any, error) {
	if _, err := sv.authorize(ctx, c, id, anyMember); err != nil {
		return nil, err
	}
	return map[string]any{"roles": access.TeamPermissions, "permissions": access.AllTeamPermissions}, nil
}

var roleDescriptions = map[string]string{
	access.TeamOwner:  "Full control: team settings, members, sessions and quota",
	access.TeamAdmin:  "Manages members (not owners) and all team sessions; views the quota",
	access.TeamMember: "Creates, views and connects to team sessions",
	access.TeamViewer: "Views team sessions and the quota",
}

// RoleInfo describes the team roles, highest first, for any member.
func (sv *Service) RoleInfo(ctx context.Context, c auth.Caller, id string) (map[string]any, error) {
	if _, err := sv.authorize(ctx, c, id, anyMember); err != nil {
		return nil, err
	}
	var roles []map[string]any
	for i, role := range access.TeamRoles {
		roles = append(roles, map[string]any{"role": role, "rank": len(access.TeamRoles) - i,
			"description": roleDescriptions[role], "permissions": access.TeamPermissions[role]})
	}
	return map[string]any{"roles": roles}, nil
}

// myRole is the caller's own membership: non-members get 404 even if they are platform admins.
func (sv *Service) myRole(ctx context.Context, c auth.Caller, id string) (string, error) {
	if !ids.Valid("team", id) {
		return "", ErrNotFound
	}
	m, ok, err := sv.Store.Membership(ctx, id, c.UserID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrNotFound
	}
	return m.Role, nil
}

// MyPermissions is the caller's own role in the team and what it may do.
func (sv *Service) MyPermissions(ctx context.Context, c auth.Caller, id string) (map[string]any, error) {
	role, err := sv.myRole(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"teamId": id, "role": role, "permissions": access.TeamPermissions[role]}, nil
}

// CheckPermission says whether the caller's own role in the team has perm.
func (sv *Service) CheckPermission(ctx context.Context, c auth.Caller, id, perm string) (map[string]any, error) {
	if !slices.Contains(access.AllTeamPermissions, perm) {
		return nil, problem.Invalid("permission", "unknown permission; known: "+strings.Join(access.AllTeamPermissions, ", "))
	}
	role, err := sv.myRole(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"permission": perm, "role": role, "allowed": access.RoleHas(role, perm)}, nil
}

package teams

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
	"streamspace/internal/users"
)

// Service holds the teams rules.
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

// Register adds the /teams routes.
func Register(rt *httpx.Router, sv *Service) {
	rt.Handle("POST /api/v1/teams", sv.create)
	rt.Handle("GET /api/v1/teams/my-teams", sv.myTeams)
	rt.Handle("GET /api/v1/teams/{teamId}", sv.get)
	rt.Handle("PATCH /api/v1/teams/{teamId}", sv.update)
	rt.Handle("DELETE /api/v1/teams/{teamId}", sv.delete)
	rt.Handle("GET /api/v1/teams/{teamId}/members", sv.members)
	rt.Handle("POST /api/v1/teams/{teamId}/members", sv.addMember)
	rt.Handle("PATCH /api/v1/teams/{teamId}/members/{userId}", sv.changeMember)
	rt.Handle("DELETE /api/v1/teams/{teamId}/members/{userId}", sv.removeMember)
	rt.Handle("GET /api/v1/teams/{teamId}/permissions", sv.permissions)
	rt.Handle("GET /api/v1/teams/{teamId}/role-info", sv.roleInfo)
	rt.Handle("GET /api/v1/teams/{teamId}/my-permissions", sv.myPermissions)
	rt.Handle("GET /api/v1/teams/{teamId}/check-permission/{permission}", sv.checkPermission)
	rt.Handle("GET /api/v1/teams/{teamId}/sessions", sv.sessions)
	rt.Handle("GET /api/v1/teams/{teamId}/quota", sv.getQuota)
	rt.Handle("PUT /api/v1/teams/{teamId}/quota", sv.putQuota)
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

func (sv *Service) create(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
		Description string `json:"description"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	for _, e := range []error{checkText("name", in.Name, 64, true), checkText("displayName", in.DisplayName, 128, false),
		checkText("description", in.Description, 1024, false)} {
		if e != nil {
			return e
		}
	}
	if in.DisplayName == "" {
		in.DisplayName = in.Name
	}
	c, now := httpx.Caller(r), time.Now().UTC()
	t := Team{ID: ids.New("team"), Name: in.Name, DisplayName: in.DisplayName, Description: in.Description,
		CreatedBy: c.UserID, CreatedAt: now, UpdatedAt: now, OwnerCount: 1, Version: 1}
	owner := Member{TeamID: t.ID, UserID: c.UserID, Role: access.TeamOwner, AddedBy: c.UserID, AddedAt: now, Version: 1}
	idem, err := idempotency.FromRequest(r, c.UserID, in, now)
	if err != nil {
		return err
	}
	out := withRole{Team: t, Role: access.TeamOwner, Permissions: access.TeamPermissions[access.TeamOwner]}
	if err := idem.Respond(http.StatusCreated, "/api/v1/teams/"+t.ID, out); err != nil {
		return err
	}
	rec, err := sv.Store.Create(r.Context(), t, owner, DefaultQuota, idem)
	if err != nil {
		return err
	}
	if rec != nil {
		rec.Write(w)
		return nil
	}
	w.Header().Set("Location", "/api/v1/teams/"+t.ID)
	httpx.WriteJSON(w, http.StatusCreated, out)
	return nil
}

type withRole struct {
	Team
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions"`
}

func (sv *Service) myTeams(w http.ResponseWriter, r *http.Request) error {
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	// Paged on the membership index; the page's teams are read in one BatchGetItem. A team that
	// is gone (its memberships are removed after it) is skipped within the page.
	ms, next, err := sv.Store.MyTeams(r.Context(), httpx.Caller(r).UserID, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	idList := make([]string, len(ms))
	for i, m := range ms {
		idList[i] = m.TeamID
	}
	teams, err := sv.Store.Teams(r.Context(), idList)
	if err != nil {
		return err
	}
	items := []withRole{}
	for _, m := range ms {
		if t, ok := teams[m.TeamID]; ok && access.ValidTeamRole(m.Role) {
			items = append(items, withRole{Team: t, Role: m.Role, Permissions: access.TeamPermissions[m.Role]})
		}
	}
	httpx.WritePage(w, items, next)
	return nil
}

func (sv *Service) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	role, err := sv.authorize(r.Context(), httpx.Caller(r), id, anyMember)
	if err != nil {
		return err
	}
	t, err := sv.Store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	perms := access.TeamPermissions[role]
	if perms == nil {
		perms = []string{}
	}
	httpx.SetETag(w, t.Version)
	httpx.WriteJSON(w, http.StatusOK, withRole{Team: t, Role: role, Permissions: perms})
	return nil
}

func (sv *Service) update(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), id, access.PermTeamManage); err != nil {
		return err
	}
	var in struct {
		DisplayName *string `json:"displayName"`
		Description *string `json:"description"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.DisplayName != nil {
		if err := checkText("displayName", *in.DisplayName, 128, true); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if err := checkText("description", *in.Description, 1024, false); err != nil {
			return err
		}
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	var t Team
	// Each attempt applies the edit to a fresh read and writes on its version: a concurrent edit
	// of the other field survives (regression: this used to write unconditionally).
	err = ddb.RetryOnVersionConflict(im, "team", func() error {
		var err error
		if t, err = sv.Store.Get(r.Context(), id); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(im, "team", t.Version); err != nil {
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
		if err := sv.Store.Update(r.Context(), next); err != nil {
			return err
		}
		t, t.Version = next, next.Version+1
		return nil
	})
	if err != nil {
		return err
	}
	httpx.SetETag(w, t.Version)
	httpx.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (sv *Service) delete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), id, access.PermTeamManage); err != nil {
		return err
	}
	ms, err := sv.Store.Members(r.Context(), id)
	if err != nil {
		return err
	}
	if err := sv.Store.Delete(r.Context(), id, ms); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (sv *Service) members(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), id, anyMember); err != nil {
		return err
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	ms, next, err := sv.Store.MembersPage(r.Context(), id, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	httpx.WritePage(w, ms, next)
	return nil
}

// mayAssign says whether a caller with callerRole may touch a membership of role target: a team
// admin cannot add, promote, demote or remove owners (platform admins and team owners can).
func mayAssign(c auth.Caller, callerRole, target string) error {
	if target == access.TeamOwner && callerRole != access.TeamOwner && !c.IsAdmin() {
		return problem.Forbidden("only owners manage owners")
	}
	return nil
}

func (sv *Service) addMember(w http.ResponseWriter, r *http.Request) error {
	id, c := r.PathValue("teamId"), httpx.Caller(r)
	role, err := sv.authorize(r.Context(), c, id, access.PermMembersManage)
	if err != nil {
		return err
	}
	var in struct {
		UserID string `json:"userId"`
		Role   string `json:"role"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if !access.ValidTeamRole(in.Role) {
		return problem.Invalid("role", "must be owner, admin, member or viewer")
	}
	if err := mayAssign(c, role, in.Role); err != nil {
		return err
	}
	if in.UserID == "" || len(in.UserID) > 128 {
		return problem.Invalid("userId", "is required")
	}
	if _, err := sv.Users.Get(r.Context(), in.UserID); errors.Is(err, users.ErrNotFound) {
		return problem.Invalid("userId", "no such user")
	} else if err != nil {
		return err
	}
	m := Member{TeamID: id, UserID: in.UserID, Role: in.Role, AddedBy: c.UserID, AddedAt: time.Now().UTC(), Version: 1}
	idem, err := idempotency.FromRequest(r, c.UserID, in, m.AddedAt)
	if err != nil {
		return err
	}
	if err := idem.Respond(http.StatusCreated, "", m); err != nil {
		return err
	}
	rec, err := sv.Store.AddMember(r.Context(), m, idem)
	if err != nil {
		return err
	}
	if rec != nil {
		rec.Write(w)
		return nil
	}
	httpx.WriteJSON(w, http.StatusCreated, m)
	return nil
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

func (sv *Service) changeMember(w http.ResponseWriter, r *http.Request) error {
	id, c, uid := r.PathValue("teamId"), httpx.Caller(r), r.PathValue("userId")
	role, err := sv.authorize(r.Context(), c, id, access.PermMembersManage)
	if err != nil {
		return err
	}
	var in struct {
		Role string `json:"role"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if !access.ValidTeamRole(in.Role) {
		return problem.Invalid("role", "must be owner, admin, member or viewer")
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	var m Member
	retry := false
	// Each attempt reads the member afresh; a retry also re-reads the caller's own role, so it
	// never acts on a permission that changed meanwhile.
	err = ddb.RetryOnVersionConflict(im, "membership", func() error {
		if retry {
			if role, err = sv.authorize(r.Context(), c, id, access.PermMembersManage); err != nil {
				return err
			}
		}
		retry = true
		if m, err = sv.target(r.Context(), id, uid); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(im, "membership", m.Version); err != nil {
			return err
		}
		if err := mayAssign(c, role, m.Role); err != nil {
			return err
		}
		if err := mayAssign(c, role, in.Role); err != nil {
			return err
		}
		if m.Role == in.Role {
			return nil // the same role writes nothing
		}
		if err := sv.Store.ChangeRole(r.Context(), m, in.Role); err != nil {
			return err
		}
		m.Role, m.Version = in.Role, m.Version+1
		return nil
	})
	if err != nil {
		return err
	}
	httpx.SetETag(w, m.Version)
	httpx.WriteJSON(w, http.StatusOK, m)
	return nil
}

func (sv *Service) removeMember(w http.ResponseWriter, r *http.Request) error {
	id, c, uid := r.PathValue("teamId"), httpx.Caller(r), r.PathValue("userId")
	var role string
	var err error
	if uid == c.UserID { // leaving needs no permission, only membership
		role, err = sv.authorize(r.Context(), c, id, anyMember)
	} else {
		role, err = sv.authorize(r.Context(), c, id, access.PermMembersManage)
	}
	if err != nil {
		return err
	}
	m, err := sv.target(r.Context(), id, uid)
	if err != nil {
		return err
	}
	if uid != c.UserID {
		if err := mayAssign(c, role, m.Role); err != nil {
			return err
		}
	}
	if err := sv.Store.RemoveMember(r.Context(), id, uid, m.Role); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (sv *Service) permissions(w http.ResponseWriter, r *http.Request) error {
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), r.PathValue("teamId"), anyMember); err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"roles": access.TeamPermissions, "permissions": access.AllTeamPermissions})
	return nil
}

var roleDescriptions = map[string]string{
	access.TeamOwner:  "Full control: team settings, members, sessions and quota",
	access.TeamAdmin:  "Manages members (not owners) and all team sessions; views the quota",
	access.TeamMember: "Creates, views and connects to team sessions",
	access.TeamViewer: "Views team sessions and the quota",
}

func (sv *Service) roleInfo(w http.ResponseWriter, r *http.Request) error {
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), r.PathValue("teamId"), anyMember); err != nil {
		return err
	}
	var roles []map[string]any
	for i, role := range access.TeamRoles {
		roles = append(roles, map[string]any{"role": role, "rank": len(access.TeamRoles) - i,
			"description": roleDescriptions[role], "permissions": access.TeamPermissions[role]})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"roles": roles})
	return nil
}

// myRole is the caller's own membership: non-members get 404 even if they are platform admins.
func (sv *Service) myRole(r *http.Request) (string, error) {
	id := r.PathValue("teamId")
	if !ids.Valid("team", id) {
		return "", ErrNotFound
	}
	m, ok, err := sv.Store.Membership(r.Context(), id, httpx.Caller(r).UserID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrNotFound
	}
	return m.Role, nil
}

func (sv *Service) myPermissions(w http.ResponseWriter, r *http.Request) error {
	role, err := sv.myRole(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"teamId": r.PathValue("teamId"), "role": role, "permissions": access.TeamPermissions[role]})
	return nil
}

func (sv *Service) checkPermission(w http.ResponseWriter, r *http.Request) error {
	perm := r.PathValue("permission")
	if !slices.Contains(access.AllTeamPermissions, perm) {
		return problem.Invalid("permission", "unknown permission; known: "+strings.Join(access.AllTeamPermissions, ", "))
	}
	role, err := sv.myRole(r)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"permission": perm, "role": role, "allowed": access.RoleHas(role, perm)})
	return nil
}

func (sv *Service) sessions(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), id, access.PermSessionsView); err != nil {
		return err
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("state") {
	case "", sessions.StatePending, sessions.StateRunning, sessions.StateHibernated, sessions.StateTerminated, sessions.StateFailed:
	default:
		return problem.Invalid("state", "must be pending, running, hibernated, terminated or failed")
	}
	items, next, err := sv.Sessions.List(r.Context(), sessions.ListQuery{TeamID: id, Limit: limit, Cursor: r.URL.Query().Get("cursor"),
		State: r.URL.Query().Get("state")})
	if err != nil {
		return err
	}
	httpx.WritePage(w, items, next)
	return nil
}

type quotaView struct {
	Quota
	Usage struct {
		LiveSessions int `json:"liveSessions"`
		CPUMillis    int `json:"cpuMillis"`
		MemoryMiB    int `json:"memoryMiB"`
	} `json:"usage"`
}

func view(q Quota) quotaView {
	v := quotaView{Quota: q}
	v.Usage.LiveSessions, v.Usage.CPUMillis, v.Usage.MemoryMiB = q.MaxSessions-q.SessionsLeft, q.MaxCPUMillis-q.CPULeft, q.MaxMemoryMiB-q.MemoryLeft
	return v
}

func (sv *Service) getQuota(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), id, access.PermQuotaView); err != nil {
		return err
	}
	q, err := sv.Store.Quota(r.Context(), id)
	if err != nil {
		return err
	}
	httpx.SetETag(w, q.Version)
	httpx.WriteJSON(w, http.StatusOK, view(q))
	return nil
}

func (sv *Service) putQuota(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("teamId")
	if _, err := sv.authorize(r.Context(), httpx.Caller(r), id, access.PermQuotaManage); err != nil {
		return err
	}
	var in struct {
		MaxSessions  *int `json:"maxSessions"`
		MaxCPUMillis *int `json:"maxCpuMillis"`
		MaxMemoryMiB *int `json:"maxMemoryMiB"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	type field struct {
		name   string
		v      *int
		lo, hi int
	}
	fields := []field{{"maxSessions", in.MaxSessions, 0, 10000}, {"maxCpuMillis", in.MaxCPUMillis, 0, 10_000_000},
		{"maxMemoryMiB", in.MaxMemoryMiB, 0, 100_000_000}}
	for _, f := range fields {
		if f.v != nil && (*f.v < f.lo || *f.v > f.hi) {
			return problem.Invalid(f.name, "out of range")
		}
	}
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	var next Quota
	// Only the limits given change, each attempt on a fresh read: two clients setting different
	// limits concurrently both get theirs.
	err = ddb.RetryOnVersionConflict(im, "quota", func() error {
		old, err := sv.Store.Quota(r.Context(), id)
		if err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(im, "quota", old.Version); err != nil {
			return err
		}
		next = old
		for i, dst := range []*int{&next.MaxSessions, &next.MaxCPUMillis, &next.MaxMemoryMiB} {
			if fields[i].v != nil {
				*dst = *fields[i].v
			}
		}
		if next == old {
			return nil // nothing changes: no write, same version
		}
		if err := sv.Store.SetQuota(r.Context(), id, old, next); err != nil {
			return err
		}
		next.SessionsLeft += next.MaxSessions - old.MaxSessions
		next.CPULeft += next.MaxCPUMillis - old.MaxCPUMillis
		next.MemoryLeft += next.MaxMemoryMiB - old.MaxMemoryMiB
		next.Version++
		return nil
	})
	if err != nil {
		return err
	}
	httpx.SetETag(w, next.Version)
	httpx.WriteJSON(w, http.StatusOK, view(next))
	return nil
}

package access

import "slices"

// Team roles, strongest first.
const (
	TeamOwner  = "owner"
	TeamAdmin  = "admin"
	TeamMember = "member"
	TeamViewer = "viewer"
)

// TeamRoles lists the roles, strongest first.
var TeamRoles = []string{TeamOwner, TeamAdmin, TeamMember, TeamViewer}

// Team permissions.
const (
	PermTeamManage      = "team.manage"
	PermMembersManage   = "team.members.manage"
	PermSessionsCreate  = "team.sessions.create"
	PermSessionsView    = "team.sessions.view"
	PermSessionsUpdate  = "team.sessions.update"
	PermSessionsDelete  = "team.sessions.delete"
	PermSessionsConnect = "team.sessions.connect"
	PermQuotaView       = "team.quota.view"
	PermQuotaManage     = "team.quota.manage"
)

// AllTeamPermissions is the vocabulary (check-permission answers 400 outside it).
var AllTeamPermissions = []string{PermTeamManage, PermMembersManage, PermSessionsCreate, PermSessionsView,
	PermSessionsUpdate, PermSessionsDelete, PermSessionsConnect, PermQuotaView, PermQuotaManage}

// TeamPermissions is each role's permissions, exactly as the product brief defines them.
var TeamPermissions = map[string][]string{
	TeamOwner: {PermTeamManage, PermMembersManage, PermSessionsCreate, PermSessionsView, PermSessionsUpdate,
		PermSessionsDelete, PermSessionsConnect, PermQuotaView, PermQuotaManage},
	TeamAdmin: {PermMembersManage, PermSessionsCreate, PermSessionsView, PermSessionsUpdate, PermSessionsDelete,
		PermSessionsConnect, PermQuotaView},
	TeamMember: {PermSessionsCreate, PermSessionsView, PermSessionsConnect, PermQuotaView},
	TeamViewer: {PermSessionsView, PermQuotaView},
}

// RoleHas reports whether a team role holds a permission.
func RoleHas(role, perm string) bool { return slices.Contains(TeamPermissions[role], perm) }

// ValidTeamRole reports whether r is a team role.
func ValidTeamRole(r string) bool { return slices.Contains(TeamRoles, r) }

// teamGrant is what a team role gives on the team's sessions.
func teamGrant(role string) Grant {
	var g Grant
	switch {
	case RoleHas(role, PermSessionsUpdate):
		g.Level, g.Manage = Control, true
	case RoleHas(role, PermSessionsConnect):
		g.Level = Collaborate
	case RoleHas(role, PermSessionsView):
		g.Level = View
	}
	g.Delete = RoleHas(role, PermSessionsDelete)
	return g
}

package openapi

import (
	"streamspace/internal/access"
	"streamspace/internal/activity"
)

// op documents one route of the route table: what it takes and what it answers. Every route
// must have one (Build fails otherwise), and every op must be a route. The errors every route
// can give are added by Build (see defaultErrors); errs lists the route's own.
type op struct {
	id, tag, summary, desc string
	query                  []param
	headers                []string // request header parameters (components.parameters)
	body                   string   // request body component; "" = none
	bodyOptional           bool
	ok                     []reply
	errs                   []int
}

// reply is one success response.
type reply struct {
	status  int
	schema  string // "" = no content
	headers []string
	desc    string
}

type param struct {
	name string
	s    schema
	desc string
}

func limit(def, lo, hi int) param {
	return param{"limit", schema{"type": "integer", "minimum": lo, "maximum": hi, "default": def},
		"page size; out of range is 400, never silently replaced"}
}

var cursor = param{"cursor", schema{"type": "string", "maxLength": 2048}, "opaque nextCursor of the previous page of the same listing; anything else is 400"}

func text(name string, max int, desc string) param {
	return param{name, schema{"type": "string", "maxLength": max}, desc}
}

// page50 is the paging of most lists: limit 1..100 (default 50) and an opaque cursor.
var page50 = []param{limit(50, 1, 100), cursor}

var stateParam = param{"state", schema{"type": "string", "enum": states}, "only sessions in this state"}

var activityQuery = []param{limit(100, 1, 500), cursor,
	{"eventType", schema{"type": "string", "enum": activity.TypeNames()}, "only this event type (within a page)"},
	{"category", schema{"type": "string", "enum": categories}, "only this category (within a page)"},
	{"since", schema{"type": "string", "format": "date-time"}, "RFC 3339; entries at or after"},
	{"until", schema{"type": "string", "format": "date-time"}, "RFC 3339; not before since"}}

// Success replies used by several routes.
var (
	sessionOK = reply{status: 200, schema: "Session", headers: []string{"ETag"}}
	ifMatch   = []string{"If-Match"}
	noContent = reply{status: 204, desc: "Done."}
	conflict  = []int{409}
	// Creates take an Idempotency-Key; a replay carries Idempotent-Replayed, a key bound to
	// another request is 409 (in conflict above).
	idemKey  = []string{"Idempotency-Key"}
	replayed = []string{"Idempotent-Replayed"}
	// Updates that take If-Match: a refused transition or lasting contention (409), a stale
	// If-Match (412). The others retry contention and end in 409, never 412.
	ifMatchErr = []int{409, 412}
)

// ops is keyed by the route table's key.
var ops = map[string]op{
	"GET /api/v1/health":       {id: "getHealth", tag: "meta", summary: "Whether the service is up", ok: []reply{{status: 200, schema: "Health"}}},
	"GET /api/v1/version":      {id: "getVersion", tag: "meta", summary: "What is deployed", ok: []reply{{status: 200, schema: "Version"}}},
	"GET /api/v1/openapi.json": {id: "getOpenAPI", tag: "meta", summary: "This document (OpenAPI 3.1)", ok: []reply{{status: 200, schema: "OpenAPIDocument"}}},

	"GET /api/v1/users/me": {id: "getMe", tag: "users", summary: "The caller, with the effective role and how this request authenticated",
		ok: []reply{{status: 200, schema: "Me"}}},
	"GET /api/v1/users/me/quota": {id: "getMyQuota", tag: "users", summary: "The caller's quota: limits, live usage, and whether a role grant is awaited",
		ok: []reply{{status: 200, schema: "UserQuota"}}},
	"GET /api/v1/users": {id: "listUsers", tag: "users", summary: "Every user seen (admin)", query: []param{limit(50, 1, 100), cursor},
		ok: []reply{{status: 200, schema: "UserPage"}}},
	"GET /api/v1/users/{userId}": {id: "getUser", tag: "users", summary: "A user (yourself, or anyone for an admin)",
		ok: []reply{{status: 200, schema: "User", headers: []string{"ETag"}}}},
	"PUT /api/v1/users/{userId}/role": {id: "setUserRole", tag: "users", summary: "Set a user's stored platform role (admin, not on yourself)",
		headers: ifMatch, body: "RoleInput", ok: []reply{{status: 200, schema: "User", headers: []string{"ETag"}}}, errs: ifMatchErr},

	"POST /api/v1/api-keys": {id: "createAPIKey", tag: "api-keys", summary: "Create an API key (shown once)", body: "APIKeyInput",
		desc:    "An Idempotency-Key replay answers 201 with the key as created but without the key itself (it is shown once and stored nowhere), and Idempotent-Replayed: true.",
		headers: idemKey, ok: []reply{{status: 201, schema: "APIKeyCreated", headers: []string{"Location", "Cache-Control", "Idempotent-Replayed"}}}, errs: conflict},
	"GET /api/v1/api-keys": {id: "listAPIKeys", tag: "api-keys", summary: "The caller's keys, never their secrets",
		query: []param{limit(50, 1, 100), cursor}, ok: []reply{{status: 200, schema: "APIKeyPage"}}},
	"POST /api/v1/api-keys/{id}/revoke": {id: "revokeAPIKey", tag: "api-keys", summary: "Revoke a key (from the next request on)",
		ok: []reply{{status: 200, schema: "APIKey"}}, errs: conflict},
	"DELETE /api/v1/api-keys/{id}": {id: "deleteAPIKey", tag: "api-keys", summary: "Delete a key", ok: []reply{noContent}},
	"GET /api/v1/api-keys/{id}/usage": {id: "getAPIKeyUsage", tag: "api-keys", summary: "A key's usage: totals, last 24 h, top endpoints over 7 days",
		ok: []reply{{status: 200, schema: "APIKeyUsage"}}},

	"POST /api/v1/sessions": {id: "createSession", tag: "sessions", summary: "Start a session (quota checked atomically)",
		desc:    "The owner is the caller. A replay of the same Idempotency-Key and body answers 201 with the session as it is now and Idempotent-Replayed: true, or 404 when the caller can no longer see it (transferred, unshared); the same key with another request is 409. A refused quota is 403 (type …/quota-exceeded).",
		headers: idemKey, body: "SessionInput",
		ok: []reply{{status: 201, schema: "Session", headers: []string{"ETag", "Location", "Idempotent-Replayed"}}}, errs: []int{404, 409}},
	"GET /api/v1/sessions": {id: "listSessions", tag: "sessions", summary: "The caller's sessions (operators and admins: anyone's, or all)",
		query: []param{limit(50, 1, 100), cursor, text("ownerId", 128, "another owner's sessions (operator, admin)"),
			{"all", schema{"type": "string", "enum": []string{"true", "false"}}, "every session (operator, admin); not with ownerId"},
			stateParam, text("tag", 128, "only sessions with this tag"), text("templateName", 128, "only sessions of this template")},
		ok: []reply{{status: 200, schema: "SessionPage"}}},
	"GET /api/v1/sessions/{id}": {id: "getSession", tag: "sessions", summary: "A session (view access), with the caller's access",
		ok: []reply{{status: 200, schema: "SessionWithAccess", headers: []string{"ETag"}}}},
	"PATCH /api/v1/sessions/{id}": {id: "updateSession", tag: "sessions", summary: "Change the desired state or settings (control access)",
		headers: []string{"If-Match"}, body: "SessionPatch", ok: []reply{sessionOK}, errs: ifMatchErr},
	"DELETE /api/v1/sessions/{id}": {id: "deleteSession", tag: "sessions", summary: "Terminate a session and keep it as history",
		desc:    "Owner, a team role with team.sessions.delete, or an admin. Answers the terminated session; a second delete is 404.",
		headers: []string{"If-Match"}, ok: []reply{sessionOK}, errs: ifMatchErr},
	"PUT /api/v1/sessions/{id}/tags": {id: "replaceSessionTags", tag: "sessions", summary: "Replace the tags ([] clears them)",
		headers: []string{"If-Match"}, body: "TagsReplace", ok: []reply{sessionOK}, errs: ifMatchErr},
	"PATCH /api/v1/sessions/{id}/tags": {id: "editSessionTags", tag: "sessions", summary: "Add and remove tags",
		headers: []string{"If-Match"}, body: "TagsEdit", ok: []reply{sessionOK}, errs: ifMatchErr},
	"POST /api/v1/sessions/{id}/connect": {id: "connectSession", tag: "sessions", summary: "Get a single-use link to the desktop (view access watches, collaborate and control interact)",
		desc: "The url opens the streaming gateway's viewer with a ticket in its fragment, valid once for 60 s (expiresAt) for this user, " +
			"session and level. The connection counts (activeConnections, collaborators) once the gateway opens it, and the gateway " +
			"closes it within 5 s of the caller's access ending. 503 when this installation has no streaming gateway.",
		ok: []reply{{status: 200, schema: "Connection", headers: []string{"Cache-Control"}}}, errs: []int{409, 503}},
	"POST /api/v1/sessions/{id}/disconnect": {id: "disconnectSession", tag: "sessions", summary: "End one of the caller's connections",
		body: "ConnectionInput", ok: []reply{noContent}, errs: conflict},
	"POST /api/v1/sessions/{id}/heartbeat": {id: "sessionHeartbeat", tag: "sessions", summary: "Record activity (collaborate access, live sessions)",
		body: "HeartbeatInput", bodyOptional: true, ok: []reply{{status: 200, schema: "Heartbeat"}}, errs: conflict},
	"POST /api/v1/sessions/{id}/status": {id: "reportSessionStatus", tag: "sessions", summary: "Report the observed state (the runtime: an admin principal)",
		body: "StatusReport", ok: []reply{sessionOK}, errs: conflict},
	"POST /api/v1/sessions/{id}/transfer": {id: "transferSession", tag: "sharing", summary: "Offer the session to another user",
		desc: "202 with the session and its transferOffer: nothing moves and no quota is used until the recipient accepts within 7 days. " +
			"A new offer replaces a pending one.",
		body: "TransferInput", ok: []reply{{status: 202, schema: "Session", headers: []string{"ETag"}}}, errs: conflict},
	"DELETE /api/v1/sessions/{id}/transfer": {id: "cancelSessionTransfer", tag: "sharing", summary: "Withdraw the pending transfer offer",
		desc: "Whoever may transfer the session. No pending offer: 404.", ok: []reply{noContent}},
	"POST /api/v1/sessions/{id}/transfer/accept": {id: "acceptSessionTransfer", tag: "sharing", summary: "Accept the transfer offered to the caller (quota moves with it)",
		desc: "Only the offer's recipient, before it expires; anyone else, or no live offer: 404. The caller's quota full: 403 (type …/quota-exceeded), the offer stays. " +
			"The offer's maker no longer allowed to transfer the session (e.g. removed from its team): 410. Invitations made before the transfer end.",
		ok: []reply{sessionOK}, errs: []int{409, 410}},
	"POST /api/v1/sessions/{id}/transfer/decline": {id: "declineSessionTransfer", tag: "sharing", summary: "Decline the transfer offered to the caller",
		desc: "Only the offer's recipient; anyone else, or no live offer: 404.", ok: []reply{noContent}},

	"GET /api/v1/templates": {id: "listTemplates", tag: "templates", summary: "Search the catalog",
		query: []param{limit(100, 1, 500), text("cursor", 128, "opaque nextCursor of the previous page"),
			text("q", 128, "case-insensitive substring of name, displayName, description or tags"),
			text("category", 128, "exact, ignoring case"), text("tag", 128, "exact, ignoring case")},
		ok: []reply{{status: 200, schema: "TemplatePage"}}},
	"GET /api/v1/templates/{name}": {id: "getTemplate", tag: "templates", summary: "A template",
		ok: []reply{{status: 200, schema: "Template", headers: []string{"ETag"}}}},
	"POST /api/v1/templates": {id: "createTemplate", tag: "templates", summary: "Add a template (admin: it chooses what runs)", body: "TemplateInput",
		desc:    "A new template sets image (and localCommand), what runs in its sessions: the admin role (operators: 403).",
		headers: idemKey, ok: []reply{{status: 201, schema: "Template", headers: replayed}}, errs: conflict},
	"PUT /api/v1/templates/{name}": {id: "replaceTemplate", tag: "templates", summary: "Replace a template (operator, admin)",
		desc:    "Operators may change the metadata; changing image or localCommand needs the admin role (403).",
		headers: ifMatch, body: "TemplateInput", ok: []reply{{status: 200, schema: "Template", headers: []string{"ETag"}}}, errs: ifMatchErr},
	"DELETE /api/v1/templates/{name}": {id: "deleteTemplate", tag: "templates", summary: "Remove a template (operator, admin)", ok: []reply{noContent}},

	"POST /api/v1/teams": {id: "createTeam", tag: "teams", summary: "Create a team (the caller becomes its owner)", body: "TeamInput",
		headers: idemKey, ok: []reply{{status: 201, schema: "TeamWithRole", headers: []string{"Location", "Idempotent-Replayed"}}}, errs: conflict},
	"GET /api/v1/teams/my-teams": {id: "listMyTeams", tag: "teams", summary: "The caller's teams, with role and permissions, by team id",
		query: page50, ok: []reply{{status: 200, schema: "TeamPage"}}},
	"GET /api/v1/teams/{teamId}": {id: "getTeam", tag: "teams", summary: "A team (members; operators and admins)",
		ok: []reply{{status: 200, schema: "TeamWithRole", headers: []string{"ETag"}}}},
	"PATCH /api/v1/teams/{teamId}": {id: "updateTeam", tag: "teams", summary: "Change a team's display name or description (team.manage)",
		headers: ifMatch, body: "TeamPatch", ok: []reply{{status: 200, schema: "Team", headers: []string{"ETag"}}}, errs: ifMatchErr},
	"DELETE /api/v1/teams/{teamId}": {id: "deleteTeam", tag: "teams", summary: "Delete a team without live sessions (team.manage)",
		ok: []reply{noContent}, errs: conflict},
	"GET /api/v1/teams/{teamId}/members": {id: "listTeamMembers", tag: "teams", summary: "A team's members, by user id",
		query: page50, ok: []reply{{status: 200, schema: "MemberPage"}}},
	"POST /api/v1/teams/{teamId}/members": {id: "addTeamMember", tag: "teams", summary: "Add a member (team.members.manage)",
		headers: idemKey, body: "MemberInput", ok: []reply{{status: 201, schema: "Member", headers: replayed}}, errs: conflict},
	"PATCH /api/v1/teams/{teamId}/members/{userId}": {id: "changeTeamMember", tag: "teams", summary: "Change a member's role (team.members.manage)",
		headers: ifMatch, body: "MemberRoleInput", ok: []reply{{status: 200, schema: "Member", headers: []string{"ETag"}}}, errs: ifMatchErr},
	"DELETE /api/v1/teams/{teamId}/members/{userId}": {id: "removeTeamMember", tag: "teams", summary: "Remove a member, or leave",
		ok: []reply{noContent}, errs: conflict},
	"GET /api/v1/teams/{teamId}/permissions": {id: "getTeamPermissions", tag: "teams", summary: "Every role's permissions",
		ok: []reply{{status: 200, schema: "TeamPermissions"}}},
	"GET /api/v1/teams/{teamId}/role-info": {id: "getTeamRoleInfo", tag: "teams", summary: "The roles, strongest first, with descriptions",
		ok: []reply{{status: 200, schema: "TeamRoleInfo"}}},
	"GET /api/v1/teams/{teamId}/my-permissions": {id: "getMyTeamPermissions", tag: "teams", summary: "The caller's own role and permissions (non-members: 404)",
		ok: []reply{{status: 200, schema: "TeamMyPermissions"}}},
	"GET /api/v1/teams/{teamId}/check-permission/{permission}": {id: "checkTeamPermission", tag: "teams", summary: "Whether the caller's role has a permission",
		ok: []reply{{status: 200, schema: "TeamPermissionCheck"}}},
	"GET /api/v1/teams/{teamId}/sessions": {id: "listTeamSessions", tag: "teams", summary: "A team's sessions, newest first (team.sessions.view)",
		query: []param{limit(50, 1, 100), cursor, stateParam}, ok: []reply{{status: 200, schema: "SessionPage"}}},
	"GET /api/v1/teams/{teamId}/quota": {id: "getTeamQuota", tag: "teams", summary: "Quota limits and live usage (team.quota.view)",
		ok: []reply{{status: 200, schema: "TeamQuota", headers: []string{"ETag"}}}},
	"PUT /api/v1/teams/{teamId}/quota": {id: "setTeamQuota", tag: "teams", summary: "Set quota limits (team.quota.manage)",
		desc:    "Only the limits given change. The ETag is the limits' version: usage moving does not change it.",
		headers: ifMatch, body: "TeamQuotaInput", ok: []reply{{status: 200, schema: "TeamQuota", headers: []string{"ETag"}}}, errs: ifMatchErr},

	"POST /api/v1/sessions/{id}/share": {id: "shareSession", tag: "sharing", summary: "Share with a user (201), or change that share (200)",
		desc:    "An Idempotency-Key replay re-reads the share the first request wrote: 201 if that request created it, 200 if it changed an existing one (404 if it was revoked since).",
		headers: idemKey, body: "ShareInput", ok: []reply{{status: 201, schema: "Share", headers: replayed},
			{status: 200, schema: "Share", headers: replayed, desc: "The existing share, updated."}}, errs: conflict},
	"GET /api/v1/sessions/{id}/shares": {id: "listShares", tag: "sharing", summary: "A session's shares, expired ones too, by user id",
		query: page50, ok: []reply{{status: 200, schema: "SharePage"}}},
	"DELETE /api/v1/sessions/{id}/shares/{shareId}": {id: "revokeShare", tag: "sharing", summary: "Revoke a share", ok: []reply{noContent}},
	"POST /api/v1/sessions/{id}/invitations": {id: "createInvitation", tag: "sharing", summary: "Create an invitation (the token is shown once)",
		desc:    "An Idempotency-Key replay answers 201 with the invitation as created but without token and acceptUrl (shown once, only a hash is stored), and Idempotent-Replayed: true.",
		headers: idemKey, body: "InvitationInput", ok: []reply{{status: 201, schema: "InvitationCreated", headers: []string{"Cache-Control", "Idempotent-Replayed"}}}, errs: conflict},
	"GET /api/v1/sessions/{id}/invitations": {id: "listInvitations", tag: "sharing", summary: "A session's invitations, newest first (never their tokens)",
		query: page50, ok: []reply{{status: 200, schema: "InvitationPage"}}},
	"DELETE /api/v1/sessions/{id}/invitations/{invitationId}": {id: "revokeSessionInvitation", tag: "sharing",
		summary: "Revoke one of the session's invitations by id (whoever manages the session now)", ok: []reply{noContent}, errs: conflict},
	"DELETE /api/v1/invitations/{token}": {id: "revokeInvitation", tag: "sharing", summary: "Revoke an invitation by its token", ok: []reply{noContent}, errs: conflict},
	"POST /api/v1/invitations/{token}/accept": {id: "acceptInvitation", tag: "sharing", summary: "Accept an invitation as the caller",
		desc:    "At most maxUses acceptances ever, even when raced. Accepting again while usable consumes nothing. Used up, expired or revoked, the session terminated or transferred since the invitation was made, or its creator no longer allowed to share the session: 410. The owner, the invitation's creator or anyone who already manages the session: 409.",
		headers: idemKey, body: "Empty", bodyOptional: true, ok: []reply{{status: 200, schema: "InvitationAccepted", headers: replayed}}, errs: []int{409, 410}},
	"GET /api/v1/sessions/{id}/collaborators": {id: "listCollaborators", tag: "sharing", summary: "Users with live connections (view access), by user id",
		query: page50, ok: []reply{{status: 200, schema: "CollaboratorPage"}}},
	"DELETE /api/v1/sessions/{id}/collaborators/{userId}": {id: "removeCollaborator", tag: "sharing", summary: "End all of a user's connections (not their access)",
		ok: []reply{noContent}, errs: conflict},
	"GET /api/v1/shared-sessions": {id: "listSharedSessions", tag: "sharing", summary: "Sessions shared with the caller (admins: ?userId=)",
		query: []param{text("userId", 128, "another user (admin)"), limit(50, 1, 100), cursor},
		ok:    []reply{{status: 200, schema: "SharedSessionPage"}}},

	"POST /api/v1/sessions/{id}/activity/log": {id: "logActivity", tag: "activity", summary: "Add a client event to a session's audit trail (view access)",
		headers: idemKey, body: "ActivityInput", ok: []reply{{status: 201, schema: "Activity", headers: replayed}}, errs: conflict},
	"GET /api/v1/sessions/{id}/activity": {id: "listActivity", tag: "activity", summary: "A session's audit trail, newest first",
		query: activityQuery, ok: []reply{{status: 200, schema: "ActivityPage"}}},
	"GET /api/v1/sessions/{id}/activity/timeline": {id: "getActivityTimeline", tag: "activity", summary: "A session's audit trail, oldest first, with the time since the previous entry",
		query: activityQuery, ok: []reply{{status: 200, schema: "TimelinePage"}}},
	"GET /api/v1/activity/stats": {id: "getActivityStats", tag: "activity", summary: "Totals, last 24 h, by category and top types over 7 days (operator, admin)",
		ok: []reply{{status: 200, schema: "ActivityStats"}}},
	"GET /api/v1/activity/users/{userId}": {id: "listUserActivity", tag: "activity", summary: "What a user did (that user, operators, admins)",
		query: activityQuery, ok: []reply{{status: 200, schema: "ActivityPage"}}},

	"POST /api/v1/sessions/{id}/recordings": {id: "createRecording", tag: "recordings", summary: "Start a recording: the client's (with an upload URL) or the gateway's (control access)",
		desc:    "A gateway recording needs a running session (else 409); the gateway starts within seconds and records until stopped or the session stops running.",
		headers: idemKey, body: "RecordingInput", ok: []reply{{status: 201, schema: "RecordingCreated", headers: []string{"Location", "Idempotent-Replayed"}}}, errs: conflict},
	"GET /api/v1/sessions/{id}/recordings": {id: "listRecordings", tag: "recordings", summary: "A session's recordings, oldest first (view access)",
		query: page50, ok: []reply{{status: 200, schema: "RecordingPage"}}},
	"GET /api/v1/sessions/{id}/recordings/{recordingId}": {id: "getRecording", tag: "recordings", summary: "A recording, with a download URL once completed",
		ok: []reply{{status: 200, schema: "RecordingView", headers: []string{"ETag"}}}},
	"PATCH /api/v1/sessions/{id}/recordings/{recordingId}": {id: "finishRecording", tag: "recordings", summary: "Complete or fail a client recording, or stop a gateway recording, once (control access; a template's recording: operators and admins)",
		headers: ifMatch, body: "RecordingPatch", ok: []reply{{status: 200, schema: "RecordingView", headers: []string{"ETag"}, desc: "A client recording, finished."},
			{status: 202, schema: "RecordingView", headers: []string{"ETag"}, desc: "A gateway recording, now stopping: the gateway completes it within seconds."}}, errs: ifMatchErr},
	"DELETE /api/v1/sessions/{id}/recordings/{recordingId}": {id: "deleteRecording", tag: "recordings", summary: "Delete a recording and its content (control access; a template's recording: operators and admins)",
		desc: "A gateway recording still recording or stopping is 409: stop it first.", ok: []reply{noContent}, errs: conflict},
}

// pathParams describes the route table's path variables.
var pathParams = map[string]param{
	"id":           {"id", schema{"type": "string"}, "the resource's id (a malformed or invisible one is 404)"},
	"userId":       {"userId", schema{"type": "string"}, "a user id (the identity provider's sub)"},
	"name":         {"name", schema{"type": "string"}, "a template name"},
	"teamId":       {"teamId", schema{"type": "string"}, "a team id (team_…)"},
	"permission":   {"permission", schema{"type": "string", "enum": access.AllTeamPermissions}, "a team permission; unknown is 400"},
	"shareId":      {"shareId", schema{"type": "string"}, "a share id (shr_…)"},
	"invitationId": {"invitationId", schema{"type": "string"}, "an invitation id (inv_…), as the session's invitation list shows it"},
	"token":        {"token", schema{"type": "string"}, "the invitation token"},
	"recordingId":  {"recordingId", schema{"type": "string"}, "a recording id (rec_…)"},
}

// tags are the document's areas, in order.
var tags = []struct{ name, desc string }{
	{"meta", "Health, version and this document: public."},
	{"users", "People the platform has seen, and platform roles."},
	{"api-keys", "Keys that act as their owner narrowed by scopes; tokens only."},
	{"sessions", "Sessions: lifecycle, settings, tags, connections, runtime reports."},
	{"templates", "The catalog sessions run."},
	{"teams", "Teams, members, roles and quotas."},
	{"sharing", "Shares, invitations, collaborators and transfer."},
	{"activity", "Each session's audit trail."},
	{"recordings", "Recording metadata; content through presigned URLs, uploaded by the client or written by the streaming gateway (docs/recordings.md)."},
}

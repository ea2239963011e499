// Package routes is the one table of HTTP routes: which function serves each, which API-key
// scope it needs, and whether it is public. The functions' routers, the local gateway and the
// infrastructure tests all read it, so a route cannot exist in one place and not another.
package routes

import "strings"

// Functions (logical names; the SAM resource is the title-cased name + "Function").
const (
	FnMeta     = "meta"
	FnUsers    = "users"
	FnSessions = "sessions"
	FnAPIKeys  = "apikeys"
	FnTeams    = "teams"
	FnSharing  = "sharing"
	FnActivity = "activity"
)

// API-key scopes. Tokens are unscoped; keys carry a subset of these (docs/api-keys.md).
const (
	ScopeSessionsRead   = "sessions:read"
	ScopeSessionsWrite  = "sessions:write"
	ScopeTemplatesWrite = "templates:write"
	ScopeSharingRead    = "sharing:read"
	ScopeSharingWrite   = "sharing:write"
	ScopeTeamsRead      = "teams:read"
	ScopeTeamsWrite     = "teams:write"
	ScopeActivityRead   = "activity:read"
	ScopeActivityWrite  = "activity:write"
	ScopeUsersRead      = "users:read"
	ScopeUsersWrite     = "users:write"
	ScopeRuntimeReport  = "runtime:report"
)

// Scopes is the fixed vocabulary, in documentation order.
var Scopes = []string{ScopeSessionsRead, ScopeSessionsWrite, ScopeTemplatesWrite, ScopeSharingRead, ScopeSharingWrite,
	ScopeTeamsRead, ScopeTeamsWrite, ScopeActivityRead, ScopeActivityWrite, ScopeUsersRead, ScopeUsersWrite, ScopeRuntimeReport}

// ReadOnlyScopes are what a key created without scopes gets.
var ReadOnlyScopes = []string{ScopeSessionsRead, ScopeSharingRead, ScopeTeamsRead, ScopeActivityRead, ScopeUsersRead}

// Route is one HTTP API route.
type Route struct {
	Function string
	Method   string
	Path     string // API Gateway syntax: /api/v1/sessions/{id}
	Scope    string // required API-key scope; "" means any authenticated caller
	Public   bool   // no credentials needed (and no authorizer configured)
	// TokenOnly routes refuse API keys altogether (keys cannot manage keys).
	TokenOnly bool
}

// Key is the API Gateway route key, e.g. "GET /api/v1/sessions/{id}"; it is also a valid
// net/http ServeMux pattern.
func (r Route) Key() string { return r.Method + " " + r.Path }

// SecretParams are path parameters that are credentials (an invitation's token): never logged
// nor recorded.
var SecretParams = map[string]bool{"token": true}

// Redacted is the request's path with its parameters filled in by value(name), except secret
// ones, which stay as {name}: what usage logs record (SEC-14).
func (r Route) Redacted(value func(string) string) string {
	parts := strings.Split(r.Path, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "+")
			if !SecretParams[name] {
				parts[i] = value(name)
			}
		}
	}
	return strings.Join(parts, "/")
}

// MuxPattern converts greedy {name+} parameters to ServeMux's {name...}.
func (r Route) MuxPattern() string {
	return r.Method + " " + strings.ReplaceAll(r.Path, "+}", "...}")
}

const v1 = "/api/v1"

// All lists every HTTP route of the product.
var All = []Route{
	{Function: FnMeta, Method: "GET", Path: v1 + "/health", Public: true},
	{Function: FnMeta, Method: "GET", Path: v1 + "/version", Public: true},
	{Function: FnMeta, Method: "GET", Path: v1 + "/openapi.json", Public: true},

	{Function: FnUsers, Method: "GET", Path: v1 + "/users/me", Scope: ScopeUsersRead},
	{Function: FnUsers, Method: "GET", Path: v1 + "/users/me/quota", Scope: ScopeUsersRead},
	{Function: FnUsers, Method: "GET", Path: v1 + "/users", Scope: ScopeUsersRead},
	{Function: FnUsers, Method: "GET", Path: v1 + "/users/{userId}", Scope: ScopeUsersRead},
	{Function: FnUsers, Method: "PUT", Path: v1 + "/users/{userId}/role", Scope: ScopeUsersWrite},

	{Function: FnAPIKeys, Method: "POST", Path: v1 + "/api-keys", TokenOnly: true},
	{Function: FnAPIKeys, Method: "GET", Path: v1 + "/api-keys", TokenOnly: true},
	{Function: FnAPIKeys, Method: "POST", Path: v1 + "/api-keys/{id}/revoke", TokenOnly: true},
	{Function: FnAPIKeys, Method: "DELETE", Path: v1 + "/api-keys/{id}", TokenOnly: true},
	{Function: FnAPIKeys, Method: "GET", Path: v1 + "/api-keys/{id}/usage", TokenOnly: true},

	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "GET", Path: v1 + "/sessions", Scope: ScopeSessionsRead},
	{Function: FnSessions, Method: "GET", Path: v1 + "/sessions/{id}", Scope: ScopeSessionsRead},
	{Function: FnSessions, Method: "PATCH", Path: v1 + "/sessions/{id}", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "DELETE", Path: v1 + "/sessions/{id}", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "PUT", Path: v1 + "/sessions/{id}/tags", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "PATCH", Path: v1 + "/sessions/{id}/tags", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/connect", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/disconnect", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/heartbeat", Scope: ScopeSessionsWrite},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/status", Scope: ScopeRuntimeReport},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/transfer", Scope: ScopeSharingWrite},
	{Function: FnSessions, Method: "DELETE", Path: v1 + "/sessions/{id}/transfer", Scope: ScopeSharingWrite},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/transfer/accept", Scope: ScopeSharingWrite},
	{Function: FnSessions, Method: "POST", Path: v1 + "/sessions/{id}/transfer/decline", Scope: ScopeSharingWrite},
	{Function: FnSessions, Method: "GET", Path: v1 + "/templates", Scope: ScopeSessionsRead},
	{Function: FnSessions, Method: "GET", Path: v1 + "/templates/{name}", Scope: ScopeSessionsRead},
	{Function: FnSessions, Method: "POST", Path: v1 + "/templates", Scope: ScopeTemplatesWrite},
	{Function: FnSessions, Method: "PUT", Path: v1 + "/templates/{name}", Scope: ScopeTemplatesWrite},
	{Function: FnSessions, Method: "DELETE", Path: v1 + "/templates/{name}", Scope: ScopeTemplatesWrite},

	{Function: FnTeams, Method: "POST", Path: v1 + "/teams", Scope: ScopeTeamsWrite},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/my-teams", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "PATCH", Path: v1 + "/teams/{teamId}", Scope: ScopeTeamsWrite},
	{Function: FnTeams, Method: "DELETE", Path: v1 + "/teams/{teamId}", Scope: ScopeTeamsWrite},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/members", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "POST", Path: v1 + "/teams/{teamId}/members", Scope: ScopeTeamsWrite},
	{Function: FnTeams, Method: "PATCH", Path: v1 + "/teams/{teamId}/members/{userId}", Scope: ScopeTeamsWrite},
	{Function: FnTeams, Method: "DELETE", Path: v1 + "/teams/{teamId}/members/{userId}", Scope: ScopeTeamsWrite},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/permissions", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/role-info", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/my-permissions", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/check-permission/{permission}", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/sessions", Scope: ScopeSessionsRead},
	{Function: FnTeams, Method: "GET", Path: v1 + "/teams/{teamId}/quota", Scope: ScopeTeamsRead},
	{Function: FnTeams, Method: "PUT", Path: v1 + "/teams/{teamId}/quota", Scope: ScopeTeamsWrite},

	{Function: FnSharing, Method: "POST", Path: v1 + "/sessions/{id}/share", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "GET", Path: v1 + "/sessions/{id}/shares", Scope: ScopeSharingRead},
	{Function: FnSharing, Method: "DELETE", Path: v1 + "/sessions/{id}/shares/{shareId}", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "POST", Path: v1 + "/sessions/{id}/invitations", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "GET", Path: v1 + "/sessions/{id}/invitations", Scope: ScopeSharingRead},
	{Function: FnSharing, Method: "DELETE", Path: v1 + "/sessions/{id}/invitations/{invitationId}", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "DELETE", Path: v1 + "/invitations/{token}", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "POST", Path: v1 + "/invitations/{token}/accept", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "GET", Path: v1 + "/sessions/{id}/collaborators", Scope: ScopeSharingRead},
	{Function: FnSharing, Method: "DELETE", Path: v1 + "/sessions/{id}/collaborators/{userId}", Scope: ScopeSharingWrite},
	{Function: FnSharing, Method: "GET", Path: v1 + "/shared-sessions", Scope: ScopeSharingRead},

	// api.md names the session {sessionId} here; API Gateway needs one variable name per path
	// level, so these routes use {id} like every other /sessions/{id} route (same URLs).
	{Function: FnActivity, Method: "POST", Path: v1 + "/sessions/{id}/activity/log", Scope: ScopeActivityWrite},
	{Function: FnActivity, Method: "GET", Path: v1 + "/sessions/{id}/activity", Scope: ScopeActivityRead},
	{Function: FnActivity, Method: "GET", Path: v1 + "/sessions/{id}/activity/timeline", Scope: ScopeActivityRead},
	{Function: FnActivity, Method: "GET", Path: v1 + "/activity/stats", Scope: ScopeActivityRead},
	{Function: FnActivity, Method: "GET", Path: v1 + "/activity/users/{userId}", Scope: ScopeActivityRead},
	{Function: FnActivity, Method: "POST", Path: v1 + "/sessions/{id}/recordings", Scope: ScopeActivityWrite},
	{Function: FnActivity, Method: "GET", Path: v1 + "/sessions/{id}/recordings", Scope: ScopeActivityRead},
	{Function: FnActivity, Method: "GET", Path: v1 + "/sessions/{id}/recordings/{recordingId}", Scope: ScopeActivityRead},
	{Function: FnActivity, Method: "PATCH", Path: v1 + "/sessions/{id}/recordings/{recordingId}", Scope: ScopeActivityWrite},
	{Function: FnActivity, Method: "DELETE", Path: v1 + "/sessions/{id}/recordings/{recordingId}", Scope: ScopeActivityWrite},
}

// ForFunction returns the routes one function serves.
func ForFunction(fn string) []Route {
	var out []Route
	for _, r := range All {
		if r.Function == fn {
			out = append(out, r)
		}
	}
	return out
}

// Functions lists the HTTP functions in table order.
func Functions() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range All {
		if !seen[r.Function] {
			seen[r.Function] = true
			out = append(out, r.Function)
		}
	}
	return out
}

// GatewayRoute is one path of the streaming gateway: its own program (an ECS service behind
// CloudFront's /gateway/* in AWS), not an API Gateway route, so not in All.
type GatewayRoute struct {
	Method, Path string
	// Auth says what admits a caller: "ticket" (a single-use stream ticket in
	// Sec-WebSocket-Protocol, docs/gateway.md) or "none" (static, secret-free content).
	Auth string
}

// Gateway is everything the gateway serves; its router is built from this list.
var Gateway = []GatewayRoute{
	{Method: "GET", Path: "/gateway/healthz", Auth: "none"},
	{Method: "GET", Path: "/gateway/s/{id}", Auth: "none"},
	{Method: "GET", Path: "/gateway/viewer.js", Auth: "none"},
	{Method: "GET", Path: "/gateway/viewer.css", Auth: "none"},
	{Method: "GET", Path: "/gateway/novnc/{file...}", Auth: "none"},
	{Method: "GET", Path: "/gateway/ws/{id}", Auth: "ticket"},
}

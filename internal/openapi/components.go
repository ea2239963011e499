package openapi

import (
	"maps"
	"slices"

	"streamspace/internal/access"
	"streamspace/internal/activity"
	"streamspace/internal/apikeys"
	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/recordings"
	"streamspace/internal/resources"
	"streamspace/internal/routes"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/teams"
	"streamspace/internal/templates"
	"streamspace/internal/users"
)

// Small schema builders for overlays.

func enum[T any](vals ...T) schema { return schema{"enum": vals} }

func str(min, max int) schema {
	s := schema{"maxLength": max}
	if min > 0 {
		s["minLength"] = min
	}
	return s
}

func between(lo, hi int) schema { return schema{"minimum": lo, "maximum": hi} }

func pattern(re string) schema { return schema{"pattern": re} }

// id is the shape of ids.New: a type prefix and a lower-case ULID (Crockford base32).
func id(prefix string) schema {
	return pattern("^" + prefix + "_[0-9a-hjkmnp-tv-z]{26}$")
}

func items(s schema) schema { return schema{"items": s} }

func tagList(max int) schema {
	return schema{"maxItems": max, "items": str(1, sessions.MaxTagLength)}
}

var (
	states        = []string{sessions.StatePending, sessions.StateRunning, sessions.StateHibernated, sessions.StateTerminated, sessions.StateFailed}
	desiredStates = []string{sessions.StateRunning, sessions.StateHibernated, sessions.StateTerminated}
	levels        = []string{access.View.String(), access.Collaborate.String(), access.Control.String()}
	platformRoles = []string{auth.RoleUser, auth.RoleOperator, auth.RoleAdmin}
	categories    = []string{activity.Lifecycle, activity.Connection, activity.State, activity.Configuration, activity.Access, activity.Error}
	recStatuses   = []string{recordings.StatusRecording, recordings.StatusStopping, recordings.StatusCompleted, recordings.StatusFailed}
	formats       = slices.Sorted(maps.Keys(recordings.Formats))
	// templateName is templates.ValidName's rule (DNS-label style).
	templateName = pattern(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// cpu and memory are the quantities resources.Parse reads (bounds are checked there too:
	// 100m to 16 cores, 128Mi to 64Gi).
	cpu    = pattern(`^([1-9][0-9]*m|[0-9]+(\.[0-9]+)?)$`)
	memory = pattern(`^[1-9][0-9]*(Mi|Gi)$`)
	userID = str(1, 128)
	// lifetime is expiry.Parse's "12h", "30d", "2w", "6m" (months), "1y".
	lifetime = pattern(`^[1-9][0-9]{0,4}[hdwmy]$`)
)

// sessionOverlay holds for a session wherever it appears.
var sessionOverlay = map[string]schema{
	"id": id("sess"), "state": enum(states...), "desiredState": enum(desiredStates...),
	"tags": tagList(sessions.MaxTags), "teamId": id("team"), "templateName": templateName,
	"idleTimeout":        merge2(between(60, sessions.MaxIdleTimeout), schema{"description": "seconds"}),
	"maxSessionDuration": merge2(between(300, sessions.MaxMaxSessionDuration), schema{"description": "seconds"}),
	"activeConnections":  schema{"minimum": 0}, "version": schema{"minimum": 1},
}

var templateOverlay = map[string]schema{
	"name": templateName, "displayName": str(1, 128), "description": str(0, 2048), "category": str(1, 64),
	"image": str(1, 512), "icon": str(0, 1024), "localCommand": str(0, 512), "tags": tagList(50), "version": versionSchema,
}

var keyOverlay = map[string]schema{
	"id": id("key"), "keyPrefix": pattern(`^sk_[A-Za-z0-9_-]{5}$`), "scopes": items(enum(routes.Scopes...)),
	"rateLimit": between(1, apikeys.MaxRateLimit), "name": str(1, 128), "description": str(0, 1024),
}

var teamOverlay = map[string]schema{"id": id("team"), "name": str(1, 64), "displayName": str(1, 128), "description": str(0, 1024), "version": versionSchema}

// versionSchema is an item's optimistic-lock version, the number in its ETag.
var versionSchema = schema{"minimum": 1}

var teamPerms = items(enum(access.AllTeamPermissions...))

var activityOverlay = map[string]schema{
	"id": id("act"), "sessionId": id("sess"), "eventType": enum(activity.TypeNames()...),
	"eventCategory": enum(categories...), "description": str(0, 1024), "source": enum("platform", "client"),
}

var recordingOverlay = map[string]schema{
	"id": id("rec"), "sessionId": id("sess"), "type": enum(recordings.Types...), "format": enum(formats...),
	"status": enum(recStatuses...), "sha256": pattern("^[0-9a-f]{64}$"), "retentionDays": schema{"minimum": 1},
	"durationSeconds": schema{"minimum": 0}, "sizeBytes": schema{"minimum": 0}, "version": versionSchema,
	"source":    merge2(enum(recordings.Sources...), schema{"description": "client: the client uploads the content; gateway: the streaming gateway records the desktop (format rfb, docs/recordings.md)"}),
	"policy":    merge2(enum(recordings.PolicyTemplate), schema{"description": "template: the session's template records every session; only operators and admins may stop or delete it"}),
	"endReason": schema{"description": "why a gateway recording ended"},
}

var invitationOverlay = map[string]schema{
	"id": id("inv"), "sessionId": id("sess"), "permissionLevel": enum(levels...), "maxUses": between(1, 1000),
	"uses": schema{"minimum": 0}, "tokenPrefix": pattern(`^[A-Za-z0-9_-]{6}$`),
}

var shareOverlay = map[string]schema{"id": id("shr"), "sessionId": id("sess"), "permissionLevel": enum(levels...)}

func merge2(a, b schema) schema { merge(a, b); return a }

// with returns base plus extra (base is shared by several components; it is not changed).
func with(base map[string]schema, extra map[string]schema) map[string]schema {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}

// components lists every schema of the document: domain types reflected as they are, and the
// mirrors of types.go. Request components list what their handler requires.
var components = []component{
	{name: "Problem", typ: typeOf[problem.Error](), desc: "RFC 9457 problem details (application/problem+json).",
		overlay: map[string]schema{"type": schema{"format": "uri"}, "status": between(400, 599)}},
	{name: "GatewayMessage", typ: typeOf[gatewayMessage](), desc: "API Gateway's own answer, when no function answered."},
	{name: "FieldError", typ: typeOf[problem.FieldError](), desc: "One invalid input and why."},
	{name: "Health", typ: typeOf[health](), overlay: map[string]schema{"status": enum("ok")}},
	{name: "Version", typ: typeOf[version](), overlay: map[string]schema{"apiVersion": enum("v1")}},
	{name: "OpenAPIDocument", typ: typeOf[document](), desc: "This document.",
		overlay: map[string]schema{"openapi": pattern(`^3\.1\.\d+$`)}},

	{name: "User", typ: typeOf[users.User](), overlay: map[string]schema{"id": userID, "role": enum(platformRoles...), "version": versionSchema}},
	{name: "Me", typ: typeOf[me](), desc: "The caller: role is the effective role of this request.",
		overlay: map[string]schema{"id": userID, "role": enum(platformRoles...), "authMethod": enum("token", "apiKey"), "version": versionSchema,
			"keyId": id("key"), "scopes": items(enum(routes.Scopes...))}},
	{name: "UserQuota", typ: typeOf[users.Quota](),
		desc:    "The caller's per-user limits and what their live sessions use now; awaitingRoleGrant: sessions wait for an administrator's role grant (maxSessions is then 0).",
		overlay: map[string]schema{"maxSessions": schema{"minimum": 0}, "maxCpuMillis": schema{"minimum": 0}, "maxMemoryMiB": schema{"minimum": 0}}},
	{name: "UserPage", typ: typeOf[page[users.User]]()},
	{name: "RoleInput", typ: typeOf[roleInput](), mode: request, required: []string{"role"},
		overlay: map[string]schema{"role": enum(platformRoles...)}},

	{name: "APIKey", typ: typeOf[apikeys.Key](), overlay: keyOverlay},
	{name: "APIKeyCreated", typ: typeOf[apikeys.Created](), desc: "The only answer that carries the key itself (key); an Idempotency-Key replay omits it.",
		overlay: with(keyOverlay, map[string]schema{"key": pattern(`^sk_[A-Za-z0-9_-]{43}$`)})},
	{name: "APIKeyPage", typ: typeOf[page[apikeys.Key]]()},
	{name: "APIKeyInput", typ: typeOf[apikeys.CreateInput](), mode: request, required: []string{"name"},
		overlay: map[string]schema{"name": str(1, 128), "description": str(0, 1024),
			"scopes":    merge2(items(enum(routes.Scopes...)), schema{"description": "none: the read-only scopes"}),
			"rateLimit": between(1, apikeys.MaxRateLimit), "expiresIn": lifetime}},
	{name: "APIKeyUsage", typ: typeOf[apikeys.Stats](), overlay: map[string]schema{"recentRequests": schema{"maxItems": 20}}},
	{name: "APIKeyEndpointCount", typ: typeOf[apikeys.EndpointCount]()},
	{name: "APIKeyRequest", typ: typeOf[apikeys.Record]()},

	{name: "Resources", typ: typeOf[resources.Resources](), mode: both,
		overlay: map[string]schema{"cpu": cpu, "memory": memory}},
	{name: "Usage", typ: typeOf[sessions.Usage](), mode: both,
		overlay: map[string]schema{"cpuMillis": schema{"minimum": 0}, "memoryMiB": schema{"minimum": 0}}},
	{name: "Session", typ: typeOf[sessions.Session](), overlay: sessionOverlay},
	{name: "SessionPage", typ: typeOf[page[sessions.Session]]()},
	{name: "SessionWithAccess", typ: typeOf[sessions.View](), overlay: sessionOverlay,
		desc: "A session with what the caller may do with it (yourAccess); the API still checks every request."},
	{name: "SessionAccess", typ: typeOf[sessions.Access](),
		overlay: map[string]schema{"level": enum(levels...),
			"via": schema{"description": "owner, admin, operator, team:<role> or share"}}},
	{name: "SessionInput", typ: typeOf[sessions.CreateInput](), mode: request, required: []string{"templateName"},
		overlay: map[string]schema{"templateName": templateName, "teamId": id("team"), "tags": tagList(sessions.MaxTags),
			"idleTimeout": between(60, sessions.MaxIdleTimeout), "maxSessionDuration": between(300, sessions.MaxMaxSessionDuration)}},
	{name: "SessionPatch", typ: typeOf[sessions.PatchInput](), mode: request, desc: "At least one field.",
		overlay: map[string]schema{"desiredState": enum(desiredStates...), "idleTimeout": between(60, sessions.MaxIdleTimeout),
			"maxSessionDuration": between(300, sessions.MaxMaxSessionDuration)}},
	{name: "TagsReplace", typ: typeOf[tagsReplace](), mode: request, required: []string{"tags"},
		overlay: map[string]schema{"tags": tagList(sessions.MaxTags)}},
	{name: "TagsEdit", typ: typeOf[tagsEdit](), mode: request, desc: "At least one tag to add or remove.",
		overlay: map[string]schema{"add": tagList(sessions.MaxTags), "remove": schema{"maxItems": sessions.MaxTags}}},
	{name: "Connection", typ: typeOf[sessions.ConnectResult](), desc: "url carries a single-use ticket in its fragment, never a desktop password. " +
		"It is relative (/gateway/s/…) when the stack serves everything from one CloudFront origin without a domain of its own: resolve it against the API's origin.",
		overlay: map[string]schema{"connectionId": id("conn"), "state": enum(states...), "permissionLevel": enum(levels...),
			"url": schema{"format": "uri-reference"}, "expiresAt": schema{"format": "date-time"}}},
	{name: "ConnectionInput", typ: typeOf[connectionInput](), mode: request, required: []string{"connectionId"},
		overlay: map[string]schema{"connectionId": id("conn")}},
	{name: "HeartbeatInput", typ: typeOf[heartbeatInput](), mode: request, desc: "connectionId also extends that connection.",
		overlay: map[string]schema{"connectionId": id("conn")}},
	{name: "Heartbeat", typ: typeOf[heartbeat](), overlay: map[string]schema{"sessionId": id("sess"), "state": enum(states...)}},
	{name: "StatusReport", typ: typeOf[sessions.StatusReport](), mode: request, required: []string{"state"},
		desc:    "What the runtime observed; failed needs an error.",
		overlay: map[string]schema{"state": enum(states...), "url": str(0, 2048), "error": str(0, 1024)}},
	{name: "TransferInput", typ: typeOf[transferInput](), mode: request, required: []string{"newOwnerUserId"},
		overlay: map[string]schema{"newOwnerUserId": userID}},

	{name: "Template", typ: typeOf[templates.Template](), overlay: templateOverlay},
	{name: "TemplatePage", typ: typeOf[page[templates.Template]]()},
	{name: "TemplateInput", typ: typeOf[templates.Template](), mode: request,
		required: []string{"displayName", "category", "image", "defaultResources"},
		desc:     "name is required on create; on replace it may be left out, or must match the path.",
		overlay: with(templateOverlay, map[string]schema{"createdAt": {"readOnly": true, "description": "ignored"},
			"updatedAt": {"readOnly": true, "description": "ignored"}, "version": {"readOnly": true, "description": "ignored: send it in If-Match"}})},

	{name: "Team", typ: typeOf[teams.Team](), overlay: teamOverlay},
	{name: "TeamWithRole", typ: typeOf[teamWithRole](), desc: "role and permissions are the caller's own (none for a platform admin or operator who is not a member).",
		overlay: with(teamOverlay, map[string]schema{"role": enum(access.TeamRoles...), "permissions": teamPerms})},
	{name: "TeamPage", typ: typeOf[page[teamWithRole]]()},
	{name: "TeamInput", typ: typeOf[teamInput](), mode: request, required: []string{"name"},
		overlay: map[string]schema{"name": str(1, 64), "displayName": str(0, 128), "description": str(0, 1024)}},
	{name: "TeamPatch", typ: typeOf[teamPatch](), mode: request,
		overlay: map[string]schema{"displayName": str(1, 128), "description": str(0, 1024)}},
	{name: "Member", typ: typeOf[teams.Member](), overlay: map[string]schema{"teamId": id("team"), "userId": userID, "role": enum(access.TeamRoles...), "version": versionSchema}},
	{name: "MemberPage", typ: typeOf[page[teams.Member]]()},
	{name: "MemberInput", typ: typeOf[memberInput](), mode: request, required: []string{"userId", "role"},
		overlay: map[string]schema{"userId": userID, "role": enum(access.TeamRoles...)}},
	{name: "MemberRoleInput", typ: typeOf[memberRoleInput](), mode: request, required: []string{"role"},
		overlay: map[string]schema{"role": enum(access.TeamRoles...)}},
	{name: "TeamPermissions", typ: typeOf[permissions](),
		overlay: map[string]schema{"roles": schema{"propertyNames": enum(access.TeamRoles...), "additionalProperties": teamPerms}, "permissions": teamPerms}},
	{name: "TeamRoleInfo", typ: typeOf[roleInfoList](),
		overlay: map[string]schema{"roles": items(schema{"properties": schema{"role": enum(access.TeamRoles...), "permissions": teamPerms}})}},
	{name: "TeamMyPermissions", typ: typeOf[myPermissions](),
		overlay: map[string]schema{"teamId": id("team"), "role": enum(access.TeamRoles...), "permissions": teamPerms}},
	{name: "TeamPermissionCheck", typ: typeOf[permissionCheck](),
		overlay: map[string]schema{"permission": enum(access.AllTeamPermissions...), "role": enum(access.TeamRoles...)}},
	{name: "TeamQuota", typ: typeOf[quotaView](), desc: "Limits and live usage (usage may exceed a lowered limit); version counts limit changes.",
		overlay: map[string]schema{"maxSessions": between(0, 10000), "maxCpuMillis": between(0, 10_000_000), "maxMemoryMiB": between(0, 100_000_000), "version": versionSchema}},
	{name: "TeamQuotaInput", typ: typeOf[quotaInput](), mode: request,
		overlay: map[string]schema{"maxSessions": between(0, 10000), "maxCpuMillis": between(0, 10_000_000), "maxMemoryMiB": between(0, 100_000_000)}},

	{name: "Share", typ: typeOf[sharing.Share](), overlay: shareOverlay},
	{name: "ShareView", typ: typeOf[shareView](), desc: "active is false once the share has expired.", overlay: shareOverlay},
	{name: "SharePage", typ: typeOf[page[shareView]]()},
	{name: "ShareInput", typ: typeOf[shareInput](), mode: request, required: []string{"sharedWithUserId", "permissionLevel"},
		overlay: map[string]schema{"sharedWithUserId": userID, "permissionLevel": enum(levels...),
			"expiresAt": schema{"description": "in the future, within a year; none: no expiry"}}},
	{name: "Invitation", typ: typeOf[sharing.Invitation](), overlay: invitationOverlay},
	{name: "InvitationCreated", typ: typeOf[invitationCreated](), desc: "The only answer that carries the token (token, acceptUrl); an Idempotency-Key replay omits them.",
		overlay: with(invitationOverlay, map[string]schema{"token": pattern(`^[A-Za-z0-9_-]{43}$`)})},
	{name: "InvitationPage", typ: typeOf[page[sharing.Invitation]]()},
	{name: "InvitationInput", typ: typeOf[invitationInput](), mode: request, required: []string{"permissionLevel"},
		desc:    "expiresIn or expiresAt, not both (default: 7 days; at most a year).",
		overlay: map[string]schema{"permissionLevel": enum(levels...), "maxUses": between(1, 1000), "expiresIn": lifetime}},
	{name: "InvitationAccepted", typ: typeOf[accepted](),
		overlay: map[string]schema{"sessionId": id("sess"), "permissionLevel": enum(levels...), "invitationId": id("inv")}},
	{name: "Empty", typ: typeOf[empty](), mode: request, desc: "No input: the caller is the acceptor."},
	{name: "Collaborator", typ: typeOf[sessions.Collaborator](),
		overlay: map[string]schema{"permissionLevel": enum(levels...), "connectionIds": items(id("conn"))}},
	{name: "CollaboratorPage", typ: typeOf[page[sessions.Collaborator]]()},
	{name: "SharedSession", typ: typeOf[sharedSession](),
		overlay: map[string]schema{"permissionLevel": enum(levels...), "shareId": id("shr")}},
	{name: "SharedSessionPage", typ: typeOf[page[sharedSession]]()},

	{name: "Activity", typ: typeOf[activity.Activity](), overlay: activityOverlay},
	{name: "ActivityPage", typ: typeOf[page[activity.Activity]]()},
	{name: "TimelineEntry", typ: typeOf[timelineEntry](),
		overlay: with(activityOverlay, map[string]schema{"durationSinceMs": schema{"minimum": 0}})},
	{name: "TimelinePage", typ: typeOf[page[timelineEntry]]()},
	{name: "ActivityInput", typ: typeOf[activityInput](), mode: request, required: []string{"eventType"},
		desc: "eventCategory, when given, must be the type's own; metadata is at most 8 KiB as JSON.",
		overlay: map[string]schema{"eventType": enum(activity.TypeNames()...), "eventCategory": enum(categories...),
			"description": str(0, 1024)}},
	{name: "ActivityStats", typ: typeOf[activity.Stats](),
		overlay: map[string]schema{"byCategory7d": schema{"propertyNames": enum(categories...)}, "topTypes7d": schema{"maxItems": 10}}},
	{name: "ActivityTypeCount", typ: typeOf[activity.TypeCount](), overlay: map[string]schema{"eventType": enum(activity.TypeNames()...)}},

	{name: "Recording", typ: typeOf[recordings.Recording](), overlay: recordingOverlay},
	{name: "RecordingPage", typ: typeOf[page[recordings.Recording]]()},
	{name: "RecordingCreated", typ: typeOf[recordingCreated](),
		desc: "A client recording: POST multipart/form-data to uploadUrl with every uploadFields entry, then the content as the last part, named file, " +
			"of 1 to uploadMaxBytes bytes (larger: refused by the store). The form dies at uploadExpiresAt, and locally also once the recording is completed or deleted. " +
			"A gateway recording has no upload fields: the gateway writes the content.",
		overlay: map[string]schema{"uploadUrl": str(1, 4096), "uploadMethod": enum("POST")}},
	{name: "RecordingView", typ: typeOf[recordingView](), desc: "downloadUrl only while the recording is completed."},
	{name: "RecordingInput", typ: typeOf[recordingInput](), mode: request,
		desc: "source client (the default) needs type and format; source gateway records type video in format rfb (both may be left out) of a running session.",
		overlay: map[string]schema{"source": enum(recordings.Sources...), "type": enum(recordings.Types...), "format": enum(formats...),
			"retentionDays": schema{"minimum": 1, "description": "default 30, at most the deployment's RecordingsMaxRetentionDays"}}},
	{name: "RecordingPatch", typ: typeOf[recordingPatch](), mode: request,
		desc: "Finish a client recording once: completed or failed, with what the client measured. Stop a gateway recording: status completed alone (202; it is stopping until the gateway completes it).",
		overlay: map[string]schema{"status": enum(recordings.StatusCompleted, recordings.StatusFailed), "sha256": pattern("^[0-9a-f]{64}$"),
			"durationSeconds": schema{"minimum": 0}, "sizeBytes": schema{"minimum": 0}}},
}

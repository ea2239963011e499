package openapi

import (
	"time"

	"streamspace/internal/activity"
	"streamspace/internal/recordings"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/teams"
	"streamspace/internal/users"
)

// The bodies below have no exported Go type of their own: handlers write maps, anonymous or
// unexported structs. These mirrors say what they write. A mirror that falls behind its handler
// fails the end-to-end tests, which check every response (and every accepted request) against
// this document.

// page is a cursor-paged list; nextCursor is "" on the last page.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor"`
}

type health struct {
	Status string `json:"status"`
}

type version struct {
	Version    string `json:"version"`
	APIVersion string `json:"apiVersion"`
}

// document is this document, as GET /openapi.json answers it.
type document struct {
	OpenAPI           string         `json:"openapi"`
	Info              map[string]any `json:"info"`
	JSONSchemaDialect string         `json:"jsonSchemaDialect,omitempty"`
	Servers           []any          `json:"servers,omitempty"`
	Paths             map[string]any `json:"paths"`
	Components        map[string]any `json:"components,omitempty"`
	Security          []any          `json:"security,omitempty"`
	Tags              []any          `json:"tags,omitempty"`
}

// me is users' unexported answer to GET /users/me.
type me struct {
	users.User
	AuthMethod string   `json:"authMethod"`
	KeyID      string   `json:"keyId,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
}

type roleInput struct {
	Role string `json:"role"`
}

type tagsReplace struct {
	Tags []string `json:"tags"`
}

type tagsEdit struct {
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

type connectionInput struct {
	ConnectionID string `json:"connectionId"`
}

// heartbeatInput is the same body, optional there: a distinct type, so it is its own component.
type heartbeatInput connectionInput

type heartbeat struct {
	SessionID    string    `json:"sessionId"`
	LastActivity time.Time `json:"lastActivity"`
	State        string    `json:"state"`
}

type transferInput struct {
	NewOwnerUserID string `json:"newOwnerUserId"`
}

type teamInput struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
}

type teamPatch struct {
	DisplayName *string `json:"displayName"`
	Description *string `json:"description"`
}

// teamWithRole is a team with the caller's role in it (none for an admin or operator who is
// not a member).
type teamWithRole struct {
	teams.Team
	Role        string   `json:"role,omitempty"`
	Permissions []string `json:"permissions"`
}

type memberRoleInput roleInput

type memberInput struct {
	UserID string `json:"userId"`
	Role   string `json:"role"`
}

type permissions struct {
	Roles       map[string][]string `json:"roles"`
	Permissions []string            `json:"permissions"`
}

type roleInfo struct {
	Role        string   `json:"role"`
	Rank        int      `json:"rank"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

type roleInfoList struct {
	Roles []roleInfo `json:"roles"`
}

type myPermissions struct {
	TeamID      string   `json:"teamId"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

type permissionCheck struct {
	Permission string `json:"permission"`
	Role       string `json:"role"`
	Allowed    bool   `json:"allowed"`
}

type quotaUsage struct {
	LiveSessions int `json:"liveSessions"`
	CPUMillis    int `json:"cpuMillis"`
	MemoryMiB    int `json:"memoryMiB"`
}

type quotaView struct {
	teams.Quota
	Usage quotaUsage `json:"usage"`
}

type quotaInput struct {
	MaxSessions  *int `json:"maxSessions"`
	MaxCPUMillis *int `json:"maxCpuMillis"`
	MaxMemoryMiB *int `json:"maxMemoryMiB"`
}

type shareInput struct {
	SharedWithUserID string     `json:"sharedWithUserId"`
	PermissionLevel  string     `json:"permissionLevel"`
	ExpiresAt        *time.Time `json:"expiresAt"`
}

type shareView struct {
	sharing.Share
	Active bool `json:"active"`
}

type invitationInput struct {
	PermissionLevel string     `json:"permissionLevel"`
	MaxUses         *int       `json:"maxUses"`
	ExpiresIn       string     `json:"expiresIn"`
	ExpiresAt       *time.Time `json:"expiresAt"`
}

type invitationCreated struct {
	sharing.Invitation
	// Absent on an Idempotency-Key replay: the token is shown once (only its hash is stored).
	Token     string `json:"token,omitempty"`
	AcceptURL string `json:"acceptUrl,omitempty"`
}

type accepted struct {
	SessionID       string `json:"sessionId"`
	PermissionLevel string `json:"permissionLevel"`
	InvitationID    string `json:"invitationId"`
}

// empty is the body of a route that takes none but refuses anything in one.
type empty struct{}

type sharedSession struct {
	Session         sessions.Session `json:"session"`
	PermissionLevel string           `json:"permissionLevel"`
	ShareID         string           `json:"shareId"`
	SharedAt        time.Time        `json:"sharedAt"`
	ExpiresAt       *time.Time       `json:"expiresAt"`
}

type activityInput struct {
	EventType     string         `json:"eventType"`
	EventCategory string         `json:"eventCategory"`
	Description   string         `json:"description"`
	Metadata      map[string]any `json:"metadata"`
}

type timelineEntry struct {
	activity.Activity
	DurationSinceMs int64 `json:"durationSinceMs"`
}

type recordingInput struct {
	Source        string `json:"source"`
	Type          string `json:"type"`
	Format        string `json:"format"`
	RetentionDays *int   `json:"retentionDays"`
}

// recordingCreated: the upload fields only for a client recording.
type recordingCreated struct {
	Recording       recordings.Recording `json:"recording"`
	UploadURL       string               `json:"uploadUrl,omitempty"`
	UploadMethod    string               `json:"uploadMethod,omitempty"`
	UploadFields    map[string]string    `json:"uploadFields,omitempty"`
	UploadMaxBytes  int64                `json:"uploadMaxBytes,omitempty"`
	UploadExpiresAt *time.Time           `json:"uploadExpiresAt,omitempty"`
}

// recordingView: the download link only while the recording is completed.
type recordingView struct {
	Recording         recordings.Recording `json:"recording"`
	DownloadURL       string               `json:"downloadUrl,omitempty"`
	DownloadExpiresAt *time.Time           `json:"downloadExpiresAt,omitempty"`
}

type recordingPatch struct {
	Status          string     `json:"status"`
	EndedAt         *time.Time `json:"endedAt"`
	DurationSeconds *int       `json:"durationSeconds"`
	SizeBytes       *int64     `json:"sizeBytes"`
	SHA256          string     `json:"sha256"`
}

// gatewayMessage is what API Gateway itself answers when no function does (a fault of the
// authorizer or the function, a body over its own 10 MB limit).
type gatewayMessage struct {
	Message string `json:"message"`
}

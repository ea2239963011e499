// Package events defines the notification envelope pushed to WebSocket clients and the event
// types of the contract.
package events

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Event types.
const (
	SessionCreated          = "session.created"
	SessionUpdated          = "session.updated"
	SessionDeleted          = "session.deleted"
	SessionStateChanged     = "session.state.changed"
	SessionConnected        = "session.connected"
	SessionDisconnected     = "session.disconnected"
	SessionHeartbeat        = "session.heartbeat"
	SessionIdle             = "session.idle"
	SessionActive           = "session.active"
	SessionResourcesUpdated = "session.resources.updated"
	SessionTagsUpdated      = "session.tags.updated"
	SessionError            = "session.error"
	SessionShared           = "session.shared"
	SessionUnshared         = "session.unshared"
	SessionTransferred      = "session.transferred"
	SessionTransferOffered  = "session.transfer.offered"
	TeamMemberAdded         = "team.member.added"
	TeamMemberRemoved       = "team.member.removed"
	TeamMemberRoleChanged   = "team.member.role.changed"
	APIKeyRevoked           = "apikey.revoked"
	APIKeyRateLimited       = "apikey.rate_limited"
)

// Envelope is one message to a client. ID is stable for a given committed change, so a client
// that receives a redelivery can drop it.
type Envelope struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	SessionID string    `json:"sessionId,omitempty"`
	UserID    string    `json:"userId"`
	TeamID    string    `json:"teamId,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// ID derives an event id from the stream record that caused it and the event type.
func ID(streamEventID, eventType string) string {
	sum := sha256.Sum256([]byte(streamEventID + "|" + eventType))
	return "evt_" + hex.EncodeToString(sum[:])[:26]
}

// Package sessions is the sessions area: the session model and its state machine, quotas, the
// DynamoDB store, and the HTTP routes of /sessions.
package sessions

import (
	"fmt"
	"slices"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/resources"
)

// States of a session. Users set the desired state; the runtime reports the observed one.
const (
	StatePending    = "pending"
	StateRunning    = "running"
	StateHibernated = "hibernated"
	StateTerminated = "terminated"
	StateFailed     = "failed"
)

// Session is the API representation and the stored item (dynamodbav tags name the attributes).
type Session struct {
	ID                 string              `json:"id" dynamodbav:"id"`
	OwnerID            string              `json:"ownerId" dynamodbav:"ownerId"`
	TeamID             string              `json:"teamId,omitempty" dynamodbav:"teamId,omitempty"`
	TemplateName       string              `json:"templateName" dynamodbav:"templateName"`
	State              string              `json:"state" dynamodbav:"state"`
	DesiredState       string              `json:"desiredState" dynamodbav:"desiredState"`
	Resources          resources.Resources `json:"resources" dynamodbav:"resources"`
	Tags               []string            `json:"tags" dynamodbav:"tags"`
	IdleTimeout        int                 `json:"idleTimeout" dynamodbav:"idleTimeout"`               // seconds
	MaxSessionDuration int                 `json:"maxSessionDuration" dynamodbav:"maxSessionDuration"` // seconds
	PersistentHome     bool                `json:"persistentHome" dynamodbav:"persistentHome"`
	URL                string              `json:"url,omitempty" dynamodbav:"url,omitempty"`
	Error              string              `json:"error,omitempty" dynamodbav:"error,omitempty"`
	Idle               bool                `json:"idle" dynamodbav:"idle"`
	ActiveConnections  int                 `json:"activeConnections" dynamodbav:"activeConnections"`
	LastActivity       time.Time           `json:"lastActivity" dynamodbav:"lastActivity"`
	Usage              *Usage              `json:"usage,omitempty" dynamodbav:"usage,omitempty"`
	CreatedAt          time.Time           `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt          time.Time           `json:"updatedAt" dynamodbav:"updatedAt"`
	DeletedAt          *time.Time          `json:"deletedAt,omitempty" dynamodbav:"deletedAt,omitempty"`
	// TransferredAt is when the session last changed owner: invitations made before it ended then.
	TransferredAt *time.Time `json:"-" dynamodbav:"transferredAt,omitempty"`
	// ConnectionsCheckedAt is when the scheduler last recounted activeConnections (SEC-18).
	ConnectionsCheckedAt *time.Time `json:"-" dynamodbav:"connectionsCheckedAt,omitempty"`
	// TransferOffer is a pending transfer the recipient has not accepted yet (SEC-15).
	TransferOffer *TransferOffer `json:"transferOffer,omitempty" dynamodbav:"transferOffer,omitempty"`
	Version       int            `json:"version" dynamodbav:"version"`
	// Actor made the last change (for the activity log; not part of the API).
	Actor *auth.Actor `json:"-" dynamodbav:"actor,omitempty"`
	// Runtime is the runtime's bookkeeping (handle, streaming secrets); never sent to clients.
	Runtime *Runtime `json:"-" dynamodbav:"runtime,omitempty"`
}

// TransferOffer is an offer to give the session to another user: nothing moves (owner, quota)
// until that user accepts it before ExpiresAt.
type TransferOffer struct {
	ToUserID  string    `json:"toUserId" dynamodbav:"toUserId"`
	OfferedBy string    `json:"offeredBy" dynamodbav:"offeredBy"`
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt" dynamodbav:"expiresAt"`
	// OfferedByRole is the platform role the offer's maker had from outside the user store (an
	// identity provider's group), as invitations keep it: the accept re-checks the maker's right.
	OfferedByRole string `json:"-" dynamodbav:"offeredByRole,omitempty"`
}

// Usage is what the runtime last measured.
type Usage struct {
	CPUMillis int `json:"cpuMillis" dynamodbav:"cpuMillis"`
	MemoryMiB int `json:"memoryMiB" dynamodbav:"memoryMiB"`
}

// Final reports whether no further transition is possible.
func (s Session) Final() bool { return s.State == StateTerminated }

// Live reports whether the session counts against quotas (it exists and has not ended).
func (s Session) Live() bool { return s.State != StateTerminated && s.State != StateFailed }

// observedTransitions is the state machine the runtime's reports must follow.
var observedTransitions = map[string][]string{
	StatePending:    {StateRunning, StateFailed, StateTerminated},
	StateRunning:    {StateHibernated, StateFailed, StateTerminated},
	StateHibernated: {StateRunning, StateFailed, StateTerminated},
	StateFailed:     {StateTerminated},
	StateTerminated: {},
}

// CanTransition reports whether the observed state may move from → to.
func CanTransition(from, to string) bool { return slices.Contains(observedTransitions[from], to) }

// checkDesired validates a user's request to change the desired state.
func checkDesired(s Session, desired string) error {
	switch {
	case s.State == StateTerminated:
		return fmt.Errorf("the session is terminated")
	case desired == StateTerminated:
		return nil
	case s.State == StateFailed:
		return fmt.Errorf("a failed session can only be terminated")
	case desired == StateHibernated && s.State == StatePending:
		return fmt.Errorf("a pending session cannot be hibernated before it runs")
	}
	return nil
}

// ValidDesired lists what users may ask for.
func ValidDesired(d string) bool {
	return d == StateRunning || d == StateHibernated || d == StateTerminated
}

// StartTimeout is how long a session may stay pending: past it the scheduler fails the session
// with a reason, so nothing waits forever on a runtime that never answers (regression 28).
const StartTimeout = 10 * time.Minute

// StartDeadline is when a pending session fails for not having started.
func (s Session) StartDeadline() time.Time { return s.CreatedAt.Add(StartTimeout) }

// IdleAt is when the session becomes idle without activity; EndsAt when it reaches its
// maximum duration.
func (s Session) IdleAt() time.Time {
	return s.LastActivity.Add(time.Duration(s.IdleTimeout) * time.Second)
}
func (s Session) EndsAt() time.Time {
	return s.CreatedAt.Add(time.Duration(s.MaxSessionDuration) * time.Second)
}

// ConnectionsRecount is how often the scheduler recounts the open connections of a session that
// has some: an open connection whose item expires by TTL (a gateway that died without closing
// it) is removed by nobody who would lower activeConnections (SEC-18).
const ConnectionsRecount = 15 * time.Minute

// RecountAt is when the scheduler next recounts the session's open connections (only while it
// counts some).
func (s Session) RecountAt() (time.Time, bool) {
	if s.ActiveConnections <= 0 {
		return time.Time{}, false
	}
	base := s.CreatedAt
	if s.ConnectionsCheckedAt != nil {
		base = *s.ConnectionsCheckedAt
	}
	return base.Add(ConnectionsRecount), true
}

// NextCheck is when the scheduler must look at a live session: the soonest of its start
// deadline (while pending), becoming idle (while running and active) and reaching its maximum
// duration. Ended sessions need none.
func (s Session) NextCheck() (time.Time, bool) {
	if !s.Live() {
		return time.Time{}, false
	}
	next := s.EndsAt()
	if s.State == StatePending && s.StartDeadline().Before(next) {
		next = s.StartDeadline()
	}
	if s.State == StateRunning && !s.Idle && s.IdleAt().Before(next) {
		next = s.IdleAt()
	}
	if r, ok := s.RecountAt(); ok && r.Before(next) {
		next = r
	}
	return next, true
}

// View is one session as GET /sessions/{id} answers it: with what the caller may do with it,
// so a client shows only the controls that will work (the API still decides every request).
type View struct {
	Session
	YourAccess Access `json:"yourAccess"`
}

// Access is the caller's access.Grant in the API's words.
type Access struct {
	Level  string `json:"level"`  // view, collaborate or control
	Manage bool   `json:"manage"` // share, invite, transfer
	Delete bool   `json:"delete"` // terminate
	Via    string `json:"via"`    // owner, admin, operator, team:<role>, share
}

// AccessOf says a grant in the API's words.
func AccessOf(g access.Grant) Access {
	return Access{Level: g.Level.String(), Manage: g.Manage, Delete: g.Delete, Via: g.Via}
}

// Package access is the one place that decides what a caller may do with a session. Every
// session route, and the WebSocket delivery, asks it; later areas (teams, shares) extend Decide,
// never the callers.
package access

import (
	"context"

	"streamspace/internal/auth"
)

// Level orders what a caller may do with a session; each level includes the ones below it.
type Level int

const (
	None        Level = iota
	View              // read the session and its activity, watch it
	Collaborate       // also send input and heartbeats
	Control           // also change settings, tags and the desired state
)

func (l Level) String() string {
	return [...]string{"none", "view", "collaborate", "control"}[l]
}

// Grant is the caller's effective access to one session.
type Grant struct {
	Level Level
	// Manage covers the owner's rights beyond control: delete, share, transfer, invitations.
	Manage bool
}

// Subject is what the decision needs to know about a session.
type Subject struct {
	SessionID string
	OwnerID   string
	TeamID    string
}

// Decider computes grants. It holds the lookups later rules need (team roles, shares).
type Decider struct{}

// Decide returns the highest access the caller has: owner, platform role (admin: everything;
// operator: view everything) — and, as the product grows, team role and shares.
func (d *Decider) Decide(ctx context.Context, c auth.Caller, s Subject) (Grant, error) {
	switch {
	case c.IsAdmin(), c.UserID == s.OwnerID:
		return Grant{Level: Control, Manage: true}, nil
	case c.IsOperator():
		return Grant{Level: View}, nil
	}
	return Grant{}, nil
}

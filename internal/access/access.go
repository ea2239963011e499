// Package access is the one place that decides what a caller may do with a session: owner,
// team role, share and platform role. Every session, sharing, team and activity route, and the
// WebSocket delivery, asks it.
package access

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
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

// ParseLevel reads a share's permission level.
func ParseLevel(s string) (Level, bool) {
	switch s {
	case "view":
		return View, true
	case "collaborate":
		return Collaborate, true
	case "control":
		return Control, true
	}
	return None, false
}

// ShareLevel is what a share grants now: nothing once expired, whether or not TTL has removed
// it yet (expiresAt 0 = no expiry).
func ShareLevel(permissionLevel string, expiresAt int64, now time.Time) Level {
	if expiresAt > 0 && now.Unix() >= expiresAt {
		return None
	}
	l, _ := ParseLevel(permissionLevel)
	return l
}

// TeamRoleViews reports whether a team role may see the team's sessions (and their events).
func TeamRoleViews(role string) bool { return teamGrant(role).Level >= View }

// Grant is the caller's effective access to one session.
type Grant struct {
	Level Level
	// Manage covers sharing, revoking, invitations and transfer: the owner's, a team role's with
	// team.sessions.update, or an admin's.
	Manage bool
	// Delete is the owner's, a team role's with team.sessions.delete, or an admin's.
	Delete bool
	// Owner is true for the session's owner (and only them).
	Owner bool
	// Via says where the grant comes from: owner, admin, operator, team:<role>, share.
	Via string
}

func (g Grant) max(o Grant) Grant {
	if o.Level > g.Level {
		g.Level, g.Via = o.Level, o.Via
	}
	g.Manage = g.Manage || o.Manage
	g.Delete = g.Delete || o.Delete
	return g
}

// Subject is what the decision needs to know about a session.
type Subject struct {
	SessionID string
	OwnerID   string
	TeamID    string
}

// Decider computes grants, reading the caller's team membership and share (one BatchGetItem)
// only when owner and platform role do not already decide.
type Decider struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

func (d *Decider) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Decide returns the highest access the caller has.
func (d *Decider) Decide(ctx context.Context, c auth.Caller, s Subject) (Grant, error) {
	if c.UserID == "" || c.UserID == s.OwnerID || c.IsAdmin() {
		return Decision(c, s, "", None), nil // decided without the lookups
	}
	role, share, err := d.lookups(ctx, c.UserID, s)
	if err != nil {
		return Grant{}, err
	}
	return Decision(c, s, role, share), nil
}

// Decision is the rule itself, apart from the reads: the grant of a caller whose role in the
// session's team is teamRole ("" for none) and whose share of it grants share.
func Decision(c auth.Caller, s Subject, teamRole string, share Level) Grant {
	switch {
	case c.UserID == "":
		return Grant{}
	case c.UserID == s.OwnerID:
		return Grant{Level: Control, Manage: true, Delete: true, Owner: true, Via: "owner"}
	case c.IsAdmin():
		return Grant{Level: Control, Manage: true, Delete: true, Via: "admin"}
	}
	g := Grant{}
	if c.IsOperator() {
		g = Grant{Level: View, Via: "operator"}
	}
	if teamRole != "" {
		tg := teamGrant(teamRole)
		tg.Via = "team:" + teamRole
		g = g.max(tg)
	}
	if share > None {
		g = g.max(Grant{Level: share, Via: "share"})
	}
	return g
}

// lookups reads the caller's membership of the session's team and share of the session.
func (d *Decider) lookups(ctx context.Context, userID string, s Subject) (string, Level, error) {
	if d.DB == nil {
		return "", None, nil
	}
	keys := []map[string]types.AttributeValue{ddb.ShareKey(s.SessionID, userID)}
	if s.TeamID != "" {
		keys = append(keys, ddb.MemberKey(s.TeamID, userID))
	}
	items, err := ddb.BatchGet(ctx, d.DB, d.Table, keys, true)
	if err != nil {
		return "", None, fmt.Errorf("access lookups: %w", err)
	}
	role, level := "", None
	for _, item := range items {
		sk := str(item["SK"])
		if strings.HasPrefix(sk, ddb.MemberPrefix) {
			role = str(item["role"])
			continue
		}
		level = ShareLevel(str(item["permissionLevel"]), num(item["expiresAt"]), d.now())
	}
	return role, level, nil
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func num(v types.AttributeValue) int64 {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		x, _ := strconv.ParseInt(n.Value, 10, 64)
		return x
	}
	return 0
}

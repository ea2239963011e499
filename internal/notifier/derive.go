// Package notifier turns committed changes (DynamoDB stream records) into events and pushes them
// to the WebSocket connections that may see them.
package notifier

import (
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/change"
	"streamspace/internal/events"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
)

// Change is an event and whom it concerns.
type Change struct {
	Event   events.Envelope
	OwnerID string
	TeamID  string
	// OwnerOnly events (about API keys) go to the owner's own connections and nobody else.
	OwnerOnly bool
	// TeamOnly events (about memberships) go to the team's members' own connections.
	TeamOnly bool
	// Extra users also receive the event on their own connections although they may no longer
	// see the session: the user whose share was revoked, the previous owner, the removed member.
	Extra []string
}

// Derive returns the events a stream record stands for (none for items no client cares about).
func Derive(rec lambdaevents.DynamoDBEventRecord) ([]Change, error) {
	d, err := change.Of(rec)
	if err != nil {
		return nil, err
	}
	return Events(d), nil
}

// Events derives the events of a change.
func Events(d change.Diff) []Change {
	switch {
	case d.Session != nil:
		return sessionEvents(d, d.Session)
	case d.Connection != nil:
		return connectionEvents(d, d.Connection)
	case d.APIKey != nil:
		return apiKeyEvents(d, d.APIKey)
	case d.Share != nil:
		return shareEvents(d, d.Share)
	case d.Member != nil:
		return memberEvents(d, d.Member)
	}
	return nil
}

func newChange(d change.Diff, typ string, se sessions.Session, data any) Change {
	return Change{OwnerID: se.OwnerID, TeamID: se.TeamID, Event: events.Envelope{
		ID: events.ID(d.EventID, typ), Type: typ, SessionID: se.ID, UserID: se.OwnerID, TeamID: se.TeamID,
		Timestamp: d.At, Data: data}}
}

func sessionEvents(d change.Diff, s *change.Session) []Change {
	old, cur, ch := s.Old, s.New, s.Changed
	var out []Change
	add := func(typ string, data any) { out = append(out, newChange(d, typ, cur, data)) }
	switch {
	case d.Created():
		add(events.SessionCreated, map[string]any{"templateName": cur.TemplateName, "state": cur.State,
			"desiredState": cur.DesiredState, "resources": cur.Resources, "tags": cur.Tags})
		return out
	case d.Removed():
		return []Change{newChange(d, events.SessionDeleted, old, map[string]any{"state": old.State})}
	}
	if ch.Has(change.Owner) {
		c := newChange(d, events.SessionTransferred, cur, map[string]any{"previousOwnerId": old.OwnerID, "newOwnerId": cur.OwnerID})
		c.Extra = []string{old.OwnerID}
		out = append(out, c)
	}
	if o := cur.TransferOffer; ch.Has(change.TransferOffer) {
		// The recipient cannot see the session yet: the offer is all they learn of it.
		c := newChange(d, events.SessionTransferOffered, cur, map[string]any{"toUserId": o.ToUserID,
			"offeredBy": o.OfferedBy, "templateName": cur.TemplateName, "expiresAt": o.ExpiresAt})
		c.Extra = []string{o.ToUserID}
		out = append(out, c)
	}
	if ch.Has(change.State) {
		add(events.SessionStateChanged, map[string]any{"previousState": old.State, "state": cur.State,
			"desiredState": cur.DesiredState, "url": cur.URL, "error": cur.Error})
		if cur.State == sessions.StateFailed {
			add(events.SessionError, map[string]any{"error": cur.Error})
		}
	}
	if ch.Has(change.Deleted) {
		add(events.SessionDeleted, map[string]any{"state": cur.State})
	}
	if ch.Has(change.Tags) {
		add(events.SessionTagsUpdated, map[string]any{"tags": cur.Tags, "previousTags": old.Tags})
	}
	if ch.Has(change.Resources) {
		add(events.SessionResourcesUpdated, map[string]any{"resources": cur.Resources, "previousResources": old.Resources})
	}
	settings := s.Settings()
	if ch.Has(change.URL) && !ch.Has(change.State) {
		settings["url"] = cur.URL
	}
	if len(settings) > 0 {
		add(events.SessionUpdated, settings)
	}
	switch {
	case ch.Has(change.Idle) && cur.Idle:
		add(events.SessionIdle, map[string]any{"lastActivity": cur.LastActivity, "idleTimeout": cur.IdleTimeout})
	case ch.Has(change.Idle):
		add(events.SessionActive, map[string]any{"lastActivity": cur.LastActivity})
	}
	// A heartbeat changes only the activity time; connects announce themselves through their own item.
	if ch.Has(change.LastActivity) && !ch.Has(change.Connections) && len(out) == 0 {
		add(events.SessionHeartbeat, map[string]any{"lastActivity": cur.LastActivity})
	}
	return out
}

func connectionEvents(d change.Diff, cc *change.Connection) []Change {
	c := cc.Conn
	typ := events.SessionConnected
	data := map[string]any{"connectionId": c.ConnectionID, "userId": c.UserID, "permissionLevel": c.PermissionLevel}
	if cc.Closed {
		typ, data["reason"] = events.SessionDisconnected, cc.Reason
	}
	// Owner and team are read from the session at delivery: the connection's copy may predate a transfer.
	return []Change{newChange(d, typ, sessions.Session{ID: c.SessionID}, data)}
}

func apiKeyEvents(d change.Diff, k *change.APIKey) []Change {
	cur := k.New
	var out []Change
	add := func(typ string, data map[string]any) {
		data["keyId"], data["name"], data["keyPrefix"] = cur.ID, cur.Name, cur.KeyPrefix
		out = append(out, Change{OwnerID: cur.OwnerID, OwnerOnly: true, Event: events.Envelope{
			ID: events.ID(d.EventID, typ), Type: typ, UserID: cur.OwnerID, Timestamp: d.At, Data: data}})
	}
	if k.Revoked {
		add(events.APIKeyRevoked, map[string]any{"revokedAt": cur.RevokedAt})
	}
	if k.RateLimited {
		add(events.APIKeyRateLimited, map[string]any{"rateLimit": cur.RateLimit, "hour": cur.RateLimitedHour})
	}
	return out
}

func shareEvents(d change.Diff, s *change.Share) []Change {
	data := func(sh sharing.Share) map[string]any {
		m := map[string]any{"shareId": sh.ID, "sharedWithUserId": sh.SharedWithUserID, "permissionLevel": sh.PermissionLevel}
		if sh.Expiry > 0 {
			m["expiresAt"] = time.Unix(sh.Expiry, 0).UTC()
		}
		return m
	}
	// The session's owner and team are filled in by the notifier, which reads the session.
	env := func(typ, sessionID string, m map[string]any) events.Envelope {
		return events.Envelope{ID: events.ID(d.EventID, typ), Type: typ, SessionID: sessionID, Timestamp: d.At, Data: m}
	}
	switch {
	case s.Revoked:
		m := data(s.Old)
		m["reason"] = s.Reason
		return []Change{{Event: env(events.SessionUnshared, s.Old.SessionID, m), Extra: []string{s.Old.SharedWithUserID}}}
	case s.Updated:
		m := data(s.New)
		m["previousPermissionLevel"], m["updated"] = s.Old.PermissionLevel, true
		return []Change{{Event: env(events.SessionShared, s.New.SessionID, m)}}
	}
	return []Change{{Event: env(events.SessionShared, s.New.SessionID, data(s.New))}}
}

func memberEvents(d change.Diff, mc *change.Member) []Change {
	var typ string
	m, data := mc.New, map[string]any{}
	switch {
	case mc.Added:
		typ, data["addedBy"] = events.TeamMemberAdded, m.AddedBy
	case mc.Removed:
		typ, m = events.TeamMemberRemoved, mc.Old
	default:
		typ, data["previousRole"] = events.TeamMemberRoleChanged, mc.Old.Role
	}
	data["teamId"], data["userId"], data["role"] = m.TeamID, m.UserID, m.Role
	return []Change{{TeamID: m.TeamID, TeamOnly: true, Extra: []string{m.UserID}, Event: events.Envelope{
		ID: events.ID(d.EventID, typ), Type: typ, UserID: m.UserID, TeamID: m.TeamID, Timestamp: d.At, Data: data}}}
}

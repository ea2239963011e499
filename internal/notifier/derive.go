// Package notifier turns committed changes (DynamoDB stream records) into events and pushes them
// to the WebSocket connections that may see them.
package notifier

import (
	"slices"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/apikeys"
	"streamspace/internal/ddb"
	"streamspace/internal/events"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/teams"
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

type image = map[string]types.AttributeValue

func entityOf(img image) string {
	if v, ok := img["entity"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// Derive returns the events a stream record stands for (none for items no client cares about).
func Derive(rec lambdaevents.DynamoDBEventRecord) ([]Change, error) {
	oldImg, err := ddb.FromStreamImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	newImg, err := ddb.FromStreamImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	entity := entityOf(newImg)
	if entity == "" {
		entity = entityOf(oldImg)
	}
	ts := rec.Change.ApproximateCreationDateTime.UTC()
	if ts.IsZero() {
		ts = time.Now().UTC()
	}
	switch entity {
	case sessions.EntitySession:
		return deriveSession(rec, oldImg, newImg, ts)
	case sessions.EntityConnection:
		return deriveConnection(rec, oldImg, newImg, ts)
	case apikeys.EntityAPIKey:
		return deriveAPIKey(rec, oldImg, newImg, ts)
	case sharing.EntityShare:
		return deriveShare(rec, oldImg, newImg, ts)
	case teams.EntityMember:
		return deriveMember(rec, oldImg, newImg, ts)
	}
	return nil, nil
}

func newChange(rec lambdaevents.DynamoDBEventRecord, typ string, se sessions.Session, ts time.Time, data any) Change {
	return Change{OwnerID: se.OwnerID, TeamID: se.TeamID, Event: events.Envelope{
		ID: events.ID(rec.EventID, typ), Type: typ, SessionID: se.ID, UserID: se.OwnerID, TeamID: se.TeamID,
		Timestamp: ts, Data: data}}
}

func deriveSession(rec lambdaevents.DynamoDBEventRecord, oldImg, newImg image, ts time.Time) ([]Change, error) {
	var old, cur sessions.Session
	var err error
	if len(oldImg) > 0 {
		if old, err = sessions.UnmarshalSession(oldImg); err != nil {
			return nil, err
		}
	}
	if len(newImg) > 0 {
		if cur, err = sessions.UnmarshalSession(newImg); err != nil {
			return nil, err
		}
	}
	var out []Change
	add := func(typ string, data any) { out = append(out, newChange(rec, typ, cur, ts, data)) }
	switch rec.EventName {
	case "INSERT":
		add(events.SessionCreated, map[string]any{"templateName": cur.TemplateName, "state": cur.State,
			"desiredState": cur.DesiredState, "resources": cur.Resources, "tags": cur.Tags})
		return out, nil
	case "REMOVE":
		out = append(out, newChange(rec, events.SessionDeleted, old, ts, map[string]any{"state": old.State}))
		return out, nil
	}
	if old.OwnerID != cur.OwnerID {
		ch := newChange(rec, events.SessionTransferred, cur, ts, map[string]any{"previousOwnerId": old.OwnerID, "newOwnerId": cur.OwnerID})
		ch.Extra = []string{old.OwnerID}
		out = append(out, ch)
	}
	if o := cur.TransferOffer; o != nil && (old.TransferOffer == nil || old.TransferOffer.ToUserID != o.ToUserID ||
		!old.TransferOffer.CreatedAt.Equal(o.CreatedAt)) {
		// The recipient cannot see the session yet: the offer is all they learn of it.
		ch := newChange(rec, events.SessionTransferOffered, cur, ts, map[string]any{"toUserId": o.ToUserID,
			"offeredBy": o.OfferedBy, "templateName": cur.TemplateName, "expiresAt": o.ExpiresAt})
		ch.Extra = []string{o.ToUserID}
		out = append(out, ch)
	}
	if old.State != cur.State {
		add(events.SessionStateChanged, map[string]any{"previousState": old.State, "state": cur.State,
			"desiredState": cur.DesiredState, "url": cur.URL, "error": cur.Error})
		if cur.State == sessions.StateFailed {
			add(events.SessionError, map[string]any{"error": cur.Error})
		}
	}
	if old.DeletedAt == nil && cur.DeletedAt != nil {
		add(events.SessionDeleted, map[string]any{"state": cur.State})
	}
	if !slices.Equal(old.Tags, cur.Tags) {
		add(events.SessionTagsUpdated, map[string]any{"tags": cur.Tags, "previousTags": old.Tags})
	}
	if old.Resources != cur.Resources {
		add(events.SessionResourcesUpdated, map[string]any{"resources": cur.Resources, "previousResources": old.Resources})
	}
	changed := map[string]any{}
	if old.DesiredState != cur.DesiredState && cur.State != sessions.StateTerminated {
		changed["desiredState"] = cur.DesiredState
	}
	if old.IdleTimeout != cur.IdleTimeout {
		changed["idleTimeout"] = cur.IdleTimeout
	}
	if old.MaxSessionDuration != cur.MaxSessionDuration {
		changed["maxSessionDuration"] = cur.MaxSessionDuration
	}
	if old.URL != cur.URL && old.State == cur.State {
		changed["url"] = cur.URL
	}
	if len(changed) > 0 {
		add(events.SessionUpdated, changed)
	}
	switch {
	case !old.Idle && cur.Idle:
		add(events.SessionIdle, map[string]any{"lastActivity": cur.LastActivity, "idleTimeout": cur.IdleTimeout})
	case old.Idle && !cur.Idle:
		add(events.SessionActive, map[string]any{"lastActivity": cur.LastActivity})
	}
	// A heartbeat changes only the activity time; connects announce themselves through their own item.
	if !old.LastActivity.Equal(cur.LastActivity) && old.ActiveConnections == cur.ActiveConnections && len(out) == 0 {
		add(events.SessionHeartbeat, map[string]any{"lastActivity": cur.LastActivity})
	}
	return out, nil
}

func deriveConnection(rec lambdaevents.DynamoDBEventRecord, oldImg, newImg image, ts time.Time) ([]Change, error) {
	what, c, err := sessions.ConnectionTransition(rec.EventName, oldImg, newImg)
	if err != nil || what == "" {
		return nil, err
	}
	typ := events.SessionConnected
	data := map[string]any{"connectionId": c.ConnectionID, "userId": c.UserID, "permissionLevel": c.PermissionLevel}
	if what == sessions.ConnClosed {
		typ, data["reason"] = events.SessionDisconnected, closeReason(rec, c)
	}
	// Owner and team are read from the session at delivery: the connection's copy may predate a transfer.
	se := sessions.Session{ID: c.SessionID}
	return []Change{newChange(rec, typ, se, ts, data)}, nil
}

func deriveAPIKey(rec lambdaevents.DynamoDBEventRecord, oldImg, newImg image, ts time.Time) ([]Change, error) {
	if rec.EventName != "MODIFY" {
		return nil, nil
	}
	old, err := apikeys.UnmarshalKey(oldImg)
	if err != nil {
		return nil, err
	}
	cur, err := apikeys.UnmarshalKey(newImg)
	if err != nil {
		return nil, err
	}
	var out []Change
	add := func(typ string, data map[string]any) {
		data["keyId"], data["name"], data["keyPrefix"] = cur.ID, cur.Name, cur.KeyPrefix
		out = append(out, Change{OwnerID: cur.OwnerID, OwnerOnly: true, Event: events.Envelope{
			ID: events.ID(rec.EventID, typ), Type: typ, UserID: cur.OwnerID, Timestamp: ts, Data: data}})
	}
	if !old.Revoked && cur.Revoked {
		add(events.APIKeyRevoked, map[string]any{"revokedAt": cur.RevokedAt})
	}
	if cur.RateLimitedHour != "" && cur.RateLimitedHour != old.RateLimitedHour {
		add(events.APIKeyRateLimited, map[string]any{"rateLimit": cur.RateLimit, "hour": cur.RateLimitedHour})
	}
	return out, nil
}

func deriveShare(rec lambdaevents.DynamoDBEventRecord, oldImg, newImg image, ts time.Time) ([]Change, error) {
	var old, cur sharing.Share
	if err := attributevalue.UnmarshalMap(oldImg, &old); err != nil {
		return nil, err
	}
	if err := attributevalue.UnmarshalMap(newImg, &cur); err != nil {
		return nil, err
	}
	data := func(sh sharing.Share) map[string]any {
		d := map[string]any{"shareId": sh.ID, "sharedWithUserId": sh.SharedWithUserID, "permissionLevel": sh.PermissionLevel}
		if sh.Expiry > 0 {
			d["expiresAt"] = time.Unix(sh.Expiry, 0).UTC()
		}
		return d
	}
	// The session's owner and team are filled in by the notifier, which reads the session.
	env := func(typ, sessionID string, d map[string]any) events.Envelope {
		return events.Envelope{ID: events.ID(rec.EventID, typ), Type: typ, SessionID: sessionID, Timestamp: ts, Data: d}
	}
	switch rec.EventName {
	case "INSERT":
		return []Change{{Event: env(events.SessionShared, cur.SessionID, data(cur))}}, nil
	case "MODIFY":
		if old.PermissionLevel == cur.PermissionLevel && old.Expiry == cur.Expiry {
			return nil, nil
		}
		d := data(cur)
		d["previousPermissionLevel"], d["updated"] = old.PermissionLevel, true
		return []Change{{Event: env(events.SessionShared, cur.SessionID, d)}}, nil
	case "REMOVE":
		d := data(old)
		d["reason"] = "revoked"
		if rec.UserIdentity != nil && rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com" {
			d["reason"] = "expired"
		}
		return []Change{{Event: env(events.SessionUnshared, old.SessionID, d), Extra: []string{old.SharedWithUserID}}}, nil
	}
	return nil, nil
}

func deriveMember(rec lambdaevents.DynamoDBEventRecord, oldImg, newImg image, ts time.Time) ([]Change, error) {
	var old, cur teams.Member
	if err := attributevalue.UnmarshalMap(oldImg, &old); err != nil {
		return nil, err
	}
	if err := attributevalue.UnmarshalMap(newImg, &cur); err != nil {
		return nil, err
	}
	var typ string
	m, d := cur, map[string]any{}
	switch {
	case rec.EventName == "INSERT":
		typ, d["addedBy"] = events.TeamMemberAdded, cur.AddedBy
	case rec.EventName == "REMOVE":
		typ, m = events.TeamMemberRemoved, old
	case old.Role != cur.Role:
		typ, d["previousRole"] = events.TeamMemberRoleChanged, old.Role
	default:
		return nil, nil
	}
	d["teamId"], d["userId"], d["role"] = m.TeamID, m.UserID, m.Role
	return []Change{{TeamID: m.TeamID, TeamOnly: true, Extra: []string{m.UserID}, Event: events.Envelope{
		ID: events.ID(rec.EventID, typ), Type: typ, UserID: m.UserID, TeamID: m.TeamID, Timestamp: ts, Data: d}}}, nil
}

// closeReason is why a connection ended: what the gateway recorded, or that it expired (TTL),
// or was ended through the API.
func closeReason(rec lambdaevents.DynamoDBEventRecord, c sessions.Connection) string {
	switch {
	case c.CloseReason != "":
		return c.CloseReason
	case rec.UserIdentity != nil && rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com":
		return "expired"
	}
	return "disconnected"
}

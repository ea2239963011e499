// Package change is the one change model of the main table's stream: a typed Diff of a record's
// old and new images, computed once per record, from which every consumer derives its work —
// the notifier its events, the auditor its activity entries, the runtime its actions. What
// counts as "the state changed", "a connection opened" or "a share was revoked, or expired" is
// decided here and nowhere else; the consumers only decide what to make of it.
package change

import (
	"fmt"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/apikeys"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/teams"
)

// Operations of a stream record.
const (
	Insert = "INSERT"
	Modify = "MODIFY"
	Remove = "REMOVE"
)

// EntityRecording marks recording items (written by the recordings store).
const EntityRecording = "recording"

// Diff is what one stream record changed. Exactly one of the item pointers is set for the item
// kinds a consumer looks at; none for the others (quota counters, idempotency records…).
type Diff struct {
	Op      string // Insert, Modify or Remove
	EventID string
	Seq     string    // the record's sequence number (orders entries within a second)
	At      time.Time // when the stream saw the change (approximate; now when absent)
	// ByTTL: DynamoDB removed the item itself (its TTL), not a caller.
	ByTTL bool
	// Actor made the change, as the service wrote it onto the new image (nil if unknown).
	Actor *auth.Actor

	Session    *Session
	Connection *Connection
	Share      *Share
	Invitation *Invitation
	Member     *Member
	APIKey     *APIKey
	Recording  *Recording
}

// Created and Removed tell the record's operation.
func (d Diff) Created() bool { return d.Op == Insert }
func (d Diff) Removed() bool { return d.Op == Remove }

type image = map[string]types.AttributeValue

// Of computes a record's Diff.
func Of(rec lambdaevents.DynamoDBEventRecord) (Diff, error) {
	d := Diff{Op: rec.EventName, EventID: rec.EventID, Seq: rec.Change.SequenceNumber,
		At:    rec.Change.ApproximateCreationDateTime.UTC(),
		ByTTL: rec.UserIdentity != nil && rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"}
	if d.At.IsZero() {
		d.At = time.Now().UTC()
	}
	oldImg, err := ddb.FromStreamImage(rec.Change.OldImage)
	if err != nil {
		return d, err
	}
	newImg, err := ddb.FromStreamImage(rec.Change.NewImage)
	if err != nil {
		return d, err
	}
	entity := entityOf(newImg)
	if entity == "" {
		entity = entityOf(oldImg)
	}
	var x struct {
		Actor *auth.Actor `dynamodbav:"actor"`
	}
	_ = attributevalue.UnmarshalMap(newImg, &x) // an unreadable actor is only an unknown one
	d.Actor = x.Actor
	switch entity {
	case sessions.EntitySession:
		d.Session, err = sessionOf(d.Op, oldImg, newImg)
	case sessions.EntityConnection:
		d.Connection, err = connectionOf(d, oldImg, newImg)
	case sharing.EntityShare:
		d.Share, err = shareOf(d, oldImg, newImg)
	case sharing.EntityInvitation:
		d.Invitation, err = invitationOf(d.Op, oldImg, newImg)
	case teams.EntityMember:
		d.Member, err = memberOf(d.Op, oldImg, newImg)
	case apikeys.EntityAPIKey:
		d.APIKey, err = apiKeyOf(d.Op, oldImg, newImg)
	case EntityRecording:
		d.Recording = recordingOf(d.Op, oldImg)
	}
	if err != nil {
		return d, fmt.Errorf("%s %s: %w", d.Op, entity, err)
	}
	return d, nil
}

func entityOf(img image) string {
	if v, ok := img["entity"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// decode unmarshals both images (an absent one leaves its value zero).
func decode[T any](oldImg, newImg image, unmarshal func(image, *T) error) (old, cur T, err error) {
	if len(oldImg) > 0 {
		if err = unmarshal(oldImg, &old); err != nil {
			return old, cur, err
		}
	}
	if len(newImg) > 0 {
		err = unmarshal(newImg, &cur)
	}
	return old, cur, err
}

func plain[T any](img image, v *T) error { return attributevalue.UnmarshalMap(img, v) }

// via adapts a store's own decoder (which also normalises the value) to decode.
func via[T any](f func(image) (T, error)) func(image, *T) error {
	return func(img image, v *T) (err error) {
		*v, err = f(img)
		return err
	}
}

// Connection is a viewer connection's change that means something: it opened or it closed.
type Connection struct {
	Opened, Closed bool
	// Conn is the connection as it is (opened) or was (closed).
	Conn sessions.Connection
	// Reason it closed: what the gateway recorded, "expired" (its TTL), or "disconnected" (ended
	// through the API).
	Reason string
}

// connectionOf: opened when the gateway opened it (or an item from before the gateway
// appeared), closed when an open one went; nil for the rest (a ticket issued, or gone unused; a
// renewal; the closing facts written just before the removal).
func connectionOf(d Diff, oldImg, newImg image) (*Connection, error) {
	old, cur, err := decode(oldImg, newImg, plain[sessions.Connection])
	if err != nil {
		return nil, err
	}
	switch {
	case d.Op == Insert && cur.Open(), d.Op == Modify && !old.Open() && cur.Open():
		return &Connection{Opened: true, Conn: cur}, nil
	case d.Op == Remove && old.Open():
		c := &Connection{Closed: true, Conn: old, Reason: old.CloseReason}
		switch {
		case c.Reason != "":
		case d.ByTTL:
			c.Reason = "expired"
		default:
			c.Reason = "disconnected"
		}
		return c, nil
	}
	return nil, nil
}

// Share is a share's change that means something: granted (new, or its level or expiry
// changed) or revoked (removed by a caller, or expired).
type Share struct {
	Old, New sharing.Share
	Granted  bool
	Updated  bool // granted again with another level or expiry
	Revoked  bool
	Reason   string // why it was revoked: "revoked" or "expired"
}

func shareOf(d Diff, oldImg, newImg image) (*Share, error) {
	old, cur, err := decode(oldImg, newImg, plain[sharing.Share])
	if err != nil {
		return nil, err
	}
	sh := &Share{Old: old, New: cur}
	switch d.Op {
	case Insert:
		sh.Granted = true
	case Modify:
		if old.PermissionLevel == cur.PermissionLevel && old.Expiry == cur.Expiry {
			return nil, nil
		}
		sh.Granted, sh.Updated = true, true
	case Remove:
		sh.Revoked, sh.Reason = true, "revoked"
		if d.ByTTL {
			sh.Reason = "expired"
		}
	}
	return sh, nil
}

// Invitation is an invitation's change that means something: created, or accepted once more.
type Invitation struct {
	Old, New   sharing.Invitation
	Created    bool
	Accepted   bool
	AcceptedBy string
}

func invitationOf(op string, oldImg, newImg image) (*Invitation, error) {
	old, cur, err := decode(oldImg, newImg, plain[sharing.Invitation])
	if err != nil {
		return nil, err
	}
	inv := &Invitation{Old: old, New: cur}
	switch {
	case op == Insert:
		inv.Created = true
	case op == Modify && cur.Uses > old.Uses:
		var x struct {
			By string `dynamodbav:"lastAcceptedBy"`
		}
		_ = attributevalue.UnmarshalMap(newImg, &x)
		inv.Accepted, inv.AcceptedBy = true, x.By
	default:
		return nil, nil
	}
	return inv, nil
}

// Member is a team membership's change: added, removed or given another role.
type Member struct {
	Old, New    teams.Member
	Added       bool
	Removed     bool
	RoleChanged bool
}

func memberOf(op string, oldImg, newImg image) (*Member, error) {
	old, cur, err := decode(oldImg, newImg, plain[teams.Member])
	if err != nil {
		return nil, err
	}
	m := &Member{Old: old, New: cur, Added: op == Insert, Removed: op == Remove,
		RoleChanged: op == Modify && old.Role != cur.Role}
	if !m.Added && !m.Removed && !m.RoleChanged {
		return nil, nil
	}
	return m, nil
}

// APIKey is an API key's change that means something: revoked, or it hit its hourly limit
// (once per hour).
type APIKey struct {
	Old, New    apikeys.Key
	Revoked     bool
	RateLimited bool
}

func apiKeyOf(op string, oldImg, newImg image) (*APIKey, error) {
	if op != Modify {
		return nil, nil
	}
	old, cur, err := decode(oldImg, newImg, via(apikeys.UnmarshalKey))
	if err != nil {
		return nil, err
	}
	k := &APIKey{Old: old, New: cur, Revoked: !old.Revoked && cur.Revoked,
		RateLimited: cur.RateLimitedHour != "" && cur.RateLimitedHour != old.RateLimitedHour}
	if !k.Revoked && !k.RateLimited {
		return nil, nil
	}
	return k, nil
}

// Recording is a recording item's removal (its retention's TTL, or DELETE): its content must go too.
type Recording struct {
	StorageKey string
}

func recordingOf(op string, oldImg image) *Recording {
	k, _ := oldImg["storageKey"].(*types.AttributeValueMemberS)
	if op != Remove || k == nil || k.Value == "" {
		return nil
	}
	return &Recording{StorageKey: k.Value}
}

package activity

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/events"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/streambatch"
)

type image = map[string]types.AttributeValue

func entityOf(img image) string {
	if v, ok := img["entity"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// builder makes the activities of one stream record with stable ids.
type builder struct {
	rec lambdaevents.DynamoDBEventRecord
	ts  time.Time // the record's approximate time (streams round it; DynamoDB Local to the minute)
	// at is the change's own time, written by the service onto the item (nanoseconds); for a
	// removal, which carries none, floor is the last time the old item knew of.
	at, floor time.Time
	actor     *auth.Actor
	out       []Activity
}

func (b *builder) add(sessionID, typ, desc string, meta map[string]any) {
	shown := b.at
	if shown.IsZero() {
		shown = b.ts
		if b.floor.After(shown) {
			shown = b.floor
		}
	}
	a := Activity{ID: "act_" + strings.TrimPrefix(events.ID(b.rec.EventID, typ), "evt_"), SessionID: sessionID, EventType: typ,
		EventCategory: Types[typ], Description: desc, Metadata: meta, Timestamp: shown, Source: "platform",
		Order: fmt.Sprintf("S%040s#%02d", b.rec.Change.SequenceNumber, len(b.out))}
	if b.actor != nil {
		a.ActorID, a.IP, a.UserAgent = b.actor.UserID, b.actor.IP, b.actor.UserAgent
	}
	b.out = append(b.out, a)
}

func actorOf(img image) *auth.Actor {
	var x struct {
		Actor *auth.Actor `dynamodbav:"actor"`
	}
	_ = attributevalue.UnmarshalMap(img, &x)
	return x.Actor
}

// Derive returns the activities a committed change stands for.
func Derive(rec lambdaevents.DynamoDBEventRecord) ([]Activity, error) {
	oldImg, err := ddb.FromStreamImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	newImg, err := ddb.FromStreamImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	b := &builder{rec: rec, ts: rec.Change.ApproximateCreationDateTime.UTC()}
	if b.ts.IsZero() {
		b.ts = time.Now().UTC()
	}
	entity := entityOf(newImg)
	if entity == "" {
		entity = entityOf(oldImg)
	}
	b.actor = actorOf(newImg)
	switch entity {
	case sessions.EntitySession:
		err = b.session(oldImg, newImg)
	case sessions.EntityConnection:
		err = b.connection(oldImg, newImg)
	case sharing.EntityShare:
		err = b.share(oldImg, newImg)
	case sharing.EntityInvitation:
		err = b.invitation(oldImg, newImg)
	}
	return b.out, err
}

func (b *builder) session(oldImg, newImg image) error {
	var old, cur sessions.Session
	var err error
	if len(oldImg) > 0 {
		if old, err = sessions.UnmarshalSession(oldImg); err != nil {
			return err
		}
	}
	if len(newImg) > 0 {
		if cur, err = sessions.UnmarshalSession(newImg); err != nil {
			return err
		}
	}
	id := cur.ID
	b.at = cur.UpdatedAt.UTC()
	switch b.rec.EventName {
	case "INSERT":
		b.add(id, "session.created", "session created from template "+cur.TemplateName,
			map[string]any{"templateName": cur.TemplateName, "resources": cur.Resources, "teamId": cur.TeamID, "ownerId": cur.OwnerID})
		return nil
	case "REMOVE":
		return nil
	}
	if old.State != cur.State {
		meta := map[string]any{"from": old.State, "to": cur.State}
		b.add(id, "state.changed", fmt.Sprintf("state %s → %s", old.State, cur.State), meta)
		switch {
		case cur.State == sessions.StateRunning && old.State == sessions.StatePending:
			b.add(id, "session.started", "session started", meta)
		case cur.State == sessions.StateRunning && old.State == sessions.StateHibernated:
			b.add(id, "session.woken", "session woken", meta)
		case cur.State == sessions.StateHibernated:
			b.add(id, "session.hibernated", "session hibernated", meta)
		case cur.State == sessions.StateTerminated:
			b.add(id, "session.terminated", "session terminated", meta)
		case cur.State == sessions.StateFailed:
			b.add(id, "error.occurred", "session failed: "+cur.Error, map[string]any{"error": cur.Error, "from": old.State})
		}
	}
	if old.DeletedAt == nil && cur.DeletedAt != nil {
		b.add(id, "session.deleted", "session deleted", nil)
	}
	if old.OwnerID != cur.OwnerID {
		b.add(id, "session.transferred", fmt.Sprintf("ownership %s → %s", old.OwnerID, cur.OwnerID),
			map[string]any{"previousOwnerId": old.OwnerID, "newOwnerId": cur.OwnerID})
	}
	if !slices.Equal(old.Tags, cur.Tags) {
		b.add(id, "tags.updated", "tags updated", map[string]any{"tags": cur.Tags, "previousTags": old.Tags})
	}
	if old.Resources != cur.Resources {
		b.add(id, "resources.updated", "resources updated", map[string]any{"resources": cur.Resources, "previousResources": old.Resources})
	}
	changes := map[string]any{}
	if old.DesiredState != cur.DesiredState && cur.State != sessions.StateTerminated {
		changes["desiredState"] = cur.DesiredState
	}
	if old.IdleTimeout != cur.IdleTimeout {
		changes["idleTimeout"] = cur.IdleTimeout
	}
	if old.MaxSessionDuration != cur.MaxSessionDuration {
		changes["maxSessionDuration"] = cur.MaxSessionDuration
	}
	if len(changes) > 0 {
		b.add(id, "config.updated", "settings changed", changes)
	}
	// A change of lastActivity alone (a heartbeat, or the gateway marking input) records
	// nothing: one entry a minute per watched session was most of the log and of its cost
	// (docs/cost.md). Clients can still log user.heartbeat themselves (POST …/activity/log).
	return nil
}

func (b *builder) connection(oldImg, newImg image) error {
	what, c, err := sessions.ConnectionTransition(b.rec.EventName, oldImg, newImg)
	if err != nil || what == "" {
		return err
	}
	expired := c.CloseReason == "" && b.rec.UserIdentity != nil && b.rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"
	b.actor = &auth.Actor{UserID: c.UserID, IP: c.IP, UserAgent: c.UserAgent}
	connected, _ := time.Parse(time.RFC3339Nano, c.ConnectedAt)
	meta := map[string]any{"connectionId": c.ConnectionID, "permissionLevel": c.PermissionLevel}
	if what == sessions.ConnOpened {
		b.at = connected
		b.add(c.SessionID, "connection.opened", c.UserID+" opened a stream ("+c.PermissionLevel+")", meta)
		return nil
	}
	b.floor = connected
	meta["reason"] = c.CloseReason
	switch {
	case expired:
		meta["reason"], b.actor = "expired", &auth.Actor{UserID: c.UserID}
	case c.CloseReason == "":
		meta["reason"] = "disconnected"
	}
	if c.DurationMs > 0 || c.BytesOut > 0 {
		meta["bytesIn"], meta["bytesOut"], meta["durationMs"] = c.BytesIn, c.BytesOut, c.DurationMs
	}
	b.add(c.SessionID, "connection.closed", c.UserID+"'s stream closed: "+meta["reason"].(string), meta)
	return nil
}

func (b *builder) share(oldImg, newImg image) error {
	var old, cur sharing.Share
	if err := attributevalue.UnmarshalMap(oldImg, &old); err != nil {
		return err
	}
	if err := attributevalue.UnmarshalMap(newImg, &cur); err != nil {
		return err
	}
	b.at = cur.UpdatedAt.UTC()
	switch b.rec.EventName {
	case "INSERT", "MODIFY":
		if b.rec.EventName == "MODIFY" && old.PermissionLevel == cur.PermissionLevel && old.Expiry == cur.Expiry {
			return nil
		}
		meta := map[string]any{"shareId": cur.ID, "sharedWithUserId": cur.SharedWithUserID, "permissionLevel": cur.PermissionLevel}
		b.add(cur.SessionID, "share.created", "shared with "+cur.SharedWithUserID+" ("+cur.PermissionLevel+")", meta)
		b.add(cur.SessionID, "access.granted", cur.SharedWithUserID+" may "+cur.PermissionLevel, meta)
	case "REMOVE":
		b.at, b.floor = time.Time{}, old.UpdatedAt.UTC()
		reason := "revoked"
		// The deleter is not in a REMOVE record; only a TTL expiry is known to be the system's.
		b.actor = nil
		if b.rec.UserIdentity != nil && b.rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com" {
			reason = "expired"
		}
		b.add(old.SessionID, "share.revoked", "share of "+old.SharedWithUserID+" "+reason,
			map[string]any{"shareId": old.ID, "sharedWithUserId": old.SharedWithUserID, "reason": reason})
	}
	return nil
}

func (b *builder) invitation(oldImg, newImg image) error {
	var old, cur sharing.Invitation
	if err := attributevalue.UnmarshalMap(oldImg, &old); err != nil {
		return err
	}
	if err := attributevalue.UnmarshalMap(newImg, &cur); err != nil {
		return err
	}
	meta := map[string]any{"invitationId": cur.ID, "permissionLevel": cur.PermissionLevel, "maxUses": cur.MaxUses}
	switch {
	case b.rec.EventName == "INSERT":
		b.add(cur.SessionID, "invitation.created", "invitation created", meta)
	case b.rec.EventName == "MODIFY" && cur.Uses > old.Uses:
		var x struct {
			By string `dynamodbav:"lastAcceptedBy"`
		}
		_ = attributevalue.UnmarshalMap(newImg, &x)
		b.actor = &auth.Actor{UserID: x.By}
		meta["uses"] = cur.Uses
		b.add(cur.SessionID, "invitation.accepted", x.By+" accepted an invitation", meta)
	}
	return nil
}

// Auditor consumes the main table's stream and records activity.
type Auditor struct {
	Store *Store
	Log   *slog.Logger
	// Batch is the shared stream batch loop (dead letters, give-up budget); nil only reports
	// the first failed record.
	Batch *streambatch.Loop
	// Objects, when set, loses the content of every recording whose item is removed (its
	// retention's TTL, or DELETE, which removed it already): the object lives as long as its
	// metadata (security review SEC-16).
	Objects ObjectRemover
}

// ObjectRemover deletes recordings' content and kills its upload forms.
type ObjectRemover interface {
	Seal(ctx context.Context, key string) error
	Delete(ctx context.Context, key string) error
}

// removedRecording is the storage key of a recording whose item this record removes.
func removedRecording(rec lambdaevents.DynamoDBEventRecord) (string, error) {
	if rec.EventName != "REMOVE" {
		return "", nil
	}
	oldImg, err := ddb.FromStreamImage(rec.Change.OldImage)
	if err != nil || entityOf(oldImg) != "recording" {
		return "", err
	}
	k, _ := oldImg["storageKey"].(*types.AttributeValueMemberS)
	if k == nil {
		return "", nil
	}
	return k.Value, nil
}

func (a *Auditor) removeObject(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
	if a.Objects == nil {
		return nil
	}
	key, err := removedRecording(rec)
	if err != nil || key == "" {
		return err
	}
	if err := a.Objects.Seal(ctx, key); err != nil {
		return err
	}
	return a.Objects.Delete(ctx, key)
}

// Handle records each record's activities in order through the shared batch loop, reporting the
// first failure so the record is retried (already-written activities are skipped by their ids).
// The counters of what the batch wrote are added once per batch (one update per counter, not a
// 5-item transaction per entry), also when a record fails: what was written is counted, and a
// retried record's entries already written are neither written nor counted again.
func (a *Auditor) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	counts := Counts{}
	defer a.count(ctx, counts)
	return a.Batch.Handle(ctx, ev, func(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
		return a.record(ctx, rec, counts)
	})
}

// HandleRecord writes one record's activities and their counters (what a redrive calls).
func (a *Auditor) HandleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
	counts := Counts{}
	defer a.count(ctx, counts)
	return a.record(ctx, rec, counts)
}

func (a *Auditor) record(ctx context.Context, rec lambdaevents.DynamoDBEventRecord, counts Counts) error {
	if err := a.removeObject(ctx, rec); err != nil {
		return err
	}
	acts, err := Derive(rec)
	if err != nil {
		return err
	}
	for _, act := range acts {
		ok, err := a.Store.PutEntry(ctx, act)
		if err != nil {
			return err
		}
		if ok {
			counts.Add(act)
		}
	}
	return nil
}

// count writes the batch's counters, retrying a failed update a few times. Counters that still
// cannot be written are logged and lost (the statistics then undercount; the entries are
// complete): retrying the records would not count them, their entries being written already.
func (a *Auditor) count(ctx context.Context, c Counts) {
	var err error
	for try := 0; try < 3 && len(c) > 0; try++ {
		if try > 0 {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		}
		if err = a.Store.AddCounts(context.WithoutCancel(ctx), c); err == nil {
			return
		}
	}
	if err != nil {
		a.Log.ErrorContext(ctx, "activity counters lost", slog.Int("counters", len(c)), slog.String("error", err.Error()))
	}
}

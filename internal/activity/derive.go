package activity

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/auth"
	"streamspace/internal/change"
	"streamspace/internal/events"
	"streamspace/internal/sessions"
)

// builder makes the activities of one change with stable ids.
type builder struct {
	d change.Diff
	// at is the change's own time, written by the service onto the item (nanoseconds); for a
	// removal, which carries none, floor is the last time the old item knew of. Without either,
	// the record's approximate time (streams round it; DynamoDB Local to the minute).
	at, floor time.Time
	actor     *auth.Actor
	out       []Activity
}

func (b *builder) add(sessionID, typ, desc string, meta map[string]any) {
	shown := b.at
	if shown.IsZero() {
		shown = b.d.At
		if b.floor.After(shown) {
			shown = b.floor
		}
	}
	a := Activity{ID: "act_" + strings.TrimPrefix(events.ID(b.d.EventID, typ), "evt_"), SessionID: sessionID, EventType: typ,
		EventCategory: Types[typ], Description: desc, Metadata: meta, Timestamp: shown, Source: "platform",
		Order: fmt.Sprintf("S%040s#%02d", b.d.Seq, len(b.out))}
	if b.actor != nil {
		a.ActorID, a.IP, a.UserAgent = b.actor.UserID, b.actor.IP, b.actor.UserAgent
	}
	b.out = append(b.out, a)
}

// Derive returns the activities a committed change stands for.
func Derive(rec lambdaevents.DynamoDBEventRecord) ([]Activity, error) {
	d, err := change.Of(rec)
	if err != nil {
		return nil, err
	}
	return Entries(d), nil
}

// Entries derives the activities of a change.
func Entries(d change.Diff) []Activity {
	b := &builder{d: d, actor: d.Actor}
	switch {
	case d.Session != nil:
		b.session(d.Session)
	case d.Connection != nil:
		b.connection(d.Connection)
	case d.Share != nil:
		b.share(d.Share)
	case d.Invitation != nil:
		b.invitation(d.Invitation)
	}
	return b.out
}

func (b *builder) session(s *change.Session) {
	old, cur, ch := s.Old, s.New, s.Changed
	id := cur.ID
	b.at = cur.UpdatedAt.UTC()
	switch {
	case b.d.Created():
		b.add(id, "session.created", "session created from template "+cur.TemplateName,
			map[string]any{"templateName": cur.TemplateName, "resources": cur.Resources, "teamId": cur.TeamID, "ownerId": cur.OwnerID})
		return
	case b.d.Removed():
		return
	}
	if ch.Has(change.State) {
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
	if ch.Has(change.Deleted) {
		b.add(id, "session.deleted", "session deleted", nil)
	}
	if ch.Has(change.Owner) {
		b.add(id, "session.transferred", fmt.Sprintf("ownership %s → %s", old.OwnerID, cur.OwnerID),
			map[string]any{"previousOwnerId": old.OwnerID, "newOwnerId": cur.OwnerID})
	}
	if ch.Has(change.Tags) {
		b.add(id, "tags.updated", "tags updated", map[string]any{"tags": cur.Tags, "previousTags": old.Tags})
	}
	if ch.Has(change.Resources) {
		b.add(id, "resources.updated", "resources updated", map[string]any{"resources": cur.Resources, "previousResources": old.Resources})
	}
	if settings := s.Settings(); len(settings) > 0 {
		b.add(id, "config.updated", "settings changed", settings)
	}
	// A change of lastActivity alone (a heartbeat, or the gateway marking input) records
	// nothing: one entry a minute per watched session was most of the log and of its cost
	// (docs/cost.md). Clients can still log user.heartbeat themselves (POST …/activity/log).
}

func (b *builder) connection(cc *change.Connection) {
	c := cc.Conn
	b.actor = &auth.Actor{UserID: c.UserID, IP: c.IP, UserAgent: c.UserAgent}
	connected, _ := time.Parse(time.RFC3339Nano, c.ConnectedAt)
	meta := map[string]any{"connectionId": c.ConnectionID, "permissionLevel": c.PermissionLevel}
	if cc.Opened {
		b.at = connected
		b.add(c.SessionID, "connection.opened", c.UserID+" opened a stream ("+c.PermissionLevel+")", meta)
		return
	}
	b.floor = connected
	meta["reason"] = cc.Reason
	if cc.Reason == "expired" && c.CloseReason == "" {
		b.actor = &auth.Actor{UserID: c.UserID}
	}
	if c.DurationMs > 0 || c.BytesOut > 0 {
		meta["bytesIn"], meta["bytesOut"], meta["durationMs"] = c.BytesIn, c.BytesOut, c.DurationMs
	}
	b.add(c.SessionID, "connection.closed", c.UserID+"'s stream closed: "+cc.Reason, meta)
}

func (b *builder) share(s *change.Share) {
	if s.Granted {
		cur := s.New
		b.at = cur.UpdatedAt.UTC()
		meta := map[string]any{"shareId": cur.ID, "sharedWithUserId": cur.SharedWithUserID, "permissionLevel": cur.PermissionLevel}
		b.add(cur.SessionID, "share.created", "shared with "+cur.SharedWithUserID+" ("+cur.PermissionLevel+")", meta)
		b.add(cur.SessionID, "access.granted", cur.SharedWithUserID+" may "+cur.PermissionLevel, meta)
		return
	}
	old := s.Old
	// The deleter is not in a REMOVE record; only a TTL expiry is known to be the system's.
	b.floor, b.actor = old.UpdatedAt.UTC(), nil
	b.add(old.SessionID, "share.revoked", "share of "+old.SharedWithUserID+" "+s.Reason,
		map[string]any{"shareId": old.ID, "sharedWithUserId": old.SharedWithUserID, "reason": s.Reason})
}

func (b *builder) invitation(inv *change.Invitation) {
	cur := inv.New
	meta := map[string]any{"invitationId": cur.ID, "permissionLevel": cur.PermissionLevel, "maxUses": cur.MaxUses}
	if inv.Created {
		b.add(cur.SessionID, "invitation.created", "invitation created", meta)
		return
	}
	b.actor = &auth.Actor{UserID: inv.AcceptedBy}
	meta["uses"] = cur.Uses
	b.add(cur.SessionID, "invitation.accepted", inv.AcceptedBy+" accepted an invitation", meta)
}

// Auditor is the processor's step that records activity from the main table's stream.
type Auditor struct {
	Store *Store
	Log   *slog.Logger
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

// Apply is the auditor's work for one change: the content of a removed recording goes (its
// object lives as long as its metadata), and the change's activities are written once each
// (their ids are stable, so a redelivery writes and counts nothing again); what was written is
// added to counts.
func (a *Auditor) Apply(ctx context.Context, d change.Diff, counts Counts) error {
	if r := d.Recording; r != nil && a.Objects != nil {
		if err := a.Objects.Seal(ctx, r.StorageKey); err != nil {
			return err
		}
		if err := a.Objects.Delete(ctx, r.StorageKey); err != nil {
			return err
		}
	}
	for _, act := range Entries(d) {
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

// Count writes a batch's counters (once per batch: one update per counter, not a transaction
// per entry), retrying a failed update a few times. Counters that still cannot be written are
// logged and lost (the statistics then undercount; the entries are complete): retrying the
// records would not count them, their entries being written already.
func (a *Auditor) Count(ctx context.Context, batch Counts) {
	c := batch.inOnePartition()
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

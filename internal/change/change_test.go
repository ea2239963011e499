package change

import (
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/apikeys"
	"streamspace/internal/auth"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/teams"
)

// streamValue renders an attribute as Lambda delivers it in a stream record.
func streamValue(t *testing.T, v types.AttributeValue) lambdaevents.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return lambdaevents.NewNullAttribute()
	case *types.AttributeValueMemberSS:
		return lambdaevents.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		var l []lambdaevents.DynamoDBAttributeValue
		for _, e := range x.Value {
			l = append(l, streamValue(t, e))
		}
		return lambdaevents.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return lambdaevents.NewMapAttribute(streamImage(t, x.Value))
	}
	t.Fatalf("unsupported attribute %T", v)
	return lambdaevents.DynamoDBAttributeValue{}
}

func streamImage(t *testing.T, m map[string]types.AttributeValue) map[string]lambdaevents.DynamoDBAttributeValue {
	out := map[string]lambdaevents.DynamoDBAttributeValue{}
	for k, v := range m {
		out[k] = streamValue(t, v)
	}
	return out
}

// item marshals v as the store would, marked with its entity (nil v: no image).
func item(t *testing.T, entity string, v any, extra map[string]types.AttributeValue) map[string]lambdaevents.DynamoDBAttributeValue {
	if v == nil {
		return nil
	}
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		t.Fatal(err)
	}
	m["entity"] = &types.AttributeValueMemberS{Value: entity}
	for k, x := range extra {
		m[k] = x
	}
	return streamImage(t, m)
}

var at = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func record(op string, oldImg, newImg map[string]lambdaevents.DynamoDBAttributeValue) lambdaevents.DynamoDBEventRecord {
	return lambdaevents.DynamoDBEventRecord{EventID: "ev1", EventName: op, Change: lambdaevents.DynamoDBStreamRecord{
		SequenceNumber: "100", ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: at},
		OldImage: oldImg, NewImage: newImg}}
}

var byTTL = &lambdaevents.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

func of(t *testing.T, rec lambdaevents.DynamoDBEventRecord) Diff {
	t.Helper()
	d, err := Of(rec)
	if err != nil {
		t.Fatal(err)
	}
	if d.EventID != "ev1" || d.Seq != "100" || !d.At.Equal(at) {
		t.Fatalf("diff %+v: want the record's id, sequence number and time", d)
	}
	return d
}

func session(mut func(*sessions.Session)) sessions.Session {
	se := sessions.Session{ID: "sess_1", OwnerID: "alice", TemplateName: "t", State: sessions.StateRunning,
		DesiredState: sessions.StateRunning, Tags: []string{"a"}, IdleTimeout: 600, LastActivity: at}
	if mut != nil {
		mut(&se)
	}
	return se
}

func sessionDiff(t *testing.T, old, cur sessions.Session) *Session {
	t.Helper()
	d := of(t, record(Modify, item(t, sessions.EntitySession, old, nil), item(t, sessions.EntitySession, cur, nil)))
	if d.Session == nil || d.Connection != nil || d.Share != nil {
		t.Fatalf("diff %+v: want a session change only", d)
	}
	return d.Session
}

func TestSessionFields(t *testing.T) {
	all := []Field{State, DesiredState, Owner, TransferOffer, Deleted, Tags, Resources, IdleTimeout, MaxDuration,
		URL, Idle, LastActivity, Connections, Runtime, Usage}
	offer := &sessions.TransferOffer{ToUserID: "bob", OfferedBy: "alice", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	deleted := at
	cases := []struct {
		name string
		old  func(*sessions.Session)
		cur  func(*sessions.Session)
		want []Field
	}{
		{"nothing", nil, nil, nil},
		{"heartbeat", nil, func(s *sessions.Session) { s.LastActivity = at.Add(time.Minute) }, []Field{LastActivity}},
		{"connect", nil, func(s *sessions.Session) { s.ActiveConnections, s.LastActivity = 1, at.Add(time.Second) },
			[]Field{Connections, LastActivity}},
		{"hibernate asked", nil, func(s *sessions.Session) { s.DesiredState = sessions.StateHibernated }, []Field{DesiredState}},
		{"started", func(s *sessions.Session) { s.State = sessions.StatePending },
			func(s *sessions.Session) {
				s.URL = "https://x"
				s.Runtime = &sessions.Runtime{Action: sessions.ActionStart}
			},
			[]Field{State, URL, Runtime}},
		{"transferred", nil, func(s *sessions.Session) { s.OwnerID = "bob" }, []Field{Owner}},
		{"offered", nil, func(s *sessions.Session) { s.TransferOffer = offer }, []Field{TransferOffer}},
		{"same offer again", func(s *sessions.Session) { s.TransferOffer = offer }, func(s *sessions.Session) { s.TransferOffer = offer }, nil},
		{"offer withdrawn", func(s *sessions.Session) { s.TransferOffer = offer }, nil, nil},
		{"soft-deleted", nil, func(s *sessions.Session) { s.DeletedAt = &deleted }, []Field{Deleted}},
		{"tags reordered", nil, func(s *sessions.Session) { s.Tags = []string{"b", "a"} }, []Field{Tags}},
		{"resources", nil, func(s *sessions.Session) { s.Resources.CPU = "2" }, []Field{Resources}},
		{"timeouts", nil, func(s *sessions.Session) { s.IdleTimeout, s.MaxSessionDuration = 60, 3600 }, []Field{IdleTimeout, MaxDuration}},
		{"idle", nil, func(s *sessions.Session) { s.Idle = true }, []Field{Idle}},
		{"usage", nil, func(s *sessions.Session) { s.Usage = &sessions.Usage{CPUMillis: 5} }, []Field{Usage}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sessionDiff(t, session(c.old), session(c.cur))
			for _, f := range all {
				want := false
				for _, w := range c.want {
					want = want || w == f
				}
				if s.Changed.Has(f) != want {
					t.Errorf("field %b changed = %v, want %v (set %b)", f, s.Changed.Has(f), want, s.Changed)
				}
			}
		})
	}
}

func TestSessionSettings(t *testing.T) {
	s := sessionDiff(t, session(nil), session(func(s *sessions.Session) { s.DesiredState = sessions.StateHibernated; s.IdleTimeout = 60 }))
	if got := s.Settings(); len(got) != 2 || got["desiredState"] != sessions.StateHibernated || got["idleTimeout"] != 60 {
		t.Errorf("settings %v, want desiredState and idleTimeout", got)
	}
	// Ending a session changes its desired state too, but nobody set that: not a setting.
	s = sessionDiff(t, session(nil), session(func(s *sessions.Session) {
		s.DesiredState, s.State = sessions.StateTerminated, sessions.StateTerminated
	}))
	if got := s.Settings(); len(got) != 0 {
		t.Errorf("settings of a termination %v, want none", got)
	}
	if s := sessionDiff(t, session(nil), session(func(s *sessions.Session) { s.LastActivity = at.Add(time.Hour) })); len(s.Settings()) != 0 {
		t.Errorf("a heartbeat changed settings %v", s.Settings())
	}
}

func TestSessionInsertRemoveAndActor(t *testing.T) {
	se := session(nil)
	actor := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"userId": &types.AttributeValueMemberS{Value: "carol"},
		"ip": &types.AttributeValueMemberS{Value: "10.0.0.1"}}}
	d := of(t, record(Insert, nil, item(t, sessions.EntitySession, se, map[string]types.AttributeValue{"actor": actor})))
	if !d.Created() || d.Removed() || d.Session == nil || d.Session.Changed != 0 || d.Session.Current(d).ID != se.ID {
		t.Fatalf("insert: %+v", d)
	}
	if d.Actor == nil || *d.Actor != (auth.Actor{UserID: "carol", IP: "10.0.0.1"}) {
		t.Errorf("actor %+v, want carol from the new image", d.Actor)
	}
	d = of(t, record(Remove, item(t, sessions.EntitySession, se, nil), nil))
	if !d.Removed() || d.Session == nil || d.Session.Current(d).OwnerID != "alice" || d.Actor != nil {
		t.Fatalf("remove: %+v, want the old session and no actor", d)
	}
}

func conn(state, reason string) sessions.Connection {
	return sessions.Connection{ConnectionID: "c1", SessionID: "sess_1", UserID: "bob", PermissionLevel: "view",
		State: state, CloseReason: reason}
}

func TestConnectionTransitions(t *testing.T) {
	ent := sessions.EntityConnection
	issued, open := conn(sessions.ConnIssued, ""), conn(sessions.ConnOpen, "")
	cases := []struct {
		name     string
		rec      lambdaevents.DynamoDBEventRecord
		opened   bool
		closed   bool
		reason   string
		meaning  bool
		identity *lambdaevents.DynamoDBUserIdentity
	}{
		{name: "ticket issued", rec: record(Insert, nil, item(t, ent, issued, nil))},
		{name: "gateway opened it", rec: record(Modify, item(t, ent, issued, nil), item(t, ent, open, nil)), opened: true, meaning: true},
		{name: "opened before the gateway existed", rec: record(Insert, nil, item(t, ent, conn("", ""), nil)), opened: true, meaning: true},
		{name: "renewed", rec: record(Modify, item(t, ent, open, nil), item(t, ent, open, nil))},
		{name: "unused ticket gone", rec: record(Remove, item(t, ent, issued, nil), nil)},
		{name: "closed by the gateway", rec: record(Remove, item(t, ent, conn(sessions.ConnOpen, "idle"), nil), nil),
			closed: true, reason: "idle", meaning: true},
		{name: "ended through the API", rec: record(Remove, item(t, ent, open, nil), nil), closed: true, reason: "disconnected", meaning: true},
		{name: "expired", rec: record(Remove, item(t, ent, open, nil), nil), closed: true, reason: "expired", meaning: true, identity: byTTL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.rec.UserIdentity = c.identity
			d := of(t, c.rec)
			if (d.Connection != nil) != c.meaning {
				t.Fatalf("connection change %+v, want one: %v", d.Connection, c.meaning)
			}
			if !c.meaning {
				return
			}
			if d.Connection.Opened != c.opened || d.Connection.Closed != c.closed || d.Connection.Reason != c.reason ||
				d.Connection.Conn.UserID != "bob" {
				t.Errorf("got %+v, want opened %v closed %v reason %q", d.Connection, c.opened, c.closed, c.reason)
			}
		})
	}
}

func TestShareGrantsAndRevocations(t *testing.T) {
	ent := sharing.EntityShare
	view := sharing.Share{ID: "sh1", SessionID: "sess_1", SharedWithUserID: "bob", PermissionLevel: "view"}
	control := view
	control.PermissionLevel = "control"
	if d := of(t, record(Insert, nil, item(t, ent, view, nil))); d.Share == nil || !d.Share.Granted || d.Share.Updated {
		t.Errorf("insert: %+v, want granted", d.Share)
	}
	if d := of(t, record(Modify, item(t, ent, view, nil), item(t, ent, view, nil))); d.Share != nil {
		t.Errorf("rewrite without change: %+v, want nothing", d.Share)
	}
	if d := of(t, record(Modify, item(t, ent, view, nil), item(t, ent, control, nil))); d.Share == nil || !d.Share.Updated ||
		d.Share.Old.PermissionLevel != "view" {
		t.Errorf("level changed: %+v, want granted again", d.Share)
	}
	rec := record(Remove, item(t, ent, view, nil), nil)
	if d := of(t, rec); d.Share == nil || !d.Share.Revoked || d.Share.Reason != "revoked" {
		t.Errorf("delete: %+v, want revoked", d.Share)
	}
	rec.UserIdentity = byTTL
	if d := of(t, rec); d.Share == nil || d.Share.Reason != "expired" {
		t.Errorf("TTL: %+v, want expired", d.Share)
	}
}

func TestInvitationsMembersKeysRecordings(t *testing.T) {
	inv := sharing.Invitation{ID: "inv1", SessionID: "sess_1", MaxUses: 2}
	used := inv
	used.Uses = 1
	by := map[string]types.AttributeValue{"lastAcceptedBy": &types.AttributeValueMemberS{Value: "dave"}}
	if d := of(t, record(Insert, nil, item(t, sharing.EntityInvitation, inv, nil))); d.Invitation == nil || !d.Invitation.Created {
		t.Errorf("invitation insert: %+v", d.Invitation)
	}
	if d := of(t, record(Modify, item(t, sharing.EntityInvitation, inv, nil), item(t, sharing.EntityInvitation, used, by))); d.Invitation == nil ||
		!d.Invitation.Accepted || d.Invitation.AcceptedBy != "dave" {
		t.Errorf("invitation accepted: %+v", d.Invitation)
	}
	revoked := inv
	revoked.Revoked = true
	if d := of(t, record(Modify, item(t, sharing.EntityInvitation, inv, nil), item(t, sharing.EntityInvitation, revoked, nil))); d.Invitation != nil {
		t.Errorf("invitation revoked: %+v, want nothing (no use)", d.Invitation)
	}

	m := teams.Member{TeamID: "team_1", UserID: "erin", Role: "member"}
	admin := m
	admin.Role = "admin"
	if d := of(t, record(Modify, item(t, teams.EntityMember, m, nil), item(t, teams.EntityMember, admin, nil))); d.Member == nil ||
		!d.Member.RoleChanged || d.Member.Added || d.Member.Removed {
		t.Errorf("role change: %+v", d.Member)
	}
	if d := of(t, record(Modify, item(t, teams.EntityMember, m, nil), item(t, teams.EntityMember, m, nil))); d.Member != nil {
		t.Errorf("member rewrite: %+v, want nothing", d.Member)
	}
	if d := of(t, record(Remove, item(t, teams.EntityMember, m, nil), nil)); d.Member == nil || !d.Member.Removed {
		t.Errorf("member removed: %+v", d.Member)
	}

	k := apikeys.Key{ID: "key_1", OwnerID: "alice", Name: "ci"}
	gone := k
	gone.Revoked = true
	limited := k
	limited.RateLimitedHour = "2025030112"
	if d := of(t, record(Insert, nil, item(t, apikeys.EntityAPIKey, k, nil))); d.APIKey != nil {
		t.Errorf("key created: %+v, want nothing", d.APIKey)
	}
	if d := of(t, record(Modify, item(t, apikeys.EntityAPIKey, k, nil), item(t, apikeys.EntityAPIKey, gone, nil))); d.APIKey == nil ||
		!d.APIKey.Revoked || d.APIKey.RateLimited {
		t.Errorf("key revoked: %+v", d.APIKey)
	}
	if d := of(t, record(Modify, item(t, apikeys.EntityAPIKey, limited, nil), item(t, apikeys.EntityAPIKey, limited, nil))); d.APIKey != nil {
		t.Errorf("same hour limited again: %+v, want nothing", d.APIKey)
	}
	if d := of(t, record(Modify, item(t, apikeys.EntityAPIKey, k, nil), item(t, apikeys.EntityAPIKey, limited, nil))); d.APIKey == nil || !d.APIKey.RateLimited {
		t.Errorf("key limited: %+v", d.APIKey)
	}

	rec := map[string]any{"id": "rec_1", "storageKey": "recordings/sess_1/rec_1"}
	if d := of(t, record(Remove, item(t, EntityRecording, rec, nil), nil)); d.Recording == nil || d.Recording.StorageKey != "recordings/sess_1/rec_1" {
		t.Errorf("recording removed: %+v", d.Recording)
	}
	if d := of(t, record(Insert, nil, item(t, EntityRecording, rec, nil))); d.Recording != nil {
		t.Errorf("recording created: %+v, want nothing", d.Recording)
	}
}

func TestUnknownAndBrokenRecords(t *testing.T) {
	d := of(t, record(Modify, item(t, "quota", map[string]any{"n": 1}, nil), item(t, "quota", map[string]any{"n": 2}, nil)))
	if d.Session != nil || d.Connection != nil || d.Share != nil || d.Invitation != nil || d.Member != nil || d.APIKey != nil || d.Recording != nil {
		t.Errorf("an item no consumer reads: %+v, want no change", d)
	}
	broken := item(t, sessions.EntitySession, map[string]any{"id": "sess_1", "lastActivity": "yesterday"}, nil)
	if _, err := Of(record(Insert, nil, broken)); err == nil {
		t.Error("a session image that does not decode: no error")
	}
	noTime := record(Insert, nil, item(t, "quota", map[string]any{}, nil))
	noTime.Change.ApproximateCreationDateTime = lambdaevents.SecondsEpochTime{}
	if d, err := Of(noTime); err != nil || time.Since(d.At) > time.Minute {
		t.Errorf("a record without a time: %v, %v; want now", d.At, err)
	}
}

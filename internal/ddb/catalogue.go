package ddb

// ItemKeys is how one kind of item is keyed. Catalogue builds every entry with the builders
// themselves, called with "<placeholder>" arguments, so what docs/data-model.md shows is what
// the code writes (keys_doc_test.go generates the doc's key tables from it).
type ItemKeys struct {
	Table string // LogicalID of the table
	Item  string // the name docs/data-model.md gives it
	PK    string
	SK    []string // more than one: several items of that kind share the partition
	// Indexes maps an index to the item's partition and sort key in it (absent: not indexed).
	Indexes map[string][2]string
}

// Catalogue lists every kind of item in every table.
func Catalogue() []ItemKeys {
	const (
		session, owner, user = "<sessionId>", "<ownerId>", "<userId>"
		team, due            = "<teamId>", "<due, RFC 3339>"
		shard                = "<shard>" // ShardOf the session's or user's id, 00–15
	)
	idx := func(kv ...string) map[string][2]string {
		m := map[string][2]string{}
		for i := 0; i+2 < len(kv); i += 3 {
			m[kv[i]] = [2]string{kv[i+1], kv[i+2]}
		}
		return m
	}
	main, conns, audit := MainLogicalID, ConnLogicalID, AuditLogicalID
	return []ItemKeys{
		{main, "Session", SessionPK(session), []string{MetaSK}, idx(
			GSI1, OwnerPK(owner), session,
			GSI2, shardKeyOf(TypePK(KindSession), shard), session,
			GSI3, TeamSessionsPK(team), session,
			GSI4, shardKeyOf(SchedulePK, shard), dueSK(due, session))},
		{main, "Viewer connection", SessionPK(session), []string{ViewerConnSK("<conn_…>")}, nil},
		{main, "Share", SessionPK(session), []string{ShareSK(user)}, idx(GSI1, SharedWithPK(user), session)},
		{main, "Recording", SessionPK(session), []string{RecordingSK("<rec_…>")}, idx(GSI4, GatewayPK, dueSK(due, "<recordingId>"))},
		{main, "Template", TemplatePK("<name>"), []string{MetaSK}, idx(GSI2, TypePK(KindTemplate), "<name>")},
		{main, "User", UserPK(user), []string{ProfileSK}, idx(GSI2, shardKeyOf(TypePK(KindUser), shard), user)},
		{main, "Quota", UserPK(user), []string{QuotaSK}, nil},
		{main, "Idempotency record", idempotencyPK(user, "<Idempotency-Key>"), []string{IdempSK}, nil},
		{main, "API key", APIKeyPK("<sha256 hex of the key>"), []string{MetaSK}, idx(GSI1, KeysPK(owner), "<keyId>")},
		{main, "Team", TeamPK(team), []string{MetaSK}, idx(GSI2, TypePK(KindTeam), team)},
		{main, "Team quota", TeamPK(team), []string{QuotaSK}, nil},
		{main, "Team membership", TeamPK(team), []string{MemberSK(user)}, idx(GSI1, MemberOfPK(user), team)},
		{main, "Invitation", InvitePK("<sha256 hex of the token>"), []string{MetaSK}, idx(GSI1, InvitesPK(session), "<invitationId>")},
		{main, "Invitation acceptance", InvitePK("<sha256 hex of the token>"), []string{AcceptSK(user)}, nil},

		{conns, "Connection", ConnPK("<apiGatewayConnectionId>"), []string{MetaSK}, nil},
		{conns, "Subscription", ConnPK("<connectionId>"), []string{SubSK("<audience>")}, idx(GSI1, "<audience>", ConnPK("<connectionId>"))},

		{audit, "Rate window", KeyStatsPK("<keyId>"), []string{hourSK("<yyyymmddhh>")}, nil},
		{audit, "Route count", KeyStatsPK("<keyId>"), []string{dayRouteSK("<yyyymmdd>", "<route>")}, nil},
		{audit, "Total", KeyStatsPK("<keyId>"), []string{TotalSK}, nil},
		{audit, "Usage record", KeyLogPK("<keyId>"), []string{timeSK("<RFC 3339 time>", "<requestId>")}, nil},
		{audit, "Activity entry", ActivitySessionPK(session), []string{activitySK}, idx(GSI1, ActivityUserPK("<actorId>"), activitySK)},
		{audit, "Activity counters", shardKeyOf(ActivityStatsPK, shard), []string{TotalSK, daySK("<yyyymmdd>"),
			hourSK("<yyyymmddhh>"), dayRouteSK("<yyyymmdd>", "CAT#<category>"), dayRouteSK("<yyyymmdd>", "TYPE#<type>")}, nil},
		{audit, "Stream retry count", StreamRetryPK("<consumer>"), []string{"<sequence number>"}, nil},
	}
}

// activitySK is ActivitySK's shape.
var activitySK = timeSK("<yyyy-mm-ddThh:mm:ss.mmm>", "<order>#<activityId>")

// Audiences are the GSI1 partitions of the Connections table's subscriptions.
func Audiences() []string {
	return []string{UserAudience("<userId>"), SessionAudience("<sessionId>"), KeyAudience("<keyId>"), OpenedBy("<userId>")}
}

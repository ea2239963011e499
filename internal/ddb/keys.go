package ddb

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The key catalogue: every key and index value any package writes or queries is built here, so
// the on-disk formats live in one file (keys_test.go pins them byte for byte: existing items
// must stay readable) and docs/data-model.md's key tables are generated from Catalogue. Stores
// import these builders; this package imports no store.

// Fixed sort keys and partitions.
const (
	MetaSK     = "META"    // the one item of a session, template, API key, invitation, team, WS connection
	ProfileSK  = "PROFILE" // a user's record
	QuotaSK    = "QUOTA"   // a user's usage counters, a team's limits and headroom
	IdempSK    = "IDEMP"   // an idempotency record
	TotalSK    = "TOTAL"   // an all-time counter (API-key usage, activity)
	SchedulePK = "SCHED"   // GSI4: live sessions, by when each needs a look next
	GatewayPK  = "GWREC"   // GSI4: gateway recordings still to be made, by when each is due
)

// Prefixes that queries use in begins_with conditions and that readers strip or test.
const (
	SessionPrefix    = "SESSION#"
	MemberPrefix     = "MEMBER#"
	SharePrefix      = "SHARE#"
	ViewerConnPrefix = "CONN#" // a viewer connection under its session (Main)
	RecordingPrefix  = "REC#"
	InvitePrefix     = "INVITE#"
	HourPrefix       = "HOUR#"
	DayPrefix        = "DAY#"
	hourLayout       = "2006010215"
	dayLayout        = "20060102"
)

// Key is a primary key.
func Key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PK: &types.AttributeValueMemberS{Value: pk}, SK: &types.AttributeValueMemberS{Value: sk}}
}

// Main table: sessions and what hangs off them.

// SessionPK is the partition of a session: its META item, viewer connections, shares and recordings.
func SessionPK(sessionID string) string { return SessionPrefix + sessionID }

// SessionKey is a session's item.
func SessionKey(sessionID string) map[string]types.AttributeValue {
	return Key(SessionPK(sessionID), MetaSK)
}

// OwnerPK is GSI1's partition of one owner's sessions (sort key: the session id, a ULID).
func OwnerPK(ownerID string) string { return "OWNER#" + ownerID }

// TeamSessionsPK is GSI3's partition of a team's sessions (sort key: the session id).
func TeamSessionsPK(teamID string) string { return "TEAMSESSIONS#" + teamID }

// DueSK sorts GSI4 entries by when they fall due: "<RFC 3339, UTC>#<id>".
func DueSK(due time.Time, id string) string { return dueSK(due.UTC().Format(time.RFC3339), id) }

func dueSK(due, id string) string { return due + "#" + id }

// DueBound is the GSI4 sort key bound that includes everything due at or before t.
func DueBound(t time.Time) string { return dueSK(t.UTC().Format(time.RFC3339), "~") }

// ViewerConnSK is a viewer connection's sort key under its session.
func ViewerConnSK(connID string) string { return ViewerConnPrefix + connID }

// ShareSK is one user's share under a session.
func ShareSK(userID string) string { return SharePrefix + userID }

// ShareKey is one user's share of a session.
func ShareKey(sessionID, userID string) map[string]types.AttributeValue {
	return Key(SessionPK(sessionID), ShareSK(userID))
}

// SharedWithPK is GSI1's partition of the shares a user holds (sort key: the session id).
func SharedWithPK(userID string) string { return "SHAREDWITH#" + userID }

// RecordingSK is a recording's sort key under its session.
func RecordingSK(recordingID string) string { return RecordingPrefix + recordingID }

// RecordingKey is a recording's item.
func RecordingKey(sessionID, recordingID string) map[string]types.AttributeValue {
	return Key(SessionPK(sessionID), RecordingSK(recordingID))
}

// TypePK is GSI2's partition of every item of a kind (sort key: the item's id or name).
func TypePK(kind string) string { return "TYPE#" + kind }

// Kinds listed through GSI2.
const (
	KindSession  = "session"
	KindUser     = "user"
	KindTeam     = "team"
	KindTemplate = "template"
)

// Main table: users, templates, API keys, idempotency.

// UserPK is the partition of a user: PROFILE and QUOTA.
func UserPK(userID string) string { return "USER#" + userID }

// UserKey is a user's record.
func UserKey(userID string) map[string]types.AttributeValue { return Key(UserPK(userID), ProfileSK) }

// UserQuotaKey is a user's usage counters.
func UserQuotaKey(userID string) map[string]types.AttributeValue {
	return Key(UserPK(userID), QuotaSK)
}

// TemplatePK is a template's partition.
func TemplatePK(name string) string { return "TEMPLATE#" + name }

// TemplateKey is a template's item.
func TemplateKey(name string) map[string]types.AttributeValue { return Key(TemplatePK(name), MetaSK) }

// APIKeyPK is an API key's partition: the SHA-256 hex of the key, never the key.
func APIKeyPK(hash string) string { return "APIKEY#" + hash }

// APIKeyKey is an API key's item.
func APIKeyKey(hash string) map[string]types.AttributeValue { return Key(APIKeyPK(hash), MetaSK) }

// KeysPK is GSI1's partition of an owner's API keys (sort key: the key id).
func KeysPK(ownerID string) string { return "KEYS#" + ownerID }

// IdempotencyKey is the record of one Idempotency-Key of one user (keys cannot hold '#').
func IdempotencyKey(userID, key string) map[string]types.AttributeValue {
	return Key(idempotencyPK(userID, key), IdempSK)
}

func idempotencyPK(userID, key string) string { return "IDEMP#" + userID + "#" + key }

// Main table: teams and invitations.

// TeamPK is the partition of a team (its META, QUOTA and MEMBER# items).
func TeamPK(teamID string) string { return "TEAM#" + teamID }

// TeamKey is a team's item.
func TeamKey(teamID string) map[string]types.AttributeValue { return Key(TeamPK(teamID), MetaSK) }

// TeamQuotaKey is a team's limits and headroom.
func TeamQuotaKey(teamID string) map[string]types.AttributeValue {
	return Key(TeamPK(teamID), QuotaSK)
}

// MemberSK is one user's membership under a team.
func MemberSK(userID string) string { return MemberPrefix + userID }

// MemberKey is one user's membership of a team.
func MemberKey(teamID, userID string) map[string]types.AttributeValue {
	return Key(TeamPK(teamID), MemberSK(userID))
}

// MemberOfPK is GSI1's partition of a user's memberships (sort key: the team id).
func MemberOfPK(userID string) string { return "MEMBEROF#" + userID }

// InvitePK is an invitation's partition: the SHA-256 hex of its token.
func InvitePK(hash string) string { return InvitePrefix + hash }

// InviteKey is an invitation's item.
func InviteKey(hash string) map[string]types.AttributeValue { return Key(InvitePK(hash), MetaSK) }

// AcceptSK is one user's acceptance under an invitation.
func AcceptSK(userID string) string { return "ACCEPT#" + userID }

// InvitesPK is GSI1's partition of a session's invitations (sort key: the invitation id).
func InvitesPK(sessionID string) string { return "INVITES#" + sessionID }

// Connections table: WebSocket connections, one META and one SUB#<audience> per audience.

// ConnPK is a WebSocket connection's partition.
func ConnPK(connID string) string { return "CONN#" + connID }

// ConnKey is a WebSocket connection's item.
func ConnKey(connID string) map[string]types.AttributeValue { return Key(ConnPK(connID), MetaSK) }

// SubSK is a connection's subscription to one audience (GSI1: the audience / ConnPK).
func SubSK(audience string) string { return "SUB#" + audience }

// Audiences (GSI1 partitions of the Connections table).
func UserAudience(userID string) string       { return UserPK(userID) }
func SessionAudience(sessionID string) string { return SessionPK(sessionID) }

// KeyAudience indexes the connections opened with an API key.
func KeyAudience(keyID string) string { return "KEY#" + keyID }

// OpenedBy indexes a user's own connections, whatever they listen to.
func OpenedBy(userID string) string { return "BY#" + userID }

// Audit table: API-key usage, activity, stream retry counts.

// KeyStatsPK is the partition of an API key's counters.
func KeyStatsPK(keyID string) string { return "KEYSTATS#" + keyID }

// HourSK is an hourly counter's sort key (UTC hour).
func HourSK(hour time.Time) string { return hourSK(hour.UTC().Format(hourLayout)) }

func hourSK(hour string) string { return HourPrefix + hour }

// HourOf parses HourSK back; ok is false for another sort key.
func HourOf(sk string) (time.Time, bool) {
	if len(sk) != len(HourPrefix)+len(hourLayout) || sk[:len(HourPrefix)] != HourPrefix {
		return time.Time{}, false
	}
	t, err := time.Parse(hourLayout, sk[len(HourPrefix):])
	return t, err == nil
}

// HourMax sorts after every HourSK.
const HourMax = HourPrefix + "~"

// DaySK is the start of a day's counters: DAY#<yyyymmdd>, then "#" and what is counted.
func DaySK(day time.Time) string { return daySK(day.UTC().Format(dayLayout)) }

func daySK(day string) string { return DayPrefix + day }

// DayOf parses DaySK back (a day's own item, not one of its "#…" keys); ok is false otherwise.
func DayOf(sk string) (time.Time, bool) {
	if len(sk) != len(DayPrefix)+len(dayLayout) || sk[:len(DayPrefix)] != DayPrefix {
		return time.Time{}, false
	}
	t, err := time.Parse(dayLayout, sk[len(DayPrefix):])
	return t, err == nil
}

// DayRouteSK is a day's request count of one route (before hourly route counts; still read).
func DayRouteSK(day time.Time, route string) string {
	return dayRouteSK(day.UTC().Format(dayLayout), route)
}

func dayRouteSK(day, route string) string { return daySK(day) + "#" + route }

// DayEnd sorts after every key of the day (DAY#<d>#~).
func DayEnd(day time.Time) string { return DaySK(day) + "#~" }

// KeyLogPK is the partition of an API key's usage records (sort key: "<RFC 3339>#<requestId>").
func KeyLogPK(keyID string) string { return "KEYLOG#" + keyID }

// KeyLogSK orders an API key's usage records by time.
func KeyLogSK(t time.Time, requestID string) string {
	return timeSK(t.UTC().Format(time.RFC3339Nano), requestID)
}

func timeSK(t, rest string) string { return t + "#" + rest }

// ActivitySK orders activity entries by time (milliseconds), then by commit order (order: the
// stream record's sequence or the client post's clock, so a redelivered record maps to the same key).
func ActivitySK(t time.Time, order, id string) string {
	return timeSK(t.UTC().Format(activityLayout), order+"#"+id)
}

// ActivitySecond is an ActivitySK bound to the second (since/until conditions).
func ActivitySecond(t time.Time) string {
	return t.UTC().Format(activityLayout[:len(activityLayout)-4])
}

const activityLayout = "2006-01-02T15:04:05.000"

// ActivitySessionPK is the partition of a session's activity entries.
func ActivitySessionPK(sessionID string) string { return "ACT#SESSION#" + sessionID }

// ActivityUserPK is GSI1's partition of a user's activity entries (same sort key as the entry).
func ActivityUserPK(actorID string) string { return "ACT#USER#" + actorID }

// DayCategorySK and DayTypeSK are a day's activity counters of a category and of an event type.
func DayCategorySK(day time.Time, category string) string {
	return dayRouteSK(day.UTC().Format(dayLayout), "CAT#"+category)
}
func DayTypeSK(day time.Time, eventType string) string {
	return dayRouteSK(day.UTC().Format(dayLayout), "TYPE#"+eventType)
}

// ActivityStatsPK is the partition of the activity counters.
const ActivityStatsPK = "ACTSTATS"

// StreamRetryPK is the partition of a stream consumer's failure counts (sort key: the record's
// sequence number).
func StreamRetryPK(consumer string) string { return "STREAMRETRY#" + consumer }

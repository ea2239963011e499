package ddb

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The stored key formats, byte for byte. Items already written carry these keys: changing a
// builder's output would strand them, so a change here is a data migration, not a refactor.
func TestKeyFormatsArePinned(t *testing.T) {
	at := time.Date(2024, 3, 9, 7, 5, 4, 321_000_000, time.FixedZone("CET", 3600))
	for _, c := range []struct{ got, want string }{
		{SessionPK("sess_1"), "SESSION#sess_1"},
		{OwnerPK("u1"), "OWNER#u1"},
		{TeamSessionsPK("t1"), "TEAMSESSIONS#t1"},
		{TypePK(KindSession), "TYPE#session"},
		{TypePK(KindUser), "TYPE#user"},
		{TypePK(KindTeam), "TYPE#team"},
		{TypePK(KindTemplate), "TYPE#template"},
		{DueSK(at, "sess_1"), "2024-03-09T06:05:04Z#sess_1"},
		{DueBound(at), "2024-03-09T06:05:04Z#~"},
		{SchedulePK, "SCHED"},
		{GatewayPK, "GWREC"},
		{ViewerConnSK("conn_1"), "CONN#conn_1"},
		{ShareSK("u2"), "SHARE#u2"},
		{SharedWithPK("u2"), "SHAREDWITH#u2"},
		{RecordingSK("rec_1"), "REC#rec_1"},
		{UserPK("u1"), "USER#u1"},
		{ProfileSK, "PROFILE"},
		{QuotaSK, "QUOTA"},
		{TemplatePK("firefox"), "TEMPLATE#firefox"},
		{MetaSK, "META"},
		{APIKeyPK("ab12"), "APIKEY#ab12"},
		{KeysPK("u1"), "KEYS#u1"},
		{idempotencyPK("u1", "k-1"), "IDEMP#u1#k-1"},
		{IdempSK, "IDEMP"},
		{TeamPK("t1"), "TEAM#t1"},
		{MemberSK("u1"), "MEMBER#u1"},
		{MemberOfPK("u1"), "MEMBEROF#u1"},
		{InvitePK("ff00"), "INVITE#ff00"},
		{AcceptSK("u1"), "ACCEPT#u1"},
		{InvitesPK("sess_1"), "INVITES#sess_1"},
		{ConnPK("Abc="), "CONN#Abc="},
		{SubSK("USER#u1"), "SUB#USER#u1"},
		{UserAudience("u1"), "USER#u1"},
		{SessionAudience("sess_1"), "SESSION#sess_1"},
		{KeyAudience("key_1"), "KEY#key_1"},
		{OpenedBy("u1"), "BY#u1"},
		{KeyStatsPK("key_1"), "KEYSTATS#key_1"},
		{HourSK(at), "HOUR#2024030906"},
		{HourMax, "HOUR#~"},
		{TotalSK, "TOTAL"},
		{DaySK(at), "DAY#20240309"},
		{DayRouteSK(at, "GET /api/v1/sessions"), "DAY#20240309#GET /api/v1/sessions"},
		{DayEnd(at), "DAY#20240309#~"},
		{KeyLogPK("key_1"), "KEYLOG#key_1"},
		{KeyLogSK(at, "req-1"), "2024-03-09T06:05:04.321Z#req-1"},
		{ActivitySessionPK("sess_1"), "ACT#SESSION#sess_1"},
		{ActivityUserPK("u1"), "ACT#USER#u1"},
		{ActivitySK(at, "S0001#0", "act_1"), "2024-03-09T06:05:04.321#S0001#0#act_1"},
		{ActivitySecond(at), "2024-03-09T06:05:04"},
		{ActivityStatsPK, "ACTSTATS"},
		{DayCategorySK(at, "lifecycle"), "DAY#20240309#CAT#lifecycle"},
		{DayTypeSK(at, "session.created"), "DAY#20240309#TYPE#session.created"},
		{StreamRetryPK("notifier"), "STREAMRETRY#notifier"},
		// Shards: the hash and the count decide where an item's index entry lives.
		{TypeShardPK(KindSession, "sess_1"), "TYPE#session#15"},
		{TypeShardPK(KindUser, "alice"), "TYPE#user#07"},
		{ScheduleShardPK("sess_1"), "SCHED#15"},
		{ActivityStatsShardPK("sess_1"), "ACTSTATS#15"},
		{strings.Join(TypeShardPKs(KindUser)[14:], ","), "TYPE#user#14,TYPE#user#15,TYPE#user"},
		{strings.Join(SchedulePKs()[:1], ","), "SCHED#00"},
		{strings.Join(ActivityStatsPKs()[Shards:], ","), "ACTSTATS"},
	} {
		if c.got != c.want {
			t.Errorf("key format changed: %q, stored items have %q", c.got, c.want)
		}
	}
	if h, ok := HourOf("HOUR#2024030906"); !ok || !h.Equal(time.Date(2024, 3, 9, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("HourOf = %v, %v", h, ok)
	}
	for _, bad := range []string{"TOTAL", "HOUR#", "HOUR#20240309", "DAY#2024030906"} {
		if _, ok := HourOf(bad); ok {
			t.Errorf("HourOf(%q) accepted", bad)
		}
	}
}

func TestKeyMapsUseTheBuilders(t *testing.T) {
	for _, c := range []struct {
		key    map[string]types.AttributeValue
		pk, sk string
	}{
		{SessionKey("s"), "SESSION#s", "META"},
		{ShareKey("s", "u"), "SESSION#s", "SHARE#u"},
		{RecordingKey("s", "r"), "SESSION#s", "REC#r"},
		{UserKey("u"), "USER#u", "PROFILE"},
		{UserQuotaKey("u"), "USER#u", "QUOTA"},
		{TemplateKey("n"), "TEMPLATE#n", "META"},
		{APIKeyKey("h"), "APIKEY#h", "META"},
		{IdempotencyKey("u", "k"), "IDEMP#u#k", "IDEMP"},
		{TeamKey("t"), "TEAM#t", "META"},
		{TeamQuotaKey("t"), "TEAM#t", "QUOTA"},
		{MemberKey("t", "u"), "TEAM#t", "MEMBER#u"},
		{InviteKey("h"), "INVITE#h", "META"},
		{ConnKey("c"), "CONN#c", "META"},
	} {
		pk, _ := c.key[PK].(*types.AttributeValueMemberS)
		sk, _ := c.key[SK].(*types.AttributeValueMemberS)
		if len(c.key) != 2 || pk == nil || sk == nil || pk.Value != c.pk || sk.Value != c.sk {
			t.Errorf("key %v, want %s / %s", c.key, c.pk, c.sk)
		}
	}
}

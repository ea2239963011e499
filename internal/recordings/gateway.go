// What the streaming gateway keeps on the recordings it makes: the work index, the lease and the
// upload's progress, each written with a targeted, conditional update.

package recordings

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
)

// Gateway recordings still to be made (recording or stopping) are in GSI4's ddb.GatewayPK
// partition, sorted by when each needs a gateway: a new one at once, a held one when its lease
// expires. GSI4 is the index of work that falls due (the scheduler's partition is the other);
// the item leaves it when the recording ends.

// Upload is how far the gateway got with a recording's object. It is written under the lease
// after each part and checkpoint, so a task that takes the recording over continues it.
type Upload struct {
	ID string `dynamodbav:"id"`
	// Origin is the wall-clock time of offset 0 of the recording's timeline.
	Origin time.Time `dynamodbav:"origin"`
	Parts  []Part    `dynamodbav:"parts"`
	// Size is the bytes in Parts; Hash the SHA-256 state after them (encoding.BinaryMarshaler
	// of crypto/sha256), so the checksum of the whole object needs no second read.
	Size int64  `dynamodbav:"size"`
	Hash []byte `dynamodbav:"hash,omitempty"`
	// Tail is the checkpoint of what is not in a part yet: an object at TailKey of TailSize
	// bytes with TailSHA256, valid only with exactly these Parts.
	TailSize   int64  `dynamodbav:"tailSize,omitempty"`
	TailSHA256 string `dynamodbav:"tailSha256,omitempty"`
	// LastOffset is the recording's last offset in milliseconds at the checkpoint.
	LastOffset uint32 `dynamodbav:"lastOffset,omitempty"`
	// Segments counts the RFB connections recorded so far (0: the header is still to write).
	Segments int `dynamodbav:"segments,omitempty"`
}

// TailKey is where the checkpoint of a recording's not-yet-uploaded tail lives.
func TailKey(storageKey string) string { return storageKey + ".tail" }

// Lease names one holding of a recording's lease: the gateway task, and which acquisition.
type Lease struct {
	Owner string
	Gen   int
}

// ErrLeaseLost says the recording is no longer this lease's: another task took it over, it
// ended, or it was deleted. The holder must stop touching it.
var ErrLeaseLost = errors.New("recordings: the lease was lost")

func (r Recording) due() time.Time {
	if r.LeaseUntil > 0 {
		return time.Unix(r.LeaseUntil, 0)
	}
	return r.CreatedAt
}

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func nv(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func active() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{":recording": sv(StatusRecording), ":stopping": sv(StatusStopping)}
}

// Due lists up to limit gateway recordings that need a gateway at now: never leased, or whose
// lease expired. The index is eventually consistent; Acquire decides.
func (st *Store) Due(ctx context.Context, now time.Time, limit int) ([]Recording, error) {
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI4),
		KeyConditionExpression:    aws.String("GSI4PK = :p AND GSI4SK <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": sv(ddb.GatewayPK), ":now": sv(ddb.DueBound(now))},
		Limit:                     aws.Int32(int32(limit))})
	if err != nil {
		return nil, fmt.Errorf("due recordings: %w", err)
	}
	recs := make([]Recording, 0, len(out.Items))
	for _, item := range out.Items {
		r, err := unmarshal(item)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// Acquire takes a recording's lease for owner until until, if nobody holds it or its holder's
// lease expired before now; the answer is the recording as it is now, with the new generation.
func (st *Store) Acquire(ctx context.Context, sessionID, id, owner string, now, until time.Time) (Recording, error) {
	vals := active()
	vals[":me"], vals[":until"], vals[":now"], vals[":gw"] = sv(owner), nv(until.Unix()), nv(now.Unix()), sv(SourceGateway)
	vals[":zero"], vals[":one"], vals[":due"] = nv(0), nv(1), sv(ddb.DueSK(until, id))
	out, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: key(sessionID, id),
		UpdateExpression: aws.String("SET recorder = :me, leaseUntil = :until, leaseGen = if_not_exists(leaseGen, :zero) + :one, GSI4SK = :due"),
		ConditionExpression: aws.String("#src = :gw AND #st IN (:recording, :stopping) AND " +
			"(attribute_not_exists(recorder) OR attribute_not_exists(leaseUntil) OR leaseUntil < :now)"),
		ExpressionAttributeNames:  map[string]string{"#st": "status", "#src": "source"},
		ExpressionAttributeValues: vals, ReturnValues: types.ReturnValueAllNew})
	if ddb.ConditionFailed(err) {
		return Recording{}, ErrLeaseLost
	}
	if err != nil {
		return Recording{}, fmt.Errorf("acquire recording: %w", err)
	}
	return unmarshal(out.Attributes)
}

func leaseCond(l Lease, vals map[string]types.AttributeValue) string {
	vals[":me"], vals[":gen"] = sv(l.Owner), nv(int64(l.Gen))
	return "recorder = :me AND leaseGen = :gen AND #st IN (:recording, :stopping)"
}

// Renew extends a held lease to until (a stopping recording's too: the gateway is finishing it).
func (st *Store) Renew(ctx context.Context, sessionID, id string, l Lease, until time.Time) error {
	vals := active()
	cond := leaseCond(l, vals)
	vals[":until"], vals[":due"] = nv(until.Unix()), sv(ddb.DueSK(until, id))
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: key(sessionID, id),
		UpdateExpression: aws.String("SET leaseUntil = :until, GSI4SK = :due"), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#st": "status"}, ExpressionAttributeValues: vals})
	return leaseErr(err, "renew")
}

// SaveUpload records the upload's progress under the lease.
func (st *Store) SaveUpload(ctx context.Context, sessionID, id string, l Lease, up Upload) error {
	av, err := attributevalue.Marshal(up)
	if err != nil {
		return err
	}
	vals := active()
	cond := leaseCond(l, vals)
	vals[":up"] = av
	_, err = st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: key(sessionID, id),
		UpdateExpression: aws.String("SET upload = :up"), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#st": "status"}, ExpressionAttributeValues: vals})
	return leaseErr(err, "save upload")
}

// Release gives a held lease back at once (a gateway task stopping), with the upload's last
// checkpoint, so another task continues the recording without waiting for the lease to expire.
func (st *Store) Release(ctx context.Context, sessionID, id string, l Lease, up Upload, now time.Time) error {
	av, err := attributevalue.Marshal(up)
	if err != nil {
		return err
	}
	vals := active()
	cond := leaseCond(l, vals)
	vals[":up"], vals[":due"] = av, sv(ddb.DueSK(now, id))
	_, err = st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: key(sessionID, id),
		UpdateExpression: aws.String("SET upload = :up, GSI4SK = :due REMOVE recorder, leaseUntil"), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#st": "status"}, ExpressionAttributeValues: vals})
	return leaseErr(err, "release")
}

// Outcome is what the gateway measured of a finished recording.
type Outcome struct {
	Status    string // completed or failed
	EndedAt   time.Time
	Duration  time.Duration
	SizeBytes int64
	SHA256    string
	Reason    string
}

// Finish ends a recording under the lease with its outcome (a new version; the recording leaves
// the gateway's index). next, when not nil, is a recording that continues this one (a template's
// recording that reached a cap), created in the same transaction.
func (st *Store) Finish(ctx context.Context, sessionID, id string, l Lease, o Outcome, now time.Time, next *Recording) error {
	vals := active()
	cond := leaseCond(l, vals)
	vals[":status"], vals[":ended"], vals[":dur"] = sv(o.Status), sv(o.EndedAt.UTC().Format(time.RFC3339Nano)), nv(int64(o.Duration.Seconds()+0.5))
	vals[":size"], vals[":reason"], vals[":now"], vals[":one"] = nv(o.SizeBytes), sv(o.Reason), sv(now.UTC().Format(time.RFC3339Nano)), nv(1)
	expr := "SET #st = :status, endedAt = :ended, durationSeconds = :dur, sizeBytes = :size, endReason = :reason, updatedAt = :now, " +
		"#ver = if_not_exists(#ver, :one) + :one"
	if o.SHA256 != "" {
		expr += ", sha256 = :sha"
		vals[":sha"] = sv(o.SHA256)
	}
	upd := &types.Update{TableName: &st.Table, Key: key(sessionID, id),
		UpdateExpression:          aws.String(expr + " REMOVE GSI4PK, GSI4SK, recorder, leaseUntil, upload"),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#st": "status", "#ver": ddb.VersionAttr},
		ExpressionAttributeValues: vals}
	if next == nil {
		_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: upd.TableName, Key: upd.Key, UpdateExpression: upd.UpdateExpression,
			ConditionExpression: upd.ConditionExpression, ExpressionAttributeNames: upd.ExpressionAttributeNames,
			ExpressionAttributeValues: upd.ExpressionAttributeValues})
		return leaseErr(err, "finish")
	}
	item, err := st.item(*next)
	if err != nil {
		return err
	}
	_, err = st.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Update: upd},
		{Put: &types.Put{TableName: &st.Table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}}}})
	if r := ddb.CancelReasons(err); len(r) > 0 && r[0] {
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("finish recording: %w", err)
	}
	return nil
}

func leaseErr(err error, what string) error {
	if ddb.ConditionFailed(err) {
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("%s recording: %w", what, err)
	}
	return nil
}

// Stop asks the gateway to end a gateway recording (recording → stopping), conditional on the
// version read; the gateway completes it within seconds.
func (st *Store) Stop(ctx context.Context, r Recording, version int, now time.Time) error {
	cond, names, vals := ddb.VersionCondition(version)
	names["#st"] = "status"
	vals[":recording"], vals[":stopping"], vals[":now"], vals[":next"] = sv(StatusRecording), sv(StatusStopping),
		sv(now.UTC().Format(time.RFC3339Nano)), nv(int64(version+1))
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: key(r.SessionID, r.ID),
		UpdateExpression:    aws.String("SET #st = :stopping, updatedAt = :now, #ver = :next"),
		ConditionExpression: aws.String("attribute_exists(PK) AND #st = :recording AND " + cond), ExpressionAttributeNames: names,
		ExpressionAttributeValues: vals})
	if ddb.ConditionFailed(err) {
		return ddb.ErrVersionConflict // or no longer recording: the next read says so
	}
	return err
}

// Held reads the recordings a gateway holds, with consistent reads, in one batch per 100
// (missing ones were deleted).
func (st *Store) Held(ctx context.Context, keys [][2]string) (map[string]Recording, error) {
	ks := make([]map[string]types.AttributeValue, 0, len(keys))
	for _, k := range keys {
		ks = append(ks, key(k[0], k[1]))
	}
	items, err := ddb.BatchGet(ctx, st.DB, st.Table, ks, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Recording, len(items))
	for _, item := range items {
		r, err := unmarshal(item)
		if err != nil {
			return nil, err
		}
		out[r.ID] = r
	}
	return out, nil
}

// Policy starts the recordings templates ask for (sessions.PolicyRecorder).
type Policy struct {
	Store *Store
	// MaxRetentionDays is the bucket's object lifetime: a policy recording is kept
	// DefaultRetentionDays, or less when the bucket keeps objects for less.
	MaxRetentionDays int
}

// PolicyCreator is the createdBy of recordings a template asked for.
const PolicyCreator = "system:template"

// PolicyItem is the write that starts a template's recording of a session that begins to run,
// for the session's own transaction.
func (p Policy) PolicyItem(sessionID string, now time.Time) (types.TransactWriteItem, error) {
	days := DefaultRetentionDays
	if p.MaxRetentionDays > 0 {
		days = min(days, p.MaxRetentionDays)
	}
	st := p.Store
	r := NewGateway(sessionID, PolicyCreator, PolicyTemplate, days, now)
	item, err := st.item(r)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: &st.Table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}}, nil
}

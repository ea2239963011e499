// Package recordings keeps the metadata of session recordings and hands out presigned URLs
// to upload and download their content (S3 in AWS, a signed local store on a laptop). A
// recording's content comes from the client (it uploads what it recorded) or from the streaming
// gateway, which records the desktop itself (docs/recordings.md).
package recordings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/rfb"
)

// Statuses. A gateway recording passes through stopping: asked to stop, the gateway finishes
// the object and then completes it (with its size and checksum) or fails it.
const (
	StatusRecording = "recording"
	StatusStopping  = "stopping"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Sources of a recording's content.
const (
	// SourceClient: the client records and uploads through the presigned URL (items written
	// before sources existed are client recordings).
	SourceClient = "client"
	// SourceGateway: the streaming gateway records the desktop's picture itself, out of reach of
	// the session's users.
	SourceGateway = "gateway"
)

// PolicyTemplate marks a recording started because the session's template records every
// session (recordSessions): only operators and admins may stop or delete it.
const PolicyTemplate = "template"

// What the gateway records: a screen recording in the RFB recording format.
const (
	GatewayType   = "video"
	GatewayFormat = "rfb"
)

// Accepted kinds of recordings and their formats (content types).
var (
	Types   = []string{"video", "audio", "screenshot", "log"}
	Formats = map[string]string{"webm": "video/webm", "mp4": "video/mp4", "ogg": "audio/ogg", "png": "image/png",
		"jpeg": "image/jpeg", "json": "application/json", "txt": "text/plain", GatewayFormat: rfb.RecordingContentType}
	Sources = []string{SourceClient, SourceGateway}
)

// Recording is one recording's metadata.
type Recording struct {
	ID              string     `json:"id" dynamodbav:"id"`
	SessionID       string     `json:"sessionId" dynamodbav:"sessionId"`
	Type            string     `json:"type" dynamodbav:"type"`
	Format          string     `json:"format" dynamodbav:"format"`
	Status          string     `json:"status" dynamodbav:"status"`
	StartedAt       time.Time  `json:"startedAt" dynamodbav:"startedAt"`
	EndedAt         *time.Time `json:"endedAt,omitempty" dynamodbav:"endedAt,omitempty"`
	DurationSeconds int        `json:"durationSeconds,omitempty" dynamodbav:"durationSeconds,omitempty"`
	SizeBytes       int64      `json:"sizeBytes,omitempty" dynamodbav:"sizeBytes,omitempty"`
	SHA256          string     `json:"sha256,omitempty" dynamodbav:"sha256,omitempty"`
	StorageKey      string     `json:"storageKey" dynamodbav:"storageKey"`
	RetentionDays   int        `json:"retentionDays" dynamodbav:"retentionDays"`
	ExpiresAt       time.Time  `json:"expiresAt" dynamodbav:"retainUntil"`
	Expiry          int64      `json:"-" dynamodbav:"expiresAt"` // TTL: the record goes with its retention
	CreatedBy       string     `json:"createdBy" dynamodbav:"createdBy"`
	CreatedAt       time.Time  `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt" dynamodbav:"updatedAt"`
	// Version counts changes (optimistic lock; ETag); records from before versions count as 1.
	Version int `json:"version" dynamodbav:"version,omitempty"`
	// Source says who records the content: client or gateway.
	Source string `json:"source" dynamodbav:"source,omitempty"`
	// Policy is "template" when the session's template asked for the recording.
	Policy string `json:"policy,omitempty" dynamodbav:"policy,omitempty"`
	// EndReason says why a gateway recording ended (stopped, the session stopped running, a cap).
	EndReason string `json:"endReason,omitempty" dynamodbav:"endReason,omitempty"`

	// The recording gateway's bookkeeping (never shown): the task holding the lease, until when,
	// which acquisition of the lease this is, and how far the upload got.
	Recorder   string  `json:"-" dynamodbav:"recorder,omitempty"`
	LeaseUntil int64   `json:"-" dynamodbav:"leaseUntil,omitempty"`
	LeaseGen   int     `json:"-" dynamodbav:"leaseGen,omitempty"`
	Upload     *Upload `json:"-" dynamodbav:"upload,omitempty"`
}

// ContentType of the recording's object.
func (r Recording) ContentType() string { return Formats[r.Format] }

// Active reports whether the recording may still change (recording, or stopping).
func (r Recording) Active() bool { return r.Status == StatusRecording || r.Status == StatusStopping }

// Validate checks a new client recording's kind and format.
func Validate(typ, format string) error {
	if !slices.Contains(Types, typ) {
		return problem.Invalid("type", fmt.Sprintf("must be one of %v", Types))
	}
	if format == GatewayFormat {
		return problem.Invalid("format", "rfb is what the gateway records: ask for source gateway")
	}
	if _, ok := Formats[format]; !ok {
		return problem.Invalid("format", "must be webm, mp4, ogg, png, jpeg, json or txt")
	}
	return nil
}

// NewGateway is a new recording the gateway is to make of a running session.
func NewGateway(sessionID, createdBy, policy string, retentionDays int, now time.Time) Recording {
	r := newRecording(sessionID, GatewayType, GatewayFormat, createdBy, retentionDays, now)
	r.Source, r.Policy = SourceGateway, policy
	return r
}

func newRecording(sessionID, typ, format, createdBy string, days int, now time.Time) Recording {
	id := ids.New("rec")
	r := Recording{ID: id, SessionID: sessionID, Type: typ, Format: format, Status: StatusRecording, StartedAt: now,
		StorageKey: "recordings/" + sessionID + "/" + id + "." + format, RetentionDays: days, ExpiresAt: now.AddDate(0, 0, days),
		CreatedBy: createdBy, CreatedAt: now, UpdatedAt: now, Version: 1, Source: SourceClient}
	r.Expiry = r.ExpiresAt.Unix()
	return r
}

// normalize fills what items written before a field existed lack.
func (r *Recording) normalize() {
	r.Version = ddb.Version(r.Version)
	if r.Source == "" {
		r.Source = SourceClient
	}
}

// Store keeps recordings in their session's partition: SESSION#<id> / REC#<recordingId>.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

func key(sessionID, id string) map[string]types.AttributeValue {
	return ddb.RecordingKey(sessionID, id)
}

// ErrNotFound is returned for unknown recordings.
var ErrNotFound = problem.NotFound("recording")

// Create writes a new recording, with the Idempotency-Key claim when there is one; a non-nil
// record means the key already created one (replay it).
func (st *Store) Create(ctx context.Context, r Recording, idem *idempotency.Claim) (*idempotency.Record, error) {
	item, err := st.item(r)
	if err != nil {
		return nil, err
	}
	return idempotency.PutOne(ctx, st.DB, st.Table, idem,
		&types.Put{TableName: &st.Table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")})
}

func (st *Store) item(r Recording) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return nil, err
	}
	for k, v := range key(r.SessionID, r.ID) {
		item[k] = v
	}
	item["entity"] = &types.AttributeValueMemberS{Value: "recording"}
	if r.Source == SourceGateway && r.Active() {
		// Sparse: only gateway recordings still to be made are in the gateway's work index.
		item[ddb.GSI4PK] = &types.AttributeValueMemberS{Value: ddb.GatewayPK}
		item[ddb.GSI4SK] = &types.AttributeValueMemberS{Value: ddb.DueSK(r.due(), r.ID)}
	}
	return item, nil
}

// Get reads one recording.
func (st *Store) Get(ctx context.Context, sessionID, id string) (Recording, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: key(sessionID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Recording{}, fmt.Errorf("get recording: %w", err)
	}
	if out.Item == nil {
		return Recording{}, ErrNotFound
	}
	return unmarshal(out.Item)
}

func unmarshal(item map[string]types.AttributeValue) (Recording, error) {
	var r Recording
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return Recording{}, fmt.Errorf("decode recording: %w", err)
	}
	r.normalize()
	return r, nil
}

// Update writes r over the recording read at version (r.Version must be version+1), conditional
// on that version: a concurrent change is ddb.ErrVersionConflict, and the caller reads again.
//
// Only client recordings are written whole: a gateway recording's item also holds the gateway's
// lease and upload, which change without a new version, so it changes through Stop and the
// gateway's own targeted writes (gateway.go).
func (st *Store) Update(ctx context.Context, r Recording, version int) error {
	if r.Source == SourceGateway {
		return errors.New("recordings: a gateway recording is not written whole")
	}
	item, err := st.item(r)
	if err != nil {
		return err
	}
	cond, names, vals := ddb.VersionCondition(version)
	_, err = st.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.Table, Item: item,
		ConditionExpression: aws.String("attribute_exists(PK) AND " + cond), ExpressionAttributeNames: names, ExpressionAttributeValues: vals})
	if ddb.ConditionFailed(err) {
		return ddb.ErrVersionConflict // or deleted: the next read says 404
	}
	return err
}

// List is one page of a session's recordings, oldest first (ids are ULIDs): a Query of the
// session's partition with Limit.
func (st *Store) List(ctx context.Context, sessionID string, limit int, cursor string) ([]Recording, string, error) {
	pk := ddb.SessionPK(sessionID)
	start, err := ddb.DecodeCursorIn(cursor, map[string]string{ddb.PK: pk}, ddb.SK, ddb.RecordingPrefix, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	res, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :r)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk},
			":r": &types.AttributeValueMemberS{Value: ddb.RecordingPrefix}},
		Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start})
	if err != nil {
		return nil, "", fmt.Errorf("list recordings: %w", err)
	}
	out := []Recording{}
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &out); err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].normalize()
	}
	return out, ddb.EncodeCursor(res.LastEvaluatedKey), nil
}

// Count is how many recordings the session has (one COUNT query of its partition).
func (st *Store) Count(ctx context.Context, sessionID string) (int, error) {
	var total int
	var start map[string]types.AttributeValue
	for {
		res, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, Select: types.SelectCount,
			KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :r)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: ddb.SessionPK(sessionID)},
				":r": &types.AttributeValueMemberS{Value: ddb.RecordingPrefix}}, ExclusiveStartKey: start})
		if err != nil {
			return 0, fmt.Errorf("count recordings: %w", err)
		}
		total += int(res.Count)
		if start = res.LastEvaluatedKey; len(start) == 0 {
			return total, nil
		}
	}
}

// Delete removes a recording's metadata.
func (st *Store) Delete(ctx context.Context, sessionID, id string) error {
	_, err := st.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.Table, Key: key(sessionID, id),
		ConditionExpression: aws.String("attribute_exists(PK)")})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return ErrNotFound
	}
	return err
}

// Objects stores recording content: behind presigned URLs for clients, and written from the
// server side by the gateway (Writer).
type Objects interface {
	// UploadForm presigns a browser-style POST upload of at most maxBytes (a POST policy with
	// content-length-range in S3; the same bound, signed, locally).
	UploadForm(ctx context.Context, key, contentType string, maxBytes int64, ttl time.Duration) (Form, error)
	DownloadURL(ctx context.Context, key string, ttl time.Duration) (string, error)
	// Size is the stored object's size (ErrNoObject when nothing was uploaded).
	Size(ctx context.Context, key string) (int64, error)
	// Seal ends the key's upload forms before they expire: locally every later upload is
	// refused; S3 cannot revoke a presigned POST (a no-op: the form's short life is the bound).
	Seal(ctx context.Context, key string) error
	Delete(ctx context.Context, key string) error
	Writer
}

// Form is a presigned upload: POST multipart/form-data to URL with Fields, then the content as
// the last part, named "file".
type Form struct {
	URL    string
	Fields map[string]string
}

// MaxUploadBytes bounds one client upload (SEC-16); MaxPerSession the recordings a session may
// have at once (completed ones included, until deleted or expired).
const (
	MaxUploadBytes = 512 << 20
	MaxPerSession  = 100
)

// Writer is how the gateway writes a recording it makes, without holding it in memory: a
// multipart upload (S3's rules: parts of at least MinPartSize except the last, numbers 1 to
// 10000, assembled in the order given at completion; parts not named there are dropped), plus
// whole small objects for the tail not yet in a part (checkpoints a task that takes over the
// recording reads back).
type Writer interface {
	CreateUpload(ctx context.Context, key, contentType string) (uploadID string, err error)
	UploadPart(ctx context.Context, key, uploadID string, n int32, body []byte) (etag string, err error)
	CompleteUpload(ctx context.Context, key, uploadID string, parts []Part) error
	AbortUpload(ctx context.Context, key, uploadID string) error
	Put(ctx context.Context, key, contentType string, body []byte) error
	// Get reads a whole object of at most max bytes (ErrNoObject when there is none).
	Get(ctx context.Context, key string, max int64) ([]byte, error)
}

// MinPartSize is S3's smallest part but the last.
const MinPartSize = 5 << 20

// ErrNoObject is Get's answer for a key that holds nothing.
var ErrNoObject = errors.New("recordings: no such object")

// ErrNoUpload is UploadPart's or CompleteUpload's answer for an upload that no longer exists
// (completed, aborted, or expired by the bucket's lifecycle rule).
var ErrNoUpload = errors.New("recordings: no such upload")

// Part is one uploaded part of a recording's object.
type Part struct {
	N    int32  `dynamodbav:"n"`
	ETag string `dynamodbav:"etag"`
	Size int64  `dynamodbav:"size"`
}

// Package recordings keeps the metadata of session recordings and hands out presigned URLs
// to upload and download their content (S3 in AWS, a signed local store on a laptop).
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
	"streamspace/internal/problem"
)

// Statuses.
const (
	StatusRecording = "recording"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Accepted kinds of recordings and their formats (content types).
var (
	Types   = []string{"video", "audio", "screenshot", "log"}
	Formats = map[string]string{"webm": "video/webm", "mp4": "video/mp4", "ogg": "audio/ogg", "png": "image/png",
		"jpeg": "image/jpeg", "json": "application/json", "txt": "text/plain"}
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
}

// ContentType of the recording's object.
func (r Recording) ContentType() string { return Formats[r.Format] }

// Validate checks a new recording's kind and format.
func Validate(typ, format string) error {
	if !slices.Contains(Types, typ) {
		return problem.Invalid("type", fmt.Sprintf("must be one of %v", Types))
	}
	if _, ok := Formats[format]; !ok {
		return problem.Invalid("format", "must be webm, mp4, ogg, png, jpeg, json or txt")
	}
	return nil
}

// Store keeps recordings in their session's partition: SESSION#<id> / REC#<recordingId>.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

func key(sessionID, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{ddb.PK: &types.AttributeValueMemberS{Value: "SESSION#" + sessionID},
		ddb.SK: &types.AttributeValueMemberS{Value: "REC#" + id}}
}

// ErrNotFound is returned for unknown recordings.
var ErrNotFound = problem.NotFound("recording")

// Put writes a recording; version is the updatedAt it must still have ("" = must not exist).
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
	var r Recording
	err = attributevalue.UnmarshalMap(out.Item, &r)
	r.Version = ddb.Version(r.Version)
	return r, err
}

// Update writes r over the recording read at version (r.Version must be version+1), conditional
// on that version: a concurrent change is ddb.ErrVersionConflict, and the caller reads again.
func (st *Store) Update(ctx context.Context, r Recording, version int) error {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return err
	}
	for k, v := range key(r.SessionID, r.ID) {
		item[k] = v
	}
	item["entity"] = &types.AttributeValueMemberS{Value: "recording"}
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
	pk := "SESSION#" + sessionID
	start, err := ddb.DecodeCursorIn(cursor, map[string]string{ddb.PK: pk}, ddb.SK, "REC#", ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	res, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :r)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk},
			":r": &types.AttributeValueMemberS{Value: "REC#"}},
		Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start})
	if err != nil {
		return nil, "", fmt.Errorf("list recordings: %w", err)
	}
	out := []Recording{}
	if err := attributevalue.UnmarshalListOfMaps(res.Items, &out); err != nil {
		return nil, "", err
	}
	for i := range out {
		out[i].Version = ddb.Version(out[i].Version)
	}
	return out, ddb.EncodeCursor(res.LastEvaluatedKey), nil
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

// Objects stores recording content behind presigned URLs.
type Objects interface {
	UploadURL(ctx context.Context, key, contentType string, ttl time.Duration) (string, error)
	DownloadURL(ctx context.Context, key string, ttl time.Duration) (string, error)
	Delete(ctx context.Context, key string) error
}

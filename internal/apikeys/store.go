package apikeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
)

// Store keeps keys in the main table under APIKEY#<sha256 of the key>, so authenticating is one
// consistent GetItem; an owner's keys are listed through GSI1 = KEYS#<ownerId> / <keyId>.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

// EntityAPIKey marks key items (the notifier derives apikey.* events from them).
const EntityAPIKey = "apiKey"

type keyItem struct {
	Key
	Hash   string `dynamodbav:"keyHash"`
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK"`
	GSI1SK string `dynamodbav:"GSI1SK"`
	Entity string `dynamodbav:"entity"`
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func hashKey(hash string) map[string]types.AttributeValue {
	return ddb.APIKeyKey(hash)
}

// ErrNotFound is returned for keys that do not exist or are not the caller's.
var ErrNotFound = problem.NotFound("API key")

// UnmarshalKey decodes a stored key item (also a stream image).
func UnmarshalKey(item map[string]types.AttributeValue) (Key, error) {
	var it keyItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return Key{}, fmt.Errorf("decode api key: %w", err)
	}
	return it.Key, nil
}

// Create stores a new key under its hash.
func (st *Store) Create(ctx context.Context, k Key, hash string) error {
	_, err := st.CreateClaimed(ctx, k, hash, nil)
	return err
}

// CreateClaimed is Create with its idempotency claim when idem is not nil, in one transaction. A
// record back means the key was created by an earlier request with the same Idempotency-Key.
func (st *Store) CreateClaimed(ctx context.Context, k Key, hash string, idem *idempotency.Claim) (*idempotency.Record, error) {
	av, err := attributevalue.MarshalMap(keyItem{Key: k, Hash: hash, PK: ddb.APIKeyPK(hash), SK: ddb.MetaSK,
		GSI1PK: ddb.KeysPK(k.OwnerID), GSI1SK: k.ID, Entity: EntityAPIKey})
	if err != nil {
		return nil, err
	}
	rec, err := idempotency.PutOne(ctx, st.DB, st.Table, idem, &types.Put{TableName: &st.Table, Item: av,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if err != nil {
		return nil, fmt.Errorf("create api key: %w", err)
	}
	return rec, nil
}

// ByHash finds the key a secret hashes to (consistent: a revocation counts from the next request).
func (st *Store) ByHash(ctx context.Context, hash string) (Key, bool, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: hashKey(hash), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Key{}, false, fmt.Errorf("get api key: %w", err)
	}
	if out.Item == nil {
		return Key{}, false, nil
	}
	var it keyItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Key{}, false, err
	}
	if !HashesEqual(it.Hash, hash) { // defence in depth: the key lookup already matched
		return Key{}, false, nil
	}
	return it.Key, true, nil
}

// owned finds one of the owner's keys by id, with its hash.
func (st *Store) owned(ctx context.Context, owner, id string) (Key, string, error) {
	if !ids.Valid("key", id) {
		return Key{}, "", ErrNotFound
	}
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :o AND GSI1SK = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s(ddb.KeysPK(owner)), ":id": s(id)}})
	if err != nil {
		return Key{}, "", fmt.Errorf("find api key: %w", err)
	}
	if len(out.Items) == 0 {
		return Key{}, "", ErrNotFound
	}
	var it keyItem
	if err := attributevalue.UnmarshalMap(out.Items[0], &it); err != nil {
		return Key{}, "", err
	}
	return it.Key, it.Hash, nil
}

// List returns a page of the owner's keys, newest first.
func (st *Store) List(ctx context.Context, owner string, limit int, cursor string) ([]Key, string, error) {
	start, err := ddb.DecodeCursor(cursor, map[string]string{ddb.GSI1PK: ddb.KeysPK(owner)}, ddb.GSI1PK, ddb.GSI1SK, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s(ddb.KeysPK(owner))},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start})
	if err != nil {
		return nil, "", fmt.Errorf("list api keys: %w", err)
	}
	keys := make([]Key, 0, len(out.Items))
	for _, item := range out.Items {
		k, err := UnmarshalKey(item)
		if err != nil {
			return nil, "", err
		}
		keys = append(keys, k)
	}
	return keys, ddb.EncodeCursor(out.LastEvaluatedKey), nil
}

// Revoke marks a key revoked; revoking twice is a conflict, not a success.
func (st *Store) Revoke(ctx context.Context, owner, id string, now time.Time) (Key, error) {
	k, hash, err := st.owned(ctx, owner, id)
	if err != nil {
		return Key{}, err
	}
	if k.Revoked {
		return Key{}, problem.Conflict("the key is already revoked")
	}
	at, _ := attributevalue.Marshal(now)
	_, err = st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: hashKey(hash),
		UpdateExpression:          aws.String("SET revoked = :t, revokedAt = :at"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND revoked = :f"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":f": &types.AttributeValueMemberBOOL{Value: false}, ":at": at}})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return Key{}, problem.Conflict("the key is already revoked")
	}
	if err != nil {
		return Key{}, fmt.Errorf("revoke api key: %w", err)
	}
	k.Revoked, k.RevokedAt = true, &now
	return k, nil
}

// Delete removes a key for good.
func (st *Store) Delete(ctx context.Context, owner, id string) error {
	_, hash, err := st.owned(ctx, owner, id)
	if err != nil {
		return err
	}
	_, err = st.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.Table, Key: hashKey(hash),
		ConditionExpression: aws.String("attribute_exists(PK)")})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return ErrNotFound
	}
	return err
}

// MarkRateLimited records, once per hour, that the key hit its limit.
func (st *Store) MarkRateLimited(ctx context.Context, hash, hour string) error {
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: hashKey(hash),
		UpdateExpression:          aws.String("SET rateLimitedHour = :h"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (attribute_not_exists(rateLimitedHour) OR rateLimitedHour <> :h)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": s(hour)}})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return nil
	}
	return err
}

// Usable reports whether one of owner's keys still exists and is neither revoked nor expired
// (the streaming gateway re-checks streams opened with a key).
func (st *Store) Usable(ctx context.Context, owner, id string, now time.Time) (bool, error) {
	k, _, err := st.owned(ctx, owner, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !k.Revoked && !k.Expired(now), nil
}

// Count is how many keys the owner has (revoked ones included, until deleted).
func (st *Store) Count(ctx context.Context, owner string) (int, error) {
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1), Select: types.SelectCount,
		KeyConditionExpression:    aws.String("GSI1PK = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": s(ddb.KeysPK(owner))}})
	if err != nil {
		return 0, fmt.Errorf("count api keys: %w", err)
	}
	return int(out.Count), nil
}

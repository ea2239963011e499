// Package users keeps the people the platform has seen: recorded on first sight, with a platform
// role that an identity-provider claim, the bootstrap configuration or an admin sets.
package users

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
	"streamspace/internal/problem"
)

// Store keeps users under USER#<id>/PROFILE, listed through GSI2 (TYPE#user#<shard>).
type Store struct {
	DB    *dynamodb.Client
	Table string
}

func key(id string) map[string]types.AttributeValue {
	return ddb.UserKey(id)
}

// ErrNotFound is returned for unknown users.
var ErrNotFound = errors.New("user not found")

// Known checks that a request's field names a user the platform has seen (share with, add to
// a team, transfer to): a 400 on that field otherwise, saying that people are known from their
// first signed-in request.
func (s *Store) Known(ctx context.Context, field, id string) error {
	if _, err := s.Get(ctx, id); errors.Is(err, ErrNotFound) {
		return problem.Invalid(field, "no such user (people can be named once they have signed in at least once)")
	} else if err != nil {
		return err
	}
	return nil
}

// Get reads a user, eventually consistently (the authorizer's read on every request).
func (s *Store) Get(ctx context.Context, id string) (User, error) { return s.get(ctx, id, false) }

func (s *Store) get(ctx context.Context, id string, consistent bool) (User, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: key(id), ConsistentRead: aws.Bool(consistent)})
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	if out.Item == nil {
		return User{}, ErrNotFound
	}
	var u User
	err = attributevalue.UnmarshalMap(out.Item, &u)
	u.Version = ddb.Version(u.Version)
	return u, err
}

// Ensure returns the stored user, recording it first if this is the first time it is seen.
// One read on the common path; a conditional put makes concurrent first sightings safe.
func (s *Store) Ensure(ctx context.Context, u User) (User, error) {
	got, err := s.Get(ctx, u.ID)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return got, err
	}
	u.CreatedAt, u.Version = time.Now().UTC(), 1
	av, err := attributevalue.MarshalMap(u)
	if err != nil {
		return User{}, err
	}
	for k, v := range key(u.ID) {
		av[k] = v
	}
	av["GSI2PK"] = &types.AttributeValueMemberS{Value: ddb.TypeShardPK(ddb.KindUser, u.ID)}
	av["GSI2SK"] = &types.AttributeValueMemberS{Value: u.ID}
	av["entity"] = &types.AttributeValueMemberS{Value: "user"}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: av,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return s.Get(ctx, u.ID)
	}
	if err != nil {
		return User{}, fmt.Errorf("record user: %w", err)
	}
	return u, nil
}

// SetRole stores the platform role an admin grants (the user must have been seen), conditional on
// the version read: a concurrent change is ddb.ErrVersionConflict, and the caller reads again.
func (s *Store) SetRole(ctx context.Context, u User, role string) (User, error) {
	cond, names, vals := ddb.VersionCondition(u.Version)
	names["#r"] = "role"
	vals[":r"], vals[":next"] = &types.AttributeValueMemberS{Value: role}, &types.AttributeValueMemberN{Value: strconv.Itoa(u.Version + 1)}
	vals[":granted"] = &types.AttributeValueMemberS{Value: time.Now().UTC().Format(time.RFC3339Nano)}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: key(u.ID),
		UpdateExpression:          aws.String("SET #r = :r, #ver = :next, roleGrantedAt = :granted"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND " + cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew})
	if ddb.ConditionFailed(err) {
		return User{}, ddb.ErrVersionConflict
	}
	if err != nil {
		return User{}, fmt.Errorf("set role: %w", err)
	}
	var got User
	return got, attributevalue.UnmarshalMap(out.Attributes, &got)
}

// List returns a page of users by id: the GSI2 shards of TYPE#user, merged.
func (s *Store) List(ctx context.Context, limit int, cursor string) ([]User, string, error) {
	items, next, err := ddb.QueryShards(ctx, s.DB, ddb.ShardQuery{Input: dynamodb.QueryInput{TableName: &s.Table, IndexName: aws.String(ddb.GSI2)},
		PKAttr: ddb.GSI2PK, SKAttr: ddb.GSI2SK, Partitions: ddb.TypeShardPKs(ddb.KindUser), Listing: ddb.TypePK(ddb.KindUser),
		Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", err
	}
	us := []User{}
	if err := attributevalue.UnmarshalListOfMaps(items, &us); err != nil {
		return nil, "", err
	}
	for i := range us {
		us[i].Version = ddb.Version(us[i].Version)
	}
	return us, next, nil
}

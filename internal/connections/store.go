// Package connections keeps WebSocket connections and what each subscribed to, and serves the
// WebSocket API's $connect, $disconnect and $default routes.
package connections

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
)

// Lifetime is API Gateway's limit on a WebSocket connection; records expire with it (TTL).
const Lifetime = 2 * time.Hour

// MaxPerUser bounds one user's open WebSocket connections (tabs, scripts, keys together).
const MaxPerUser = 20

// Store keeps, in the connections table, one META item per connection and one item per
// audience it listens to. Every item's GSI1PK names an audience: USER#<id> (everything about
// that user's sessions) or SESSION#<id>; the notifier finds recipients with one query per audience.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

// Listener is a connection found for an audience.
type Listener struct {
	ConnectionID string `dynamodbav:"connectionId"`
	UserID       string `dynamodbav:"userId"` // who is connected
	Role         string `dynamodbav:"role"`
	// KeyID is the API key the connection was opened with (revoking it closes the connection).
	KeyID string `dynamodbav:"keyId,omitempty"`
	// ConnectedAt is on every item of the connection, so the notifier can tell a connection
	// still in its handshake (API Gateway answers 410 to posts until $connect has returned)
	// from one that is gone.
	ConnectedAt time.Time `dynamodbav:"connectedAt,omitempty"`
}

// Handshaking says whether a 410 for this connection may only mean that its $connect has not
// returned yet: the record is written by $connect, before API Gateway completes the handshake,
// so an event can reach it first. API Gateway waits at most 29 s for an integration.
func (l Listener) Handshaking(now time.Time) bool {
	return !l.ConnectedAt.IsZero() && now.Sub(l.ConnectedAt) < 30*time.Second
}

// Audience keys.
func UserAudience(userID string) string       { return ddb.UserAudience(userID) }
func SessionAudience(sessionID string) string { return ddb.SessionAudience(sessionID) }

// KeyAudience indexes the connections opened with an API key. No event is addressed to it: the
// notifier reads it to close those connections when the key is revoked.
func KeyAudience(keyID string) string { return ddb.KeyAudience(keyID) }

// OpenedBy indexes a user's own connections, whatever they listen to (Count); no event is
// addressed to it either.
func OpenedBy(userID string) string { return ddb.OpenedBy(userID) }

type item struct {
	Listener
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	GSI1PK    string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK    string `dynamodbav:"GSI1SK,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}

// Add records a connection listening to the given audiences, in one transaction.
func (s *Store) Add(ctx context.Context, l Listener, audiences []string, now time.Time) error {
	exp := now.Add(Lifetime).Unix()
	l.ConnectedAt = now.UTC()
	meta := item{Listener: l, PK: ddb.ConnPK(l.ConnectionID), SK: ddb.MetaSK, ExpiresAt: exp}
	puts := []item{meta}
	for _, a := range audiences {
		puts = append(puts, item{Listener: l, PK: meta.PK, SK: ddb.SubSK(a), GSI1PK: a, GSI1SK: meta.PK, ExpiresAt: exp})
	}
	tx := make([]types.TransactWriteItem, 0, len(puts))
	for _, p := range puts {
		av, err := attributevalue.MarshalMap(p)
		if err != nil {
			return err
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &s.Table, Item: av}})
	}
	if _, err := s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
		return fmt.Errorf("add connection: %w", err)
	}
	return nil
}

// Get returns the connection's record, or false if it is gone.
func (s *Store) Get(ctx context.Context, connID string) (Listener, bool, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: ddb.ConnKey(connID)})
	if err != nil || out.Item == nil {
		return Listener{}, false, err
	}
	var it item
	return it.Listener, true, attributevalue.UnmarshalMap(out.Item, &it)
}

// Subscribe adds an audience to a live connection: only while its META item exists, so a
// subscription racing a $disconnect cannot outlive the connection.
func (s *Store) Subscribe(ctx context.Context, l Listener, audience string, now time.Time) error {
	av, err := attributevalue.MarshalMap(item{Listener: l, PK: ddb.ConnPK(l.ConnectionID), SK: ddb.SubSK(audience),
		GSI1PK: audience, GSI1SK: ddb.ConnPK(l.ConnectionID), ExpiresAt: now.Add(Lifetime).Unix()})
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{TableName: &s.Table, ConditionExpression: aws.String("attribute_exists(PK)"),
			Key: ddb.ConnKey(l.ConnectionID)}},
		{Put: &types.Put{TableName: &s.Table, Item: av}},
	}})
	return err
}

// Unsubscribe removes an audience from a connection.
func (s *Store) Unsubscribe(ctx context.Context, connID, audience string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: ddb.Key(ddb.ConnPK(connID), ddb.SubSK(audience))})
	return err
}

// Remove deletes a connection and all its subscriptions (one query, then batched deletes).
func (s *Store) Remove(ctx context.Context, connID string) error {
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: &s.Table,
		KeyConditionExpression:    aws.String("PK = :pk"),
		ProjectionExpression:      aws.String("PK, SK"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: ddb.ConnPK(connID)}}})
	if err != nil {
		return fmt.Errorf("find connection items: %w", err)
	}
	for start := 0; start < len(out.Items); start += 25 {
		end := min(start+25, len(out.Items))
		reqs := make([]types.WriteRequest, 0, end-start)
		for _, k := range out.Items[start:end] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
		}
		for len(reqs) > 0 {
			res, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: reqs}})
			if err != nil {
				return fmt.Errorf("remove connection: %w", err)
			}
			reqs = res.UnprocessedItems[s.Table]
		}
	}
	return nil
}

// Listeners returns the live connections listening to an audience (one query per page).
func (s *Store) Listeners(ctx context.Context, audience string, now time.Time) ([]Listener, error) {
	var out []Listener
	err := ddb.QueryAll(ctx, s.DB, &dynamodb.QueryInput{TableName: &s.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression: aws.String("GSI1PK = :a"),
		// TTL deletes lazily: skip records already past their expiry.
		FilterExpression: aws.String("expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":a": &types.AttributeValueMemberS{Value: audience}, ":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}}}, &out)
	if err != nil {
		return nil, fmt.Errorf("find listeners: %w", err)
	}
	return out, nil
}

// Count is how many live connections the user opened, whatever they listen to.
func (s *Store) Count(ctx context.Context, userID string, now time.Time) (int, error) {
	ls, err := s.Listeners(ctx, OpenedBy(userID), now)
	return len(ls), err
}

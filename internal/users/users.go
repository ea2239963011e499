// Package users keeps the people the platform has seen: recorded on first sight, with a platform
// role that an identity-provider claim, the bootstrap configuration or an admin sets.
package users

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/httpx"
)

// User is a platform user.
type User struct {
	ID        string    `json:"id" dynamodbav:"id"`
	Email     string    `json:"email,omitempty" dynamodbav:"email,omitempty"`
	Name      string    `json:"name,omitempty" dynamodbav:"name,omitempty"`
	Role      string    `json:"role" dynamodbav:"role"`
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"`
}

// Store keeps users under USER#<id>/PROFILE, listed through GSI2 (TYPE#user).
type Store struct {
	DB    *dynamodb.Client
	Table string
}

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{ddb.PK: &types.AttributeValueMemberS{Value: "USER#" + id},
		ddb.SK: &types.AttributeValueMemberS{Value: "PROFILE"}}
}

// ErrNotFound is returned for unknown users.
var ErrNotFound = errors.New("user not found")

func (s *Store) Get(ctx context.Context, id string) (User, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: key(id)})
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	if out.Item == nil {
		return User{}, ErrNotFound
	}
	var u User
	return u, attributevalue.UnmarshalMap(out.Item, &u)
}

// Ensure returns the stored user, recording it first if this is the first time it is seen.
// One read on the common path; a conditional put makes concurrent first sightings safe.
func (s *Store) Ensure(ctx context.Context, u User) (User, error) {
	got, err := s.Get(ctx, u.ID)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return got, err
	}
	u.CreatedAt = time.Now().UTC()
	av, err := attributevalue.MarshalMap(u)
	if err != nil {
		return User{}, err
	}
	for k, v := range key(u.ID) {
		av[k] = v
	}
	av["GSI2PK"] = &types.AttributeValueMemberS{Value: "TYPE#user"}
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

// Register adds the users routes.
func Register(rt *httpx.Router, s *Store) {
	rt.Handle("GET /api/v1/users/me", func(w http.ResponseWriter, r *http.Request) error {
		c := httpx.Caller(r)
		u, err := s.Get(r.Context(), c.UserID)
		if errors.Is(err, ErrNotFound) { // the authorizer records users; tolerate a race with deletion
			u = User{ID: c.UserID, Email: c.Email, Name: c.Name}
		} else if err != nil {
			return err
		}
		u.Role = c.Role // the effective role of this request (claims and bootstrap may raise it)
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"user": u, "authMethod": authMethod(c)})
		return nil
	})
}

func authMethod(c auth.Caller) string {
	if c.ViaAPIKey() {
		return "apiKey"
	}
	return "token"
}

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
	"streamspace/internal/problem"
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

// SetRole stores the platform role an admin grants (the user must have been seen).
func (s *Store) SetRole(ctx context.Context, id, role string) (User, error) {
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: key(id),
		UpdateExpression:          aws.String("SET #r = :r"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#r": "role"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": &types.AttributeValueMemberS{Value: role}},
		ReturnValues:              types.ReturnValueAllNew})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("set role: %w", err)
	}
	var u User
	return u, attributevalue.UnmarshalMap(out.Attributes, &u)
}

// List returns a page of users by id (GSI2 = TYPE#user).
func (s *Store) List(ctx context.Context, limit int, cursor string) ([]User, string, error) {
	start, err := ddb.DecodeCursor(cursor, map[string]string{ddb.GSI2PK: "TYPE#user"}, ddb.GSI2PK, ddb.GSI2SK, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	out, err := s.DB.Query(ctx, &dynamodb.QueryInput{TableName: &s.Table, IndexName: aws.String(ddb.GSI2),
		KeyConditionExpression:    aws.String("GSI2PK = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "TYPE#user"}},
		Limit:                     aws.Int32(int32(limit)), ExclusiveStartKey: start})
	if err != nil {
		return nil, "", fmt.Errorf("list users: %w", err)
	}
	us := []User{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &us); err != nil {
		return nil, "", err
	}
	return us, ddb.EncodeCursor(out.LastEvaluatedKey), nil
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
		httpx.WriteJSON(w, http.StatusOK, me{User: u, AuthMethod: authMethod(c), KeyID: c.KeyID, Scopes: c.Scopes})
		return nil
	})
	rt.Handle("GET /api/v1/users", func(w http.ResponseWriter, r *http.Request) error {
		if !httpx.Caller(r).IsAdmin() {
			return problem.Forbidden("listing users needs the admin role")
		}
		limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
		if err != nil {
			return err
		}
		us, next, err := s.List(r.Context(), limit, r.URL.Query().Get("cursor"))
		if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": us, "nextCursor": next})
		return nil
	})
	rt.Handle("GET /api/v1/users/{userId}", func(w http.ResponseWriter, r *http.Request) error {
		c, id := httpx.Caller(r), r.PathValue("userId")
		if id != c.UserID && !c.IsAdmin() {
			return problem.NotFound("user")
		}
		u, err := s.Get(r.Context(), id)
		if errors.Is(err, ErrNotFound) {
			return problem.NotFound("user")
		} else if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, u)
		return nil
	})
	rt.Handle("PUT /api/v1/users/{userId}/role", func(w http.ResponseWriter, r *http.Request) error {
		c, id := httpx.Caller(r), r.PathValue("userId")
		if !c.IsAdmin() {
			return problem.Forbidden("changing roles needs the admin role")
		}
		var in struct {
			Role string `json:"role"`
		}
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		if !auth.ValidRole(in.Role) {
			return problem.Invalid("role", "must be user, operator or admin")
		}
		if id == c.UserID {
			return problem.Conflict("admins cannot change their own role (ask another admin)")
		}
		u, err := s.SetRole(r.Context(), id, in.Role)
		if errors.Is(err, ErrNotFound) {
			return problem.NotFound("user")
		} else if err != nil {
			return err
		}
		httpx.WriteJSON(w, http.StatusOK, u)
		return nil
	})
}

// me is the answer of GET /users/me: the user, with how this request authenticated.
type me struct {
	User
	AuthMethod string   `json:"authMethod"`
	KeyID      string   `json:"keyId,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
}

func authMethod(c auth.Caller) string {
	if c.ViaAPIKey() {
		return "apiKey"
	}
	return "token"
}

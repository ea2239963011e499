// Package users keeps the people the platform has seen: recorded on first sight, with a platform
// role that an identity-provider claim, the bootstrap configuration or an admin sets.
package users

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
	// Version counts stored-role changes (optimistic lock; ETag). Records from before versions
	// existed have none and count as 1.
	Version int `json:"version" dynamodbav:"version,omitempty"`
}

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
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.Table, Key: key(u.ID),
		UpdateExpression:          aws.String("SET #r = :r, #ver = :next"),
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

// Register adds the users routes.
func Register(rt *httpx.Router, s *Store) {
	rt.Handle("GET /api/v1/users/me", func(w http.ResponseWriter, r *http.Request) error {
		c := httpx.Caller(r)
		u, err := s.Get(r.Context(), c.UserID)
		if errors.Is(err, ErrNotFound) { // the authorizer records users; tolerate a race with deletion
			u = User{ID: c.UserID, Email: c.Email, Name: c.Name, Version: 1}
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
		httpx.WritePage(w, us, next)
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
		httpx.SetETag(w, u.Version)
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
		im, err := httpx.IfMatch(r)
		if err != nil {
			return err
		}
		var u User
		err = ddb.RetryOnVersionConflict(im, "user", func() error {
			// Consistent: a stale read would only lose the version race again.
			if u, err = s.get(r.Context(), id, true); errors.Is(err, ErrNotFound) {
				return problem.NotFound("user")
			} else if err != nil {
				return err
			}
			if err := ddb.CheckIfMatch(im, "user", u.Version); err != nil {
				return err
			}
			if u.Role == in.Role {
				return nil // the same role writes nothing
			}
			u, err = s.SetRole(r.Context(), u, in.Role)
			return err
		})
		if err != nil {
			return err
		}
		httpx.SetETag(w, u.Version)
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

package users

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
)

// Limits are the per-user quota the installation enforces (USER_MAX_*; the sessions area charges
// against them).
type Limits struct {
	MaxSessions  int `json:"maxSessions"`
	MaxCPUMillis int `json:"maxCpuMillis"`
	MaxMemoryMiB int `json:"maxMemoryMiB"`
}

// Usage is what a user's live sessions hold now: the counters the sessions area keeps at
// USER#<id>/QUOTA, in the same transactions as the sessions themselves.
type Usage struct {
	LiveSessions int `json:"liveSessions" dynamodbav:"liveSessions"`
	CPUMillis    int `json:"cpuMillis" dynamodbav:"cpuMillis"`
	MemoryMiB    int `json:"memoryMiB" dynamodbav:"memoryMiB"`
}

// Quota is GET /users/me/quota, in the shape of a team's quota: the limits, the live usage, and
// whether the account still waits for a role grant (then it may run no session: maxSessions 0).
type Quota struct {
	Limits
	Usage             Usage `json:"usage"`
	AwaitingRoleGrant bool  `json:"awaitingRoleGrant"`
}

// AwaitsRoleGrant says whether, when the installation requires it (REQUIRE_ROLE_GRANT, SEC-05),
// the caller's session quota is still zero: a plain user whose role no administrator has set
// (PUT /users/{id}/role, as authentication read it) and no identity-provider group gives.
func AwaitsRoleGrant(required bool, c auth.Caller) bool {
	return required && c.Role == auth.RoleUser && c.ExternalRole == "" && !c.RoleGranted
}

// Quota reads the caller's own limits and usage (consistently: it is shown right after a
// launch or a termination).
func (sv *Service) Quota(ctx context.Context, c auth.Caller) (Quota, error) {
	use, err := sv.Store.Usage(ctx, c.UserID)
	if err != nil {
		return Quota{}, err
	}
	q := Quota{Limits: sv.Limits, Usage: use, AwaitingRoleGrant: AwaitsRoleGrant(sv.RequireRoleGrant, c)}
	if q.AwaitingRoleGrant {
		q.MaxSessions = 0
	}
	return q, nil
}

// Usage reads a user's usage counters; a user who never ran a session has none (zero).
func (s *Store) Usage(ctx context.Context, id string) (Usage, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: ddb.UserQuotaKey(id), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("liveSessions, cpuMillis, memoryMiB")})
	if err != nil {
		return Usage{}, fmt.Errorf("get user quota: %w", err)
	}
	var use Usage
	if out.Item != nil {
		err = attributevalue.UnmarshalMap(out.Item, &use)
	}
	return use, err
}

package notifier

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/ddb"
)

// Audience reads, from the main table, who may see a session: its owner and team (from the
// session item), the team's members and the holders of active shares. Indexed reads only.
type Audience struct {
	DB    *dynamodb.Client
	Table string
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Session returns a session's owner and team ("" when the session is gone).
func (a *Audience) Session(ctx context.Context, id string) (owner, team string, err error) {
	out, err := a.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &a.Table, Key: ddb.SessionKey(id),
		ProjectionExpression: aws.String("ownerId, teamId")})
	if err != nil || out.Item == nil {
		return "", "", err
	}
	return str(out.Item["ownerId"]), str(out.Item["teamId"]), nil
}

// partition returns the items of one partition whose sort key starts with prefix.
func (a *Audience) partition(ctx context.Context, pk, prefix, projection string) ([]map[string]types.AttributeValue, error) {
	items, err := ddb.QueryItems(ctx, a.DB, &dynamodb.QueryInput{TableName: &a.Table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ProjectionExpression:      aws.String(projection),
		ExpressionAttributeNames:  names(projection),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}, ":p": &types.AttributeValueMemberS{Value: prefix}}})
	if err != nil {
		return nil, fmt.Errorf("audience: %w", err)
	}
	return items, nil
}

// TeamMembers returns the user ids of a team's members; viewersOnly keeps those whose role may
// see team sessions (the access rule's, not a copy of it).
func (a *Audience) TeamMembers(ctx context.Context, teamID string, viewersOnly bool) ([]string, error) {
	items, err := a.partition(ctx, ddb.TeamPK(teamID), ddb.MemberPrefix, "userId, #r")
	var out []string
	for _, it := range items {
		if !viewersOnly || access.TeamRoleViews(str(it["role"])) {
			out = append(out, str(it["userId"]))
		}
	}
	return out, err
}

// ShareHolders returns the users holding an active share of a session: a revoked share is gone,
// an expired one is skipped even before TTL removes it.
func (a *Audience) ShareHolders(ctx context.Context, sessionID string, now time.Time) ([]string, error) {
	items, err := a.partition(ctx, ddb.SessionPK(sessionID), ddb.SharePrefix, "sharedWithUserId, permissionLevel, expiresAt")
	var out []string
	for _, it := range items {
		var exp int64
		if n, ok := it["expiresAt"].(*types.AttributeValueMemberN); ok {
			exp, _ = strconv.ParseInt(n.Value, 10, 64)
		}
		if access.ShareLevel(str(it["permissionLevel"]), exp, now) >= access.View {
			out = append(out, str(it["sharedWithUserId"]))
		}
	}
	return out, err
}

// names declares the #r placeholder ("role" is a reserved word) when a projection uses it.
func names(projection string) map[string]string {
	if strings.Contains(projection, "#r") {
		return map[string]string{"#r": "role"}
	}
	return nil
}

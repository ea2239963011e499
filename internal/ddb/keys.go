package ddb

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// Keys of the main table's items that more than one package reads. Each area owns its items;
// these builders exist so the access decision and the notifier can read memberships and shares
// without importing the areas that write them.

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PK: &types.AttributeValueMemberS{Value: pk}, SK: &types.AttributeValueMemberS{Value: sk}}
}

// SessionKey is a session's item.
func SessionKey(sessionID string) map[string]types.AttributeValue {
	return key("SESSION#"+sessionID, "META")
}

// TeamPK is the partition of a team (its META, QUOTA and MEMBER# items).
func TeamPK(teamID string) string { return "TEAM#" + teamID }

// MemberKey is one user's membership of a team.
func MemberKey(teamID, userID string) map[string]types.AttributeValue {
	return key(TeamPK(teamID), "MEMBER#"+userID)
}

// SharePrefix starts the sort key of a session's shares (SESSION#<id> / SHARE#<userId>).
const SharePrefix = "SHARE#"

// ShareKey is one user's share of a session.
func ShareKey(sessionID, userID string) map[string]types.AttributeValue {
	return key("SESSION#"+sessionID, SharePrefix+userID)
}

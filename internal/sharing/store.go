// Package sharing is the sharing area: direct shares, invitations, collaborators and the
// sessions shared with a user.
package sharing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/problem"
)

// Store keeps shares in their session's partition (SESSION#<id> / SHARE#<userId>, GSI1 =
// SHAREDWITH#<userId> for "shared with me") and invitations under INVITE#<sha256 of the token>
// (GSI1 = INVITES#<sessionId>), with one ACCEPT#<userId> item per acceptance.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// TokenHash is how invitations are stored and found.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func inviteKey(hash string) map[string]types.AttributeValue {
	return ddb.InviteKey(hash)
}

// PutShare creates or updates the one share of (session, user). created is false for an update,
// which keeps the share's id and creation time.
func (st *Store) PutShare(ctx context.Context, sh Share) (Share, bool, error) {
	got, created, _, err := st.PutShareClaimed(ctx, sh, nil)
	return got, created, err
}

// PutShareClaimed is PutShare with an Idempotency-Key claim when idem is not nil. UpdateItem
// cannot join a claim, so then the same update and the claim go in one transaction and the share
// is read back afterwards (a transaction returns no values); created compares the stored share
// id with the one proposed, as ReturnValues does. A replay (record back) re-reads the share the
// first request wrote: it is 201 when that request created it.
func (st *Store) PutShareClaimed(ctx context.Context, sh Share, idem *idempotency.Claim) (Share, bool, *idempotency.Record, error) {
	exp := "REMOVE expiresAt"
	vals := map[string]types.AttributeValue{":id": s(sh.ID), ":sid": s(sh.SessionID), ":u": s(sh.SharedWithUserID),
		":l": s(sh.PermissionLevel), ":by": s(sh.CreatedBy), ":at": s(sh.CreatedAt.Format(time.RFC3339Nano)),
		":g": s(ddb.SharedWithPK(sh.SharedWithUserID)), ":e": s(EntityShare)}
	if sh.Expiry > 0 {
		exp = ""
		vals[":x"] = n(sh.Expiry)
	}
	if a := auth.ActorFrom(ctx); a != nil {
		av, _ := attributevalue.Marshal(a)
		vals[":actor"] = av
	} else {
		vals[":actor"] = &types.AttributeValueMemberNULL{Value: true}
	}
	set := "SET actor = :actor, shareId = if_not_exists(shareId, :id), sessionId = :sid, sharedWithUserId = :u, permissionLevel = :l, " +
		"createdBy = if_not_exists(createdBy, :by), createdAt = if_not_exists(createdAt, :at), updatedAt = :at, " +
		"GSI1PK = :g, GSI1SK = :sid, entity = :e"
	if sh.Expiry > 0 {
		set += ", expiresAt = :x"
	}
	key := ddb.ShareKey(sh.SessionID, sh.SharedWithUserID)
	if idem == nil {
		out, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: key,
			UpdateExpression: aws.String(set + " " + exp), ExpressionAttributeValues: vals, ReturnValues: types.ReturnValueAllNew})
		if err != nil {
			return Share{}, false, nil, fmt.Errorf("put share: %w", err)
		}
		got, err := decodeShare(out.Attributes)
		return got, got.ID == sh.ID, nil, err
	}
	idem.ResourceID = sh.ID
	rec, err := idempotency.Write(ctx, st.DB, st.Table, idem, []types.TransactWriteItem{{Update: &types.Update{TableName: &st.Table, Key: key,
		UpdateExpression: aws.String(set + " " + exp), ExpressionAttributeValues: vals}}})
	if err != nil {
		return Share{}, false, nil, fmt.Errorf("put share: %w", err)
	}
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Share{}, false, nil, fmt.Errorf("read share: %w", err)
	}
	if out.Item == nil { // revoked since the first request
		return Share{}, false, rec, problem.NotFound("share")
	}
	got, err := decodeShare(out.Item)
	proposed := sh.ID
	if rec != nil {
		proposed = rec.ID()
	}
	return got, got.ID == proposed, rec, err
}

func decodeShare(item map[string]types.AttributeValue) (Share, error) {
	var got Share
	if err := attributevalue.UnmarshalMap(item, &got); err != nil {
		return Share{}, err
	}
	got.fill()
	return got, nil
}

// Shares lists a session's shares (one query of its partition).
func (st *Store) Shares(ctx context.Context, sessionID string) ([]Share, error) {
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sh)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.SessionPK(sessionID)), ":sh": s(ddb.SharePrefix)}})
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	shares := []Share{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &shares); err != nil {
		return nil, err
	}
	for i := range shares {
		shares[i].fill()
	}
	return shares, nil
}

// SharesPage is one page of a session's shares, by user id (a Query of its partition with Limit).
func (st *Store) SharesPage(ctx context.Context, sessionID string, limit int, cursor string) ([]Share, string, error) {
	pk := ddb.SessionPK(sessionID)
	start, err := ddb.DecodeCursorIn(cursor, map[string]string{ddb.PK: pk}, ddb.SK, ddb.SharePrefix, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :sh)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":sh": s(ddb.SharePrefix)},
		Limit:                     aws.Int32(int32(limit)), ExclusiveStartKey: start})
	if err != nil {
		return nil, "", fmt.Errorf("list shares: %w", err)
	}
	shares := []Share{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &shares); err != nil {
		return nil, "", err
	}
	for i := range shares {
		shares[i].fill()
	}
	return shares, ddb.EncodeCursor(out.LastEvaluatedKey), nil
}

// DeleteShare removes one share; nothing matching is a 404, never a success.
func (st *Store) DeleteShare(ctx context.Context, sessionID, userID, shareID string) error {
	_, err := st.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &st.Table, Key: ddb.ShareKey(sessionID, userID),
		ConditionExpression: aws.String("shareId = :id"), ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(shareID)}})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return problem.NotFound("share")
	}
	return err
}

// SharedWith lists the shares a user holds, through GSI1.
func (st *Store) SharedWith(ctx context.Context, userID string, limit int, cursor string) ([]Share, string, error) {
	start, err := ddb.DecodeCursor(cursor, map[string]string{ddb.GSI1PK: ddb.SharedWithPK(userID)}, ddb.GSI1PK, ddb.GSI1SK, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(ddb.SharedWithPK(userID))},
		Limit:                     aws.Int32(int32(limit)), ExclusiveStartKey: start, ScanIndexForward: aws.Bool(false)})
	if err != nil {
		return nil, "", fmt.Errorf("shared with: %w", err)
	}
	shares := []Share{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &shares); err != nil {
		return nil, "", err
	}
	for i := range shares {
		shares[i].fill()
	}
	return shares, ddb.EncodeCursor(out.LastEvaluatedKey), nil
}

// CreateInvitation stores an invitation under its token's hash, with an Idempotency-Key claim
// when idem is not nil (a record back is a replay).
func (st *Store) CreateInvitation(ctx context.Context, inv Invitation, hash string, idem *idempotency.Claim) (*idempotency.Record, error) {
	av, err := attributevalue.MarshalMap(inv)
	if err != nil {
		return nil, err
	}
	for k, v := range inviteKey(hash) {
		av[k] = v
	}
	av["GSI1PK"], av["GSI1SK"], av["entity"] = s(ddb.InvitesPK(inv.SessionID)), s(inv.ID), s(EntityInvitation)
	if a := auth.ActorFrom(ctx); a != nil {
		av["actor"], _ = attributevalue.Marshal(a)
	}
	av[ddb.TTLAttribute] = n(inv.ValidUntil.AddDate(0, 0, 30).Unix()) // kept a month past expiry, then removed
	return idempotency.PutOne(ctx, st.DB, st.Table, idem, &types.Put{TableName: &st.Table, Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)")})
}

// Invitation reads an invitation by its token's hash (consistent).
func (st *Store) Invitation(ctx context.Context, hash string) (Invitation, bool, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: inviteKey(hash), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Invitation{}, false, fmt.Errorf("get invitation: %w", err)
	}
	if out.Item == nil {
		return Invitation{}, false, nil
	}
	var inv Invitation
	return inv, true, attributevalue.UnmarshalMap(out.Item, &inv)
}

// Invitations is one page of a session's invitations, newest first (GSI1, descending: ids are
// ULIDs), never their tokens: only hashes are stored.
func (st *Store) Invitations(ctx context.Context, sessionID string, limit int, cursor string) ([]Invitation, string, error) {
	gpk := ddb.InvitesPK(sessionID)
	start, err := ddb.DecodeCursor(cursor, map[string]string{ddb.GSI1PK: gpk}, ddb.GSI1PK, ddb.GSI1SK, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(gpk)},
		ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start})
	if err != nil {
		return nil, "", fmt.Errorf("list invitations: %w", err)
	}
	invs := []Invitation{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &invs); err != nil {
		return nil, "", err
	}
	return invs, ddb.EncodeCursor(out.LastEvaluatedKey), nil
}

// InvitationHash finds one of a session's invitations by id (GSI1) and returns its token's hash.
func (st *Store) InvitationHash(ctx context.Context, sessionID, id string) (string, bool, error) {
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :s AND GSI1SK = :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(ddb.InvitesPK(sessionID)), ":id": s(id)}})
	if err != nil {
		return "", false, fmt.Errorf("find invitation: %w", err)
	}
	if len(out.Items) == 0 {
		return "", false, nil
	}
	pk, _ := out.Items[0][ddb.PK].(*types.AttributeValueMemberS)
	if pk == nil {
		return "", false, nil
	}
	return strings.TrimPrefix(pk.Value, ddb.InvitePrefix), true, nil
}

// MaxOpenInvitations bounds a session's usable invitations (not revoked, expired or used up).
const MaxOpenInvitations = 50

// OpenInvitations counts a session's usable invitations (one query of GSI1, counted after the
// filter).
func (st *Store) OpenInvitations(ctx context.Context, sessionID string, now time.Time) (int, error) {
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1), Select: types.SelectCount,
		KeyConditionExpression: aws.String("GSI1PK = :s"),
		FilterExpression:       aws.String("revoked = :f AND validUntilUnix > :now AND uses < maxUses"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s(ddb.InvitesPK(sessionID)),
			":f": &types.AttributeValueMemberBOOL{Value: false}, ":now": n(now.Unix())}})
	if err != nil {
		return 0, fmt.Errorf("count invitations: %w", err)
	}
	return int(out.Count), nil
}

// RevokeInvitation stops an invitation; revoking twice is a conflict.
func (st *Store) RevokeInvitation(ctx context.Context, hash string) error {
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: inviteKey(hash),
		UpdateExpression: aws.String("SET revoked = :t"), ConditionExpression: aws.String("attribute_exists(PK) AND revoked = :f"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":f": &types.AttributeValueMemberBOOL{Value: false}}})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return problem.Conflict("the invitation is already revoked")
	}
	return err
}

// errAlreadyAccepted means this user accepted the invitation before.
var errAlreadyAccepted = errors.New("already accepted")

// Accept consumes one use and records the acceptance — and, when share is not nil, writes the
// share — in one transaction. The use count is incremented under the condition that it is below
// maxUses (and the invitation still valid), so racing acceptances can never exceed maxUses.
// With an Idempotency-Key claim (idem not nil) the claim joins the transaction; a record back is
// a replay of an earlier acceptance with that key.
func (st *Store) Accept(ctx context.Context, hash, userID string, share *Share, now time.Time, idem *idempotency.Claim) (*idempotency.Record, error) {
	tx := []types.TransactWriteItem{
		{Update: &types.Update{TableName: &st.Table, Key: inviteKey(hash), UpdateExpression: aws.String("ADD uses :one SET lastAcceptedBy = :u"),
			ConditionExpression: aws.String("attribute_exists(PK) AND uses < maxUses AND revoked = :f AND validUntilUnix > :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":f": &types.AttributeValueMemberBOOL{Value: false},
				":now": n(now.Unix()), ":u": s(userID)}}},
		{Put: &types.Put{TableName: &st.Table, ConditionExpression: aws.String("attribute_not_exists(PK)"), Item: map[string]types.AttributeValue{
			ddb.PK: s(ddb.InvitePK(hash)), ddb.SK: s(ddb.AcceptSK(userID)), "userId": s(userID), "acceptedAt": s(now.UTC().Format(time.RFC3339Nano))}}},
	}
	if share != nil {
		item := map[string]types.AttributeValue{"shareId": s(share.ID), "sessionId": s(share.SessionID), "sharedWithUserId": s(userID),
			"permissionLevel": s(share.PermissionLevel), "createdBy": s(share.CreatedBy), "createdAt": s(share.CreatedAt.Format(time.RFC3339Nano)),
			"updatedAt": s(share.CreatedAt.Format(time.RFC3339Nano)), "GSI1PK": s(ddb.SharedWithPK(userID)), "GSI1SK": s(share.SessionID), "entity": s(EntityShare)}
		for k, v := range ddb.ShareKey(share.SessionID, userID) {
			item[k] = v
		}
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: &st.Table, Item: item}})
	}
	rec, err := idempotency.Write(ctx, st.DB, st.Table, idem, tx)
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) > 1 {
		if aws.ToString(tce.CancellationReasons[1].Code) == "ConditionalCheckFailed" {
			return nil, errAlreadyAccepted
		}
		if aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			return nil, problem.Gone("the invitation is no longer valid (used up, expired or revoked)")
		}
	}
	return rec, err
}

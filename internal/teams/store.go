// Package teams is the teams area: teams, their members and roles, quotas, and /teams routes.
package teams

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/problem"
)

// Store keeps a team in its own partition TEAM#<id>: META, QUOTA and one MEMBER#<userId> per
// member. GSI1 = MEMBEROF#<userId> lists a user's teams; GSI2 = TYPE#team lists all teams.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }

func metaKey(id string) map[string]types.AttributeValue {
	return ddb.TeamKey(id)
}

// ErrNotFound is what non-members see for a team.
var ErrNotFound = problem.NotFound("team")

func (st *Store) memberPut(m Member, cond string) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(m)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	for k, v := range ddb.MemberKey(m.TeamID, m.UserID) {
		av[k] = v
	}
	av["GSI1PK"], av["GSI1SK"], av["entity"] = s(ddb.MemberOfPK(m.UserID)), s(m.TeamID), s(EntityMember)
	p := &types.Put{TableName: &st.Table, Item: av}
	if cond != "" {
		p.ConditionExpression = aws.String(cond)
	}
	return types.TransactWriteItem{Put: p}, nil
}

// Create writes the team, its owner's membership and its quota in one transaction.
// With an Idempotency-Key claim (idem not nil) the claim joins the transaction; a record back is
// a replay of an earlier create with that key.
func (st *Store) Create(ctx context.Context, t Team, owner Member, q Quota, idem *idempotency.Claim) (*idempotency.Record, error) {
	t.OwnerCount = 1
	av, err := attributevalue.MarshalMap(t)
	if err != nil {
		return nil, err
	}
	for k, v := range metaKey(t.ID) {
		av[k] = v
	}
	av["GSI2PK"], av["GSI2SK"], av["entity"] = s(ddb.TypePK(ddb.KindTeam)), s(t.ID), s("team")
	q.SessionsLeft, q.CPULeft, q.MemoryLeft = q.MaxSessions, q.MaxCPUMillis, q.MaxMemoryMiB
	qav, err := attributevalue.MarshalMap(q)
	if err != nil {
		return nil, err
	}
	for k, v := range ddb.TeamQuotaKey(t.ID) {
		qav[k] = v
	}
	mem, err := st.memberPut(owner, "")
	if err != nil {
		return nil, err
	}
	rec, err := idempotency.Write(ctx, st.DB, st.Table, idem, []types.TransactWriteItem{
		{Put: &types.Put{TableName: &st.Table, Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: &st.Table, Item: qav}}, mem})
	if err != nil {
		return nil, fmt.Errorf("create team: %w", err)
	}
	return rec, nil
}

// Get reads a team.
func (st *Store) Get(ctx context.Context, id string) (Team, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: metaKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Team{}, fmt.Errorf("get team: %w", err)
	}
	if out.Item == nil {
		return Team{}, ErrNotFound
	}
	var t Team
	err = attributevalue.UnmarshalMap(out.Item, &t)
	t.Version = ddb.Version(t.Version)
	return t, err
}

// Membership reads one user's membership (ok false when not a member).
func (st *Store) Membership(ctx context.Context, teamID, userID string) (Member, bool, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: ddb.MemberKey(teamID, userID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Member{}, false, fmt.Errorf("get membership: %w", err)
	}
	if out.Item == nil {
		return Member{}, false, nil
	}
	var m Member
	err = attributevalue.UnmarshalMap(out.Item, &m)
	m.Version = ddb.Version(m.Version)
	return m, true, err
}

// Members lists a team's members (one query of the team's partition).
func (st *Store) Members(ctx context.Context, teamID string) ([]Member, error) {
	var out []Member
	err := ddb.QueryAll(ctx, st.DB, &dynamodb.QueryInput{TableName: &st.Table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.TeamPK(teamID)), ":m": s(ddb.MemberPrefix)}}, &out)
	return out, err
}

// MembersPage is one page of a team's members, by user id (a Query of the team's partition).
func (st *Store) MembersPage(ctx context.Context, teamID string, limit int, cursor string) ([]Member, string, error) {
	pk := ddb.TeamPK(teamID)
	start, err := ddb.DecodeCursorIn(cursor, map[string]string{ddb.PK: pk}, ddb.SK, ddb.MemberPrefix, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	return st.memberPage(ctx, &dynamodb.QueryInput{TableName: &st.Table,
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":m": s(ddb.MemberPrefix)},
		ConsistentRead:            aws.Bool(true), Limit: aws.Int32(int32(limit)), ExclusiveStartKey: start})
}

// MyTeams is one page of a user's memberships through GSI1, by team id.
func (st *Store) MyTeams(ctx context.Context, userID string, limit int, cursor string) ([]Member, string, error) {
	gpk := ddb.MemberOfPK(userID)
	start, err := ddb.DecodeCursor(cursor, map[string]string{ddb.GSI1PK: gpk}, ddb.GSI1PK, ddb.GSI1SK, ddb.PK, ddb.SK)
	if err != nil {
		return nil, "", err
	}
	return st.memberPage(ctx, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(gpk)},
		Limit:                     aws.Int32(int32(limit)), ExclusiveStartKey: start})
}

func (st *Store) memberPage(ctx context.Context, in *dynamodb.QueryInput) ([]Member, string, error) {
	out, err := st.DB.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list memberships: %w", err)
	}
	ms := []Member{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &ms); err != nil {
		return nil, "", err
	}
	for i := range ms {
		ms[i].Version = ddb.Version(ms[i].Version)
	}
	return ms, ddb.EncodeCursor(out.LastEvaluatedKey), nil
}

// Teams reads several teams with BatchGetItem.
func (st *Store) Teams(ctx context.Context, teamIDs []string) (map[string]Team, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(teamIDs))
	for _, id := range teamIDs {
		keys = append(keys, metaKey(id))
	}
	items, err := ddb.BatchGet(ctx, st.DB, st.Table, keys, false)
	if err != nil {
		return nil, err
	}
	out := map[string]Team{}
	for _, item := range items {
		var t Team
		if attributevalue.UnmarshalMap(item, &t) == nil {
			t.Version = ddb.Version(t.Version)
			out[t.ID] = t
		}
	}
	return out, nil
}

func ownerCountChange(st *Store, teamID string, delta int) types.TransactWriteItem {
	u := &types.Update{TableName: &st.Table, Key: metaKey(teamID), UpdateExpression: aws.String("ADD ownerCount :d"),
		ConditionExpression: aws.String("attribute_exists(PK)"), ExpressionAttributeValues: map[string]types.AttributeValue{":d": n(delta)}}
	if delta < 0 {
		u.ConditionExpression = aws.String("attribute_exists(PK) AND ownerCount > :one")
		u.ExpressionAttributeValues[":one"] = n(1)
	}
	return types.TransactWriteItem{Update: u}
}

// errLastOwner is returned when a change would leave the team without an owner.
var errLastOwner = problem.Conflict("the team's last owner cannot leave, be removed or be demoted")

// AddMember adds a user; adding an existing member is a conflict.
// With an Idempotency-Key claim (idem not nil) the claim joins the transaction; a record back is
// a replay of an earlier add with that key.
func (st *Store) AddMember(ctx context.Context, m Member, idem *idempotency.Claim) (*idempotency.Record, error) {
	put, err := st.memberPut(m, "attribute_not_exists(PK)")
	if err != nil {
		return nil, err
	}
	tx := []types.TransactWriteItem{put}
	if m.Role == access.TeamOwner {
		tx = append(tx, ownerCountChange(st, m.TeamID, 1))
	}
	rec, err := idempotency.Write(ctx, st.DB, st.Table, idem, tx)
	if rec != nil {
		return rec, nil
	}
	if r := ddb.CancelReasons(err); len(r) > 0 && r[0] {
		return nil, problem.Conflict("user " + m.UserID + " is already a member")
	} else if len(r) > 1 && r[1] && m.Role == access.TeamOwner {
		return nil, ErrNotFound
	}
	return nil, err
}

// ChangeRole moves a member from one role to another, conditional on the version read (the
// role read is checked too: the owner count below depends on it).
func (st *Store) ChangeRole(ctx context.Context, m Member, to string) error {
	cond, names, vals := ddb.VersionCondition(m.Version)
	names["#r"] = "role"
	vals[":to"], vals[":from"], vals[":next"] = s(to), s(m.Role), n(m.Version+1)
	tx := []types.TransactWriteItem{{Update: &types.Update{TableName: &st.Table, Key: ddb.MemberKey(m.TeamID, m.UserID),
		UpdateExpression:         aws.String("SET #r = :to, #ver = :next"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #r = :from AND " + cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals}}}
	switch {
	case m.Role == access.TeamOwner && to != access.TeamOwner:
		tx = append(tx, ownerCountChange(st, m.TeamID, -1))
	case m.Role != access.TeamOwner && to == access.TeamOwner:
		tx = append(tx, ownerCountChange(st, m.TeamID, 1))
	}
	_, err := st.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if r := ddb.CancelReasons(err); len(r) > 0 && r[0] {
		return ddb.ErrVersionConflict
	} else if len(r) > 1 && r[1] {
		return errLastOwner
	}
	return err
}

// RemoveMember removes a member (conditional on the role read).
func (st *Store) RemoveMember(ctx context.Context, teamID, userID, role string) error {
	tx := []types.TransactWriteItem{{Delete: &types.Delete{TableName: &st.Table, Key: ddb.MemberKey(teamID, userID),
		ConditionExpression: aws.String("#r = :r"), ExpressionAttributeNames: map[string]string{"#r": "role"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": s(role)}}}}
	if role == access.TeamOwner {
		tx = append(tx, ownerCountChange(st, teamID, -1))
	}
	_, err := st.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if r := ddb.CancelReasons(err); len(r) > 0 && r[0] {
		return problem.Conflict("the membership changed meanwhile; read it again")
	} else if len(r) > 1 && r[1] {
		return errLastOwner
	}
	return err
}

// Update changes a team's descriptive fields, conditional on the version read (t.Version):
// a concurrent change makes it ErrVersionConflict, and the caller reads again.
func (st *Store) Update(ctx context.Context, t Team) error {
	cond, names, vals := ddb.VersionCondition(t.Version)
	vals[":d"], vals[":ds"], vals[":u"], vals[":next"] = s(t.DisplayName), s(t.Description), s(t.UpdatedAt.Format(time.RFC3339Nano)), n(t.Version+1)
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: metaKey(t.ID),
		UpdateExpression:          aws.String("SET displayName = :d, description = :ds, updatedAt = :u, #ver = :next"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND " + cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals})
	if ddb.ConditionFailed(err) {
		return ddb.ErrVersionConflict // or deleted: the next read says 404
	}
	return err
}

// Quota reads a team's quota item.
func (st *Store) Quota(ctx context.Context, teamID string) (Quota, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: ddb.TeamQuotaKey(teamID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Quota{}, fmt.Errorf("get team quota: %w", err)
	}
	if out.Item == nil {
		return Quota{}, ErrNotFound
	}
	var q Quota
	err = attributevalue.UnmarshalMap(out.Item, &q)
	q.Version = ddb.Version(q.Version)
	return q, err
}

// SetQuota changes the limits, moving the headroom by the same amounts, conditional on the
// version read (old.Version), so a concurrent change is never lost. Lowering a limit below live
// usage is allowed: running sessions go on, new ones are refused until usage falls.
func (st *Store) SetQuota(ctx context.Context, teamID string, old, next Quota) error {
	cond, names, vals := ddb.VersionCondition(old.Version)
	for k, v := range map[string]types.AttributeValue{
		":ns": n(next.MaxSessions), ":nc": n(next.MaxCPUMillis), ":nm": n(next.MaxMemoryMiB), ":next": n(old.Version + 1),
		":ds": n(next.MaxSessions - old.MaxSessions), ":dc": n(next.MaxCPUMillis - old.MaxCPUMillis), ":dm": n(next.MaxMemoryMiB - old.MaxMemoryMiB)} {
		vals[k] = v
	}
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: ddb.TeamQuotaKey(teamID),
		UpdateExpression:          aws.String("SET maxSessions = :ns, maxCpuMillis = :nc, maxMemoryMiB = :nm, #ver = :next ADD sessionsLeft :ds, cpuLeft :dc, memoryLeft :dm"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND " + cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals})
	if ddb.ConditionFailed(err) {
		return ddb.ErrVersionConflict // or deleted with its team: the next read says 404
	}
	return err
}

// Delete removes a team with no live sessions: its META, QUOTA and memberships.
func (st *Store) Delete(ctx context.Context, teamID string, members []Member) error {
	q, err := st.Quota(ctx, teamID)
	if err != nil {
		return err
	}
	// The quota delete is conditional on no live session, so a session created meanwhile stops it.
	tx := []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: &st.Table, Key: ddb.TeamQuotaKey(teamID),
			ConditionExpression:       aws.String("sessionsLeft = maxSessions"),
			ExpressionAttributeValues: nil}},
		{Delete: &types.Delete{TableName: &st.Table, Key: metaKey(teamID)}},
	}
	if q.SessionsLeft != q.MaxSessions {
		return problem.Conflict("the team still has live sessions; terminate them first")
	}
	_, err = st.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if r := ddb.CancelReasons(err); len(r) > 0 && r[0] {
		return problem.Conflict("the team still has live sessions; terminate them first")
	} else if err != nil {
		return fmt.Errorf("delete team: %w", err)
	}
	// Memberships go after the team: each delete is announced (team.member.removed).
	for start := 0; start < len(members); start += 25 {
		var reqs []types.WriteRequest
		for _, m := range members[start:min(start+25, len(members))] {
			reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ddb.MemberKey(teamID, m.UserID)}})
		}
		for len(reqs) > 0 {
			res, err := st.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{st.Table: reqs}})
			if err != nil {
				return fmt.Errorf("delete memberships: %w", err)
			}
			reqs = res.UnprocessedItems[st.Table]
		}
	}
	return nil
}

package sessions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/problem"
	"streamspace/internal/resources"
)

// Store keeps sessions in the main table: SESSION#<id>/META, with GSI1 = OWNER#<ownerId> (a
// user's sessions, newest first) and GSI2 = TYPE#session#<shard> (every session, for admins,
// spread over ddb.Shards partitions). Quota counters live at USER#<id>/QUOTA and change in the
// same transaction as the session.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

// EntitySession marks session items (stream consumers dispatch on "entity").
const EntitySession = "session"

type sessionItem struct {
	Session
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK"`
	GSI1SK string `dynamodbav:"GSI1SK"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`
	GSI3PK string `dynamodbav:"GSI3PK,omitempty"` // TEAMSESSIONS#<teamId>: a team's sessions
	GSI3SK string `dynamodbav:"GSI3SK,omitempty"`
	GSI4PK string `dynamodbav:"GSI4PK,omitempty"` // SCHED: live sessions, by their next check time
	GSI4SK string `dynamodbav:"GSI4SK,omitempty"`
	Entity string `dynamodbav:"entity"`
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }

// SessionKey is the primary key of a session item.
func SessionKey(id string) map[string]types.AttributeValue { return ddb.SessionKey(id) }

func quotaKey(userID string) map[string]types.AttributeValue { return ddb.UserQuotaKey(userID) }

func marshalSession(se Session) (map[string]types.AttributeValue, error) {
	if se.Tags == nil {
		se.Tags = []string{}
	}
	it := sessionItem{Session: se, PK: ddb.SessionPK(se.ID), SK: ddb.MetaSK,
		GSI1PK: ddb.OwnerPK(se.OwnerID), GSI1SK: se.ID, GSI2PK: ddb.TypeShardPK(ddb.KindSession, se.ID), GSI2SK: se.ID, Entity: EntitySession}
	if se.TeamID != "" {
		it.GSI3PK, it.GSI3SK = ddb.TeamSessionsPK(se.TeamID), se.ID
	}
	if next, ok := se.NextCheck(); ok {
		it.GSI4PK, it.GSI4SK = ddb.ScheduleShardPK(se.ID), ddb.DueSK(next, se.ID)
	}
	return attributevalue.MarshalMap(it)
}

// UnmarshalSession decodes a stored session item (also a stream image).
func UnmarshalSession(item map[string]types.AttributeValue) (Session, error) {
	var se Session
	if err := attributevalue.UnmarshalMap(item, &se); err != nil {
		return Session{}, fmt.Errorf("decode session: %w", err)
	}
	if se.Tags == nil {
		se.Tags = []string{}
	}
	return se, nil
}

// ErrNotFound is what callers see for sessions that do not exist or are not theirs.
var ErrNotFound = problem.NotFound("session")

// errVersionConflict means another writer changed the session since it was read.
var errVersionConflict = errors.New("session version conflict")

// Limits bound what one owner may run at once.
type Limits struct {
	MaxSessions  int
	MaxCPUMillis int
	MaxMemoryMiB int
}

// DefaultLimits are the per-user quota unless configured otherwise.
var DefaultLimits = Limits{MaxSessions: 5, MaxCPUMillis: 16000, MaxMemoryMiB: 32768}

// teamQuotaChange moves a team's headroom: taking (positive sessions/amt) is refused when the
// headroom is short, giving back always succeeds. Headroom (limit − usage) is kept rather than
// usage so the condition needs no arithmetic on two stored values.
func (st *Store) teamQuotaChange(teamID string, sessions int, amt resources.Amount) types.TransactWriteItem {
	u := &types.Update{TableName: &st.Table, Key: ddb.TeamQuotaKey(teamID),
		UpdateExpression: aws.String("ADD sessionsLeft :n, cpuLeft :c, memoryLeft :m"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": n(-sessions), ":c": n(-amt.CPUMillis), ":m": n(-amt.MemoryMiB)}}
	var conds []string
	if sessions > 0 {
		conds = append(conds, "sessionsLeft >= :tn")
		u.ExpressionAttributeValues[":tn"] = n(sessions)
	}
	if amt.CPUMillis > 0 {
		conds = append(conds, "cpuLeft >= :tc")
		u.ExpressionAttributeValues[":tc"] = n(amt.CPUMillis)
	}
	if amt.MemoryMiB > 0 {
		conds = append(conds, "memoryLeft >= :tm")
		u.ExpressionAttributeValues[":tm"] = n(amt.MemoryMiB)
	}
	if len(conds) > 0 {
		u.ConditionExpression = aws.String(strings.Join(conds, " AND "))
	}
	return types.TransactWriteItem{Update: u}
}

// quotaChanges charges (or, negative, releases) a session's owner and team together.
func (st *Store) quotaChanges(se Session, sessions int, amt resources.Amount, lim Limits) []types.TransactWriteItem {
	out := []types.TransactWriteItem{st.quotaChange(se.OwnerID, sessions, amt, lim)}
	if se.TeamID != "" {
		out = append(out, st.teamQuotaChange(se.TeamID, sessions, amt))
	}
	return out
}

// quotaChange adds amt (negative to release) to an owner's usage, refusing to exceed limits.
func (st *Store) quotaChange(owner string, sessions int, amt resources.Amount, lim Limits) types.TransactWriteItem {
	u := &types.Update{TableName: &st.Table, Key: quotaKey(owner),
		UpdateExpression: aws.String("ADD liveSessions :n, cpuMillis :c, memoryMiB :m"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": n(sessions), ":c": n(amt.CPUMillis), ":m": n(amt.MemoryMiB)}}
	if sessions > 0 || amt.CPUMillis > 0 || amt.MemoryMiB > 0 {
		// Limits are checked against the stored counters inside the transaction, so concurrent
		// creates can never overshoot them together.
		u.ConditionExpression = aws.String("(attribute_not_exists(liveSessions) OR liveSessions <= :maxN) AND " +
			"(attribute_not_exists(cpuMillis) OR cpuMillis <= :maxC) AND (attribute_not_exists(memoryMiB) OR memoryMiB <= :maxM)")
		u.ExpressionAttributeValues[":maxN"] = n(lim.MaxSessions - sessions)
		u.ExpressionAttributeValues[":maxC"] = n(lim.MaxCPUMillis - amt.CPUMillis)
		u.ExpressionAttributeValues[":maxM"] = n(lim.MaxMemoryMiB - amt.MemoryMiB)
		if lim.MaxSessions < sessions || lim.MaxCPUMillis < amt.CPUMillis || lim.MaxMemoryMiB < amt.MemoryMiB {
			// The change alone exceeds a limit, so it fails whatever the counters hold, also
			// when they do not exist yet (a user's first session), which the clauses above let
			// through: a condition no item meets, refused as the others are.
			u.ConditionExpression = aws.String("attribute_exists(PK) AND attribute_not_exists(PK)")
			for _, k := range []string{":maxN", ":maxC", ":maxM"} {
				delete(u.ExpressionAttributeValues, k) // DynamoDB refuses unused values
			}
		}
	}
	return types.TransactWriteItem{Update: u}
}

// Create writes a new session, its quota charges and its idempotency record in one
// transaction; a team session also checks, in the same transaction, that the creator's team
// role may create sessions. A replayed Idempotency-Key returns the session the first request
// created.
func (st *Store) Create(ctx context.Context, se Session, amt resources.Amount, lim Limits, idem *idempotency.Claim) (Session, bool, error) {
	item, err := marshalSession(se)
	if err != nil {
		return Session{}, false, err
	}
	tx := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &st.Table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		st.quotaChange(se.OwnerID, 1, amt, lim),
	}
	if se.TeamID != "" {
		tx = append(tx, st.teamQuotaChange(se.TeamID, 1, amt), types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: &st.Table, Key: ddb.MemberKey(se.TeamID, se.OwnerID),
			ConditionExpression:       aws.String("#r IN (:r1, :r2, :r3)"),
			ExpressionAttributeNames:  map[string]string{"#r": "role"},
			ExpressionAttributeValues: creatorRoles()}})
	}
	if idem != nil {
		idem.ResourceID = se.ID
	}
	rec, err := idempotency.Write(ctx, st.DB, st.Table, idem, tx)
	if rec != nil {
		se, err := st.Get(ctx, rec.ID())
		return se, true, err
	}
	if err == nil {
		return se, false, nil
	}
	reasons := ddb.CancelReasons(err)
	switch {
	case se.TeamID != "" && len(reasons) > 3 && reasons[3]:
		return Session{}, false, problem.Forbidden("creating team sessions needs the team.sessions.create permission")
	case len(reasons) > 1 && reasons[1]:
		return Session{}, false, quotaExceeded(lim)
	case se.TeamID != "" && len(reasons) > 2 && reasons[2]:
		p := problem.Forbidden("the team's quota is exhausted")
		p.Type = "https://streamspace.dev/problems/quota-exceeded"
		return Session{}, false, p
	}
	return Session{}, false, fmt.Errorf("create session: %w", err)
}

// creatorRoles are the team roles holding team.sessions.create.
func creatorRoles() map[string]types.AttributeValue {
	out := map[string]types.AttributeValue{}
	i := 1
	for _, r := range access.TeamRoles {
		if access.RoleHas(r, access.PermSessionsCreate) {
			out[fmt.Sprintf(":r%d", i)] = s(r)
			i++
		}
	}
	return out
}

func quotaExceeded(lim Limits) error {
	p := problem.Forbidden(fmt.Sprintf("quota exceeded: you may run at most %d live sessions using %s and %s in total (a team's sessions count too)",
		lim.MaxSessions, resources.CPUWords(lim.MaxCPUMillis), resources.MemoryWords(lim.MaxMemoryMiB)))
	p.Type = quotaExceededType
	return p
}

const quotaExceededType = "https://streamspace.dev/problems/quota-exceeded"

// Get reads one session (strongly consistent: callers act on what they read).
func (st *Store) Get(ctx context.Context, id string) (Session, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: SessionKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	if out.Item == nil {
		return Session{}, ErrNotFound
	}
	return UnmarshalSession(out.Item)
}

// Save replaces old with next if nobody changed it meanwhile (version check), together with
// any quota change and extra writes, atomically.
func (st *Store) Save(ctx context.Context, old, next Session, quota []types.TransactWriteItem, extra ...types.TransactWriteItem) error {
	next.Version = old.Version + 1
	item, err := marshalSession(next)
	if err != nil {
		return err
	}
	put := &types.Put{TableName: &st.Table, Item: item, ConditionExpression: aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(old.Version)}}
	if len(quota) == 0 && len(extra) == 0 {
		_, err = st.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item,
			ConditionExpression: put.ConditionExpression, ExpressionAttributeValues: put.ExpressionAttributeValues})
		var cfe *types.ConditionalCheckFailedException
		if errors.As(err, &cfe) {
			return errVersionConflict
		}
		return err
	}
	tx := append(append([]types.TransactWriteItem{{Put: put}}, quota...), extra...)
	_, err = st.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	reasons := ddb.CancelReasons(err)
	switch {
	case err == nil:
		return nil
	case len(reasons) > 0 && reasons[0]:
		return errVersionConflict
	case len(reasons) > 0:
		for i, failed := range reasons[1:] {
			if failed && i < len(quota) {
				return errQuota
			}
			if failed {
				return extraFailed{index: i - len(quota)}
			}
		}
	}
	return fmt.Errorf("save session: %w", err)
}

var errQuota = errors.New("quota exceeded")

// extraFailed says which extra write's condition failed.
type extraFailed struct{ index int }

func (e extraFailed) Error() string {
	return fmt.Sprintf("condition of extra write %d failed", e.index)
}

// ListQuery selects a page of sessions.
type ListQuery struct {
	OwnerID      string // "" with All = every session
	All          bool
	TeamID       string // a team's sessions (GSI3)
	State        string
	Tag          string
	TemplateName string
	Limit        int
	Cursor       string
}

// List returns one page, newest first: one Query on GSI1 (an owner) or GSI3 (a team), or one
// per GSI2 shard merged by id (everyone). Filters apply within the page, so a filtered page may
// hold fewer than Limit items while nextCursor still leads on.
func (st *Store) List(ctx context.Context, q ListQuery) ([]Session, string, error) {
	index, pkAttr, skAttr, pkVal := ddb.GSI1, ddb.GSI1PK, ddb.GSI1SK, ddb.OwnerPK(q.OwnerID)
	switch {
	case q.TeamID != "":
		index, pkAttr, skAttr, pkVal = ddb.GSI3, ddb.GSI3PK, ddb.GSI3SK, ddb.TeamSessionsPK(q.TeamID)
	case q.All:
		index = ddb.GSI2
	}
	in := &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(index),
		ExpressionAttributeNames: map[string]string{}, ExpressionAttributeValues: map[string]types.AttributeValue{}}
	var filters []string
	if q.State != "" {
		filters = append(filters, "#state = :state")
		in.ExpressionAttributeNames["#state"] = "state"
		in.ExpressionAttributeValues[":state"] = s(q.State)
	}
	if q.Tag != "" {
		filters = append(filters, "contains(tags, :tag)")
		in.ExpressionAttributeValues[":tag"] = s(q.Tag)
	}
	if q.TemplateName != "" {
		filters = append(filters, "templateName = :tpl")
		in.ExpressionAttributeValues[":tpl"] = s(q.TemplateName)
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	}
	var page []map[string]types.AttributeValue
	var next string
	if q.All {
		var err error
		page, next, err = ddb.QueryShards(ctx, st.DB, ddb.ShardQuery{Input: *in, PKAttr: ddb.GSI2PK, SKAttr: ddb.GSI2SK,
			Partitions: ddb.TypeShardPKs(ddb.KindSession), Listing: ddb.TypePK(ddb.KindSession), Descending: true, Limit: q.Limit, Cursor: q.Cursor})
		if err != nil {
			return nil, "", err
		}
	} else {
		start, err := ddb.DecodeCursor(q.Cursor, map[string]string{pkAttr: pkVal}, pkAttr, skAttr, ddb.PK, ddb.SK)
		if err != nil {
			return nil, "", err
		}
		in.KeyConditionExpression, in.ExclusiveStartKey = aws.String("#pk = :pk"), start
		in.ExpressionAttributeNames["#pk"], in.ExpressionAttributeValues[":pk"] = pkAttr, s(pkVal)
		in.ScanIndexForward, in.Limit = aws.Bool(false), aws.Int32(int32(q.Limit))
		out, err := st.DB.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("list sessions: %w", err)
		}
		page, next = out.Items, ddb.EncodeCursor(out.LastEvaluatedKey)
	}
	items := make([]Session, 0, len(page))
	for _, it := range page {
		se, err := UnmarshalSession(it)
		if err != nil {
			return nil, "", err
		}
		items = append(items, se)
	}
	return items, next, nil
}

// Connection is a viewer's connection to a session (the stream turns these into
// session.connected / session.disconnected).
type Connection struct {
	ConnectionID    string `json:"connectionId" dynamodbav:"connectionId"`
	SessionID       string `json:"sessionId" dynamodbav:"sessionId"`
	UserID          string `json:"userId" dynamodbav:"userId"`
	PermissionLevel string `json:"permissionLevel" dynamodbav:"permissionLevel"`
	ConnectedAt     string `json:"connectedAt" dynamodbav:"connectedAt"`
	OwnerID         string `json:"-" dynamodbav:"ownerId"`
	TeamID          string `json:"-" dynamodbav:"teamId,omitempty"`
	ExpiresAt       int64  `json:"-" dynamodbav:"expiresAt"`
	IP              string `json:"-" dynamodbav:"ip,omitempty"`
	UserAgent       string `json:"-" dynamodbav:"userAgent,omitempty"`
	// State is issued (a ticket, not yet used) or open (the gateway holds the stream); items
	// written before the gateway existed have none and count as open.
	State    string `json:"-" dynamodbav:"state,omitempty"`
	OpenedAt string `json:"-" dynamodbav:"openedAt,omitempty"`
	// What the gateway wrote just before removing an open connection.
	CloseReason string `json:"-" dynamodbav:"closeReason,omitempty"`
	BytesIn     int64  `json:"-" dynamodbav:"bytesIn,omitempty"`
	BytesOut    int64  `json:"-" dynamodbav:"bytesOut,omitempty"`
	DurationMs  int64  `json:"-" dynamodbav:"durationMs,omitempty"`
}

// Open reports whether the gateway holds this connection's stream.
func (c Connection) Open() bool { return c.State != ConnIssued }

// openTTL is how long an open connection counts without the gateway renewing it: a gateway that
// died leaves connections that disappear on their own.
const openTTL = 3 * time.Minute

// issueConnection records a ticket's connection, once.
func (st *Store) issueConnection(ctx context.Context, c Connection) error {
	put, err := st.putConnection(c)
	if err != nil {
		return err
	}
	put.Put.ConditionExpression = aws.String("attribute_not_exists(PK)")
	_, err = st.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.Put.TableName, Item: put.Put.Item,
		ConditionExpression: put.Put.ConditionExpression})
	if err != nil {
		return fmt.Errorf("issue connection: %w", err)
	}
	return nil
}

// openConnection turns an issued connection of userID into an open one; it fails (and with it
// the transaction) if the ticket was used already or the connection is not the user's.
func (st *Store) openConnection(sessionID, connID, userID string, now time.Time) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &st.Table, Key: connKey(sessionID, connID),
		UpdateExpression:         aws.String("SET #st = :open, openedAt = :at, connectedAt = :at, expiresAt = :e"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #st = :issued AND userId = :u"),
		ExpressionAttributeNames: map[string]string{"#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": s(ConnOpen), ":issued": s(ConnIssued), ":u": s(userID),
			":at": s(now.Format(time.RFC3339Nano)), ":e": n(int(now.Add(openTTL).Unix()))}}}
}

// RenewConnections extends open connections' expiry (the gateway, for the streams it holds);
// connections removed meanwhile are skipped.
func (st *Store) RenewConnections(ctx context.Context, sessionID string, connIDs []string, now time.Time) error {
	for _, id := range connIDs {
		_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: connKey(sessionID, id),
			UpdateExpression:         aws.String("SET expiresAt = :e"),
			ConditionExpression:      aws.String("attribute_exists(PK) AND #st = :open"),
			ExpressionAttributeNames: map[string]string{"#st": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":open": s(ConnOpen),
				":e": n(int(now.Add(openTTL).Unix()))}})
		if err != nil && !ddb.ConditionFailed(err) {
			return fmt.Errorf("renew connection: %w", err)
		}
	}
	return nil
}

// markClosing writes the closing facts on an open connection; a connection already removed is
// not an error (whoever removed it ended it).
func (st *Store) markClosing(ctx context.Context, sessionID, connID string, info CloseInfo) error {
	_, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &st.Table, Key: connKey(sessionID, connID),
		UpdateExpression:         aws.String("SET closeReason = :r, bytesIn = :i, bytesOut = :o, durationMs = :d"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #st = :open"),
		ExpressionAttributeNames: map[string]string{"#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":open": s(ConnOpen), ":r": s(info.Reason),
			":i": n64(info.BytesIn), ":o": n64(info.BytesOut), ":d": n64(info.Duration.Milliseconds())}})
	if err != nil && !ddb.ConditionFailed(err) {
		return fmt.Errorf("close connection: %w", err)
	}
	return nil
}

// connection reads one connection (nil when absent).
func (st *Store) connection(ctx context.Context, sessionID, connID string) (*Connection, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &st.Table, Key: connKey(sessionID, connID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read connection: %w", err)
	}
	if out.Item == nil {
		return nil, nil
	}
	var c Connection
	return &c, attributevalue.UnmarshalMap(out.Item, &c)
}

// EntityConnection marks viewer-connection items.
const EntityConnection = "sessionConnection"

func connKey(sessionID, connID string) map[string]types.AttributeValue {
	return ddb.Key(ddb.SessionPK(sessionID), ddb.ViewerConnSK(connID))
}

func (st *Store) putConnection(c Connection) (types.TransactWriteItem, error) {
	item, err := attributevalue.MarshalMap(c)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	for k, v := range connKey(c.SessionID, c.ConnectionID) {
		item[k] = v
	}
	item["entity"] = s(EntityConnection)
	return types.TransactWriteItem{Put: &types.Put{TableName: &st.Table, Item: item}}, nil
}

// deleteConnection removes a connection only if it belongs to userID ("" = anyone's).
func (st *Store) deleteConnection(sessionID, connID, userID string) types.TransactWriteItem {
	d := &types.Delete{TableName: &st.Table, Key: connKey(sessionID, connID), ConditionExpression: aws.String("attribute_exists(PK)")}
	if userID != "" {
		d.ConditionExpression = aws.String("attribute_exists(PK) AND userId = :u")
		d.ExpressionAttributeValues = map[string]types.AttributeValue{":u": s(userID)}
	}
	return types.TransactWriteItem{Delete: d}
}

// touchConnection extends a live connection's expiry; it fails if the connection is not the caller's.
func (st *Store) touchConnection(sessionID, connID, userID string, expiresAt int64) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &st.Table, Key: connKey(sessionID, connID),
		UpdateExpression:    aws.String("SET expiresAt = :e"),
		ConditionExpression: aws.String("attribute_exists(PK) AND userId = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s(userID),
			":e": &types.AttributeValueMemberN{Value: strconv.FormatInt(expiresAt, 10)}}}}
}

// GetMany reads several sessions with BatchGetItem (missing ones are absent from the map).
func (st *Store) GetMany(ctx context.Context, idList []string) (map[string]Session, error) {
	keys := make([]map[string]types.AttributeValue, 0, len(idList))
	for _, id := range idList {
		keys = append(keys, SessionKey(id))
	}
	items, err := ddb.BatchGet(ctx, st.DB, st.Table, keys, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Session, len(items))
	for _, item := range items {
		se, err := UnmarshalSession(item)
		if err != nil {
			return nil, err
		}
		out[se.ID] = se
	}
	return out, nil
}

// Connections lists a session's open viewer connections (one query of its partition): issued
// tickets not yet used and connections whose gateway stopped renewing them are left out.
func (st *Store) Connections(ctx context.Context, sessionID string, now time.Time) ([]Connection, error) {
	out, err := st.DB.Query(ctx, &dynamodb.QueryInput{TableName: &st.Table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:   aws.String("PK = :pk AND begins_with(SK, :c)"),
		FilterExpression:         aws.String("expiresAt > :now AND (attribute_not_exists(#st) OR #st = :open)"),
		ExpressionAttributeNames: map[string]string{"#st": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.SessionPK(sessionID)), ":c": s(ddb.ViewerConnPrefix),
			":now": n(int(now.Unix())), ":open": s(ConnOpen)}})
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	conns := []Connection{}
	return conns, attributevalue.UnmarshalListOfMaps(out.Items, &conns)
}

func n64(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

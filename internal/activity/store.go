package activity

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/problem"
)

// Store keeps activity in the audit table:
//
//	ACT#SESSION#<sessionId> / <time>#<id>    one record (GSI1 = ACT#USER#<actorId> / same sort key)
//	ACTSTATS#<shard> / TOTAL, HOUR#<h>, DAY#<d>#CAT#<c>, DAY#<d>#TYPE#<t>    counters
//
// The counters are split over ddb.Shards partitions by session (one partition would cap every
// activity write at ~1,000 WCU/s); Stats sums the shards and the unsharded ACTSTATS partition
// that counted before.
//
// A record's put is conditional on the record not existing, and only records written count: a
// redelivered stream record is neither written nor counted twice. The stream consumer adds the
// counters of a whole batch at once (one update per counter); POST /activity/log writes a
// record and its counters in one transaction.
type Store struct {
	DB        *dynamodb.Client
	Table     string
	Retention time.Duration // records expire (TTL) after this; default 90 days
	// IdempotencyTable is the main table, where Idempotency-Key records of every route live
	// (one table, so a key reused on another route is seen).
	IdempotencyTable string
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// str and num read a string and a number attribute ("" and 0 when absent or of another type).
func str(v types.AttributeValue) string {
	if m, ok := v.(*types.AttributeValueMemberS); ok {
		return m.Value
	}
	return ""
}

func num(v types.AttributeValue) int {
	m, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	i, _ := strconv.Atoi(m.Value)
	return i
}
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// sortKey orders entries by time (milliseconds), then by commit order. Platform entries take
// both from the stream record (the changed item's own time and the record's sequence number), so
// a redelivered record maps to the same key.
func sortKey(a Activity) string {
	return ddb.ActivitySK(a.Timestamp, a.Order, a.ID)
}

// Put records an activity once with its counters; it reports false when it was already
// recorded. The stream consumer uses PutEntry and Counts instead (counters per batch).
func (st *Store) Put(ctx context.Context, a Activity) (bool, error) {
	ok, _, err := st.PutClaimed(ctx, a, nil)
	return ok, err
}

func (st *Store) retention() time.Duration {
	if st.Retention == 0 {
		return 90 * 24 * time.Hour
	}
	return st.Retention
}

// entryItem is the stored form of an activity entry.
func (st *Store) entryItem(a Activity) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(a)
	if err != nil {
		return nil, err
	}
	sk := sortKey(a)
	item[ddb.PK], item[ddb.SK] = s(ddb.ActivitySessionPK(a.SessionID)), s(sk)
	if a.ActorID != "" {
		item[ddb.GSI1PK], item[ddb.GSI1SK] = s(ddb.ActivityUserPK(a.ActorID)), s(sk)
	}
	item[ddb.TTLAttribute] = n(a.Timestamp.Add(st.retention()).Unix())
	return item, nil
}

// Counts are counter increments gathered over several entries (one stream batch), written
// with one UpdateItem per counter item instead of counter updates per entry. A day's counters
// are attributes of one item (DAY#<date>: "h<HH>" per hour, "c#<category>", "t#<type>"), so a
// batch writes two items, that day and the all-time total, however varied its entries.
type Counts map[counterKey]counterDelta

// counterKey is a counter: its item (shard partition and sort key) and its attribute there.
type counterKey struct{ pk, sk, attr string }

// Attributes of the counter items.
const (
	totalAttr    = "count"
	hourAttr     = "h"  // + the UTC hour, "00".."23"
	categoryAttr = "c#" // + the category
	typeAttr     = "t#" // + the event type
)

// inOnePartition moves every counter of a batch to one shard partition (the smallest the batch
// touched; any works, the statistics sum every shard): entries of a batch of several sessions
// then share their counter items, and batches still spread over the shards as their sessions do.
func (c Counts) inOnePartition() Counts {
	pk := ""
	for k := range c {
		if pk == "" || k.pk < pk {
			pk = k.pk
		}
	}
	out := Counts{}
	for k, d := range c {
		m := counterKey{pk, k.sk, k.attr}
		sum := out[m]
		sum.n += d.n
		if d.exp.After(sum.exp) {
			sum.exp = d.exp
		}
		out[m] = sum
	}
	return out
}

// items groups the counters by item, in a stable order (the order they are written in).
func (c Counts) items() [][]counterKey {
	keys := make([]counterKey, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.pk < b.pk || (a.pk == b.pk && (a.sk < b.sk || (a.sk == b.sk && a.attr < b.attr)))
	})
	var out [][]counterKey
	for i, k := range keys {
		if i == 0 || k.pk != keys[i-1].pk || k.sk != keys[i-1].sk {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], k)
	}
	return out
}

type counterDelta struct {
	n   int64
	exp time.Time
}

// Add counts one recorded entry: the total, and its hour, category and type in its day's item.
func (c Counts) Add(a Activity) {
	t, pk := a.Timestamp.UTC(), ddb.ActivityStatsShardPK(a.SessionID)
	add := func(sk, attr string, exp time.Time) {
		k := counterKey{pk, sk, attr}
		d := c[k]
		d.n++
		if exp.After(d.exp) {
			d.exp = exp
		}
		c[k] = d
	}
	// A day item outlives the 7 days the statistics read, whichever hour wrote it last.
	day, dayExp := ddb.DaySK(t), t.Truncate(24*time.Hour).AddDate(0, 0, 9)
	add(ddb.TotalSK, totalAttr, t.AddDate(100, 0, 0))
	add(day, hourAttr+t.Format("15"), dayExp)
	add(day, categoryAttr+a.EventCategory, dayExp)
	add(day, typeAttr+a.EventType, dayExp)
}

// itemUpdate adds one item's counters: ADD each attribute, SET the latest expiry.
func (st *Store) itemUpdate(c Counts, keys []counterKey) *types.Update {
	names, vals := map[string]string{}, map[string]types.AttributeValue{}
	var adds []string
	var exp time.Time
	for i, k := range keys {
		d := c[k]
		names[fmt.Sprintf("#a%d", i)] = k.attr
		vals[fmt.Sprintf(":v%d", i)] = n(d.n)
		adds = append(adds, fmt.Sprintf("#a%d :v%d", i, i))
		if d.exp.After(exp) {
			exp = d.exp
		}
	}
	vals[":exp"] = n(exp.Unix())
	return &types.Update{TableName: &st.Table, Key: ddb.Key(keys[0].pk, keys[0].sk),
		UpdateExpression:          aws.String("ADD " + strings.Join(adds, ", ") + " SET expiresAt = :exp"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals}
}

// PutEntry records an activity entry once, without counters (1 WRU and its GSI1 copy, against
// 5 items in a transaction); it reports false when the entry was already recorded. The caller
// counts what it wrote (Counts) and writes the counters with AddCounts.
func (st *Store) PutEntry(ctx context.Context, a Activity) (bool, error) {
	item, err := st.entryItem(a)
	if err != nil {
		return false, err
	}
	_, err = st.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &st.Table, Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record activity: %w", err)
	}
	return true, nil
}

// AddCounts writes counter increments, one UpdateItem per counter item (in a stable order); what
// was written leaves c, so a retry writes only the rest.
func (st *Store) AddCounts(ctx context.Context, c Counts) error {
	for _, keys := range c.items() {
		u := st.itemUpdate(c, keys)
		if _, err := st.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key,
			UpdateExpression: u.UpdateExpression, ExpressionAttributeNames: u.ExpressionAttributeNames,
			ExpressionAttributeValues: u.ExpressionAttributeValues}); err != nil {
			return fmt.Errorf("activity counters %s %s: %w", keys[0].pk, keys[0].sk, err)
		}
		for _, k := range keys {
			delete(c, k)
		}
	}
	return nil
}

// PutClaimed is Put with an Idempotency-Key claim (when idem is not nil) in the same
// transaction; a record back is a replay of an earlier request with that key.
func (st *Store) PutClaimed(ctx context.Context, a Activity, idem *idempotency.Claim) (bool, *idempotency.Record, error) {
	item, err := st.entryItem(a)
	if err != nil {
		return false, nil, err
	}
	tx := []types.TransactWriteItem{
		{Put: &types.Put{TableName: &st.Table, Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}
	c := Counts{}
	c.Add(a)
	for _, keys := range c.items() {
		tx = append(tx, types.TransactWriteItem{Update: st.itemUpdate(c, keys)})
	}
	rec, err := idempotency.Write(ctx, st.DB, st.IdempotencyTable, idem, tx)
	if rec != nil {
		return false, rec, nil
	}
	if r := ddb.CancelReasons(err); len(r) > 0 && r[0] {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("record activity: %w", err)
	}
	return true, nil, nil
}

// Query selects activity.
type Query struct {
	SessionID, UserID   string // one of them
	EventType, Category string
	Since, Until        time.Time
	Oldest              bool // oldest first (timeline); newest first otherwise
	Limit               int
	Cursor              string
}

// List returns one page: one Query on the session's partition or on GSI1 for a user.
func (st *Store) List(ctx context.Context, q Query) ([]Activity, string, error) {
	pkAttr, skAttr, pk, index := ddb.PK, ddb.SK, ddb.ActivitySessionPK(q.SessionID), ""
	keys := []string{ddb.PK, ddb.SK}
	if q.UserID != "" {
		pkAttr, skAttr, pk, index = ddb.GSI1PK, ddb.GSI1SK, ddb.ActivityUserPK(q.UserID), ddb.GSI1
		keys = append(keys, ddb.GSI1PK, ddb.GSI1SK)
	}
	start, err := ddb.DecodeCursor(q.Cursor, map[string]string{pkAttr: pk}, keys...)
	if err != nil {
		return nil, "", err
	}
	from, to := "0", "9"
	if !q.Since.IsZero() {
		from = ddb.ActivitySecond(q.Since)
	}
	if !q.Until.IsZero() { // until is inclusive to the second
		to = ddb.ActivitySecond(q.Until.Truncate(time.Second).Add(time.Second))
	}
	// DynamoDB refuses a start key outside the key condition: a cursor kept across a change of
	// since/until (or forged) is the client's mistake, not a server fault (SEC-11).
	if start != nil {
		sk, _ := start[skAttr].(*types.AttributeValueMemberS)
		if sk == nil || sk.Value < from || sk.Value > to {
			return nil, "", problem.Invalid("cursor", "does not belong to this listing (its since/until changed?)")
		}
	}
	in := &dynamodb.QueryInput{TableName: &st.Table, ScanIndexForward: aws.Bool(q.Oldest), Limit: aws.Int32(int32(q.Limit)),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ExpressionAttributeNames:  map[string]string{"#pk": pkAttr, "#sk": skAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":from": s(from), ":to": s(to)},
		ExclusiveStartKey:         start}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	var filters []string
	if q.EventType != "" {
		filters = append(filters, "eventType = :t")
		in.ExpressionAttributeValues[":t"] = s(q.EventType)
	}
	if q.Category != "" {
		filters = append(filters, "eventCategory = :c")
		in.ExpressionAttributeValues[":c"] = s(q.Category)
	}
	if len(filters) > 0 {
		in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	}
	out, err := st.DB.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("list activity: %w", err)
	}
	items := []Activity{}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &items); err != nil {
		return nil, "", err
	}
	return items, ddb.EncodeCursor(out.LastEvaluatedKey), nil
}

// Stats is the answer of GET /activity/stats.
type Stats struct {
	Total        int            `json:"total"`
	Last24h      int            `json:"last24h"`
	ByCategory7d map[string]int `json:"byCategory7d"`
	TopTypes7d   []TypeCount    `json:"topTypes7d"`
}

// TypeCount is one line of the top types.
type TypeCount struct {
	EventType string `json:"eventType"`
	Count     int    `json:"count"`
}

// Stats reads the counters: per counter partition (the shards and the unsharded one) one
// key-conditioned query from 7 days ago's day items to the total, never the records.
func (st *Store) Stats(ctx context.Context, now time.Time) (Stats, error) {
	now = now.UTC()
	pks := ddb.ActivityStatsPKs()
	found, errs := make([][]map[string]types.AttributeValue, len(pks)), make([]error, len(pks))
	var wg sync.WaitGroup
	for i, pk := range pks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], errs[i] = ddb.QueryItems(ctx, st.DB, &dynamodb.QueryInput{TableName: &st.Table,
				KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :f AND :t"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk), ":f": s(ddb.DaySK(now.AddDate(0, 0, -6))), ":t": s(ddb.TotalSK)}})
		}()
	}
	wg.Wait()
	out := Stats{ByCategory7d: map[string]int{}, TopTypes7d: []TypeCount{}}
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	hourFrom, hourTo, dayTo := now.Add(-23*time.Hour).Truncate(time.Hour), now.Truncate(time.Hour), ddb.DayEnd(now)
	inLast24h := func(h time.Time) bool { return !h.Before(hourFrom) && !h.After(hourTo) }
	byType := map[string]int{}
	for _, part := range found {
		for _, item := range part {
			sk := str(item[ddb.SK])
			if sk > dayTo && sk != ddb.TotalSK && !strings.HasPrefix(sk, ddb.HourPrefix) {
				continue // a later day (clock skew between writers)
			}
			if day, ok := ddb.DayOf(sk); ok { // a day's item: hours, categories, types
				for attr, v := range item {
					c := num(v)
					switch {
					case strings.HasPrefix(attr, hourAttr) && len(attr) == len(hourAttr)+2:
						if h, err := strconv.Atoi(attr[len(hourAttr):]); err == nil && inLast24h(day.Add(time.Duration(h)*time.Hour)) {
							out.Last24h += c
						}
					case strings.HasPrefix(attr, categoryAttr):
						out.ByCategory7d[attr[len(categoryAttr):]] += c
					case strings.HasPrefix(attr, typeAttr):
						byType[attr[len(typeAttr):]] += c
					}
				}
				continue
			}
			// The total, and counters kept one item each before the day items (still read until
			// they expire: hours after 49 h, days after 9).
			c := num(item[totalAttr])
			switch {
			case sk == ddb.TotalSK:
				out.Total += c
			case strings.HasPrefix(sk, ddb.HourPrefix):
				if h, ok := ddb.HourOf(sk); ok && inLast24h(h) {
					out.Last24h += c
				}
			default:
				parts := strings.SplitN(sk, "#", 4) // DAY, date, CAT|TYPE, name
				if len(parts) != 4 {
					continue
				}
				if parts[2] == "CAT" {
					out.ByCategory7d[parts[3]] += c
				} else {
					byType[parts[3]] += c
				}
			}
		}
	}
	for t, c := range byType {
		out.TopTypes7d = append(out.TopTypes7d, TypeCount{t, c})
	}
	sort.Slice(out.TopTypes7d, func(i, j int) bool {
		a, b := out.TopTypes7d[i], out.TopTypes7d[j]
		return a.Count > b.Count || (a.Count == b.Count && a.EventType < b.EventType)
	})
	if len(out.TopTypes7d) > 10 {
		out.TopTypes7d = out.TopTypes7d[:10]
	}
	return out, nil
}

package ddb

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Write sharding. A partition that every item of a kind writes (GSI2's TYPE#session and
// TYPE#user, GSI4's SCHED, the activity counters) caps the platform at one partition's ~1,000
// WCU/s. Such a key gets a deterministic suffix from the item's id, so writes spread over Shards
// partitions and an item always lands in the same one; readers query every shard, plus the
// unsuffixed key that items written before sharding still carry (see docs/data-model.md,
// "Hot partitions"), and merge.

// Shards is the number of write shards of each sharded key. Changing it moves items between
// shards on their next write; readers then need the old and new sets, so treat it as a migration.
const Shards = 16

// ShardOf is the shard of an id: FNV-1a, stable across processes and releases.
func ShardOf(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % Shards)
}

func shardKey(base string, shard int) string { return shardKeyOf(base, fmt.Sprintf("%02d", shard)) }

func shardKeyOf(base, shard string) string { return base + "#" + shard }

// shardKeys is every shard of base, then base itself (items written before sharding).
func shardKeys(base string) []string {
	out := make([]string, 0, Shards+1)
	for i := 0; i < Shards; i++ {
		out = append(out, shardKey(base, i))
	}
	return append(out, base)
}

// TypeShardPK is the GSI2 partition of one session or user (TYPE#<kind>#<shard>).
func TypeShardPK(kind, id string) string { return shardKey(TypePK(kind), ShardOf(id)) }

// TypeShardPKs are the GSI2 partitions a listing of a sharded kind reads.
func TypeShardPKs(kind string) []string { return shardKeys(TypePK(kind)) }

// ScheduleShardPK is the GSI4 partition of a live session (SCHED#<shard>).
func ScheduleShardPK(sessionID string) string { return shardKey(SchedulePK, ShardOf(sessionID)) }

// SchedulePKs are the GSI4 partitions the scheduler reads.
func SchedulePKs() []string { return shardKeys(SchedulePK) }

// ActivityStatsShardPK is the counter partition an activity of this session counts in.
func ActivityStatsShardPK(sessionID string) string {
	return shardKey(ActivityStatsPK, ShardOf(sessionID))
}

// ActivityStatsPKs are the counter partitions the statistics sum.
func ActivityStatsPKs() []string { return shardKeys(ActivityStatsPK) }

// ShardQuery is one page of a listing whose items are spread over several partitions of one
// index, read as if it were one partition ordered by the sort key.
type ShardQuery struct {
	// Input carries the table, index, filter and its names and values; the key condition, start
	// key and limit are set per partition.
	Input          dynamodb.QueryInput
	PKAttr, SKAttr string
	Partitions     []string
	// Listing is the partition value a cursor is bound to (the unsharded key).
	Listing    string
	Descending bool
	Limit      int
	Cursor     string
}

// QueryShards queries every partition (concurrently, each from the cursor on, Limit items) and
// merges them. Only items up to the nearest point where some partition stopped are known to be
// complete, so the page ends there (or at Limit); the cursor is the last sort key given, and the
// next page reads every partition past it. Filters apply within the page, as with one query.
// An item found in two partitions (moved by a write during the read) is given once.
func QueryShards(ctx context.Context, db *dynamodb.Client, q ShardQuery) ([]map[string]types.AttributeValue, string, error) {
	start, err := DecodeCursor(q.Cursor, map[string]string{q.PKAttr: q.Listing}, q.PKAttr, q.SKAttr)
	if err != nil {
		return nil, "", err
	}
	type result struct {
		items []map[string]types.AttributeValue
		stop  string // the sort key where this partition stopped ("" = exhausted)
		err   error
	}
	results := make([]result, len(q.Partitions))
	var wg sync.WaitGroup
	for i, p := range q.Partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := q.Input
			in.KeyConditionExpression = aws.String("#spk = :spk")
			names := map[string]string{"#spk": q.PKAttr}
			vals := map[string]types.AttributeValue{":spk": &types.AttributeValueMemberS{Value: p}}
			if start != nil { // DynamoDB refuses names and values an expression does not use
				in.KeyConditionExpression = aws.String("#spk = :spk AND #ssk " + map[bool]string{true: "<", false: ">"}[q.Descending] + " :after")
				names["#ssk"], vals[":after"] = q.SKAttr, start[q.SKAttr]
			}
			in.ExpressionAttributeNames = merged(q.Input.ExpressionAttributeNames, names)
			in.ExpressionAttributeValues = merged(q.Input.ExpressionAttributeValues, vals)
			in.ScanIndexForward, in.Limit = aws.Bool(!q.Descending), aws.Int32(int32(q.Limit))
			out, err := db.Query(ctx, &in)
			if err != nil {
				results[i].err = err
				return
			}
			results[i].items = out.Items
			if sk, ok := out.LastEvaluatedKey[q.SKAttr].(*types.AttributeValueMemberS); ok {
				results[i].stop = sk.Value
			}
		}()
	}
	wg.Wait()
	before := func(a, b string) bool { return (a > b) == q.Descending && a != b } // a comes first
	bound := ""
	for _, r := range results {
		if r.err != nil {
			return nil, "", fmt.Errorf("query %s: %w", q.Listing, r.err)
		}
		if r.stop != "" && (bound == "" || before(r.stop, bound)) {
			bound = r.stop
		}
	}
	var items []map[string]types.AttributeValue
	seen := map[string]bool{}
	for _, r := range results {
		for _, it := range r.items {
			sk := sortKeyOf(it, q.SKAttr)
			if (bound != "" && before(bound, sk)) || seen[sk] {
				continue
			}
			seen[sk] = true
			items = append(items, it)
		}
	}
	sort.Slice(items, func(i, j int) bool { return before(sortKeyOf(items[i], q.SKAttr), sortKeyOf(items[j], q.SKAttr)) })
	next := bound
	if len(items) > q.Limit {
		items = items[:q.Limit]
		next = sortKeyOf(items[q.Limit-1], q.SKAttr)
	}
	if next == "" {
		return items, "", nil
	}
	return items, EncodeCursor(map[string]types.AttributeValue{
		q.PKAttr: &types.AttributeValueMemberS{Value: q.Listing}, q.SKAttr: &types.AttributeValueMemberS{Value: next}}), nil
}

func sortKeyOf(item map[string]types.AttributeValue, attr string) string {
	s, _ := item[attr].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func merged[V any](a, b map[string]V) map[string]V {
	out := make(map[string]V, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

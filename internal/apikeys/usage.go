package apikeys

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
)

// Usage keeps, in the audit table, everything about how keys are used:
//
//	KEYSTATS#<keyId> / HOUR#<yyyymmddhh>         count (the rate-limit window), rejected, notified
//	KEYSTATS#<keyId> / DAY#<yyyymmdd>#<route>     count (top endpoints)
//	KEYSTATS#<keyId> / TOTAL                      count, lastUsedAt
//	KEYLOG#<keyId>   / <time>#<requestId>         one usage record per request
//
// Statistics are read from these counters, never by scanning the log.
type Usage struct {
	DB        *dynamodb.Client
	Table     string
	Retention time.Duration // usage log lifetime (TTL); default 90 days
}

const hourLayout, dayLayout = "2006010215", "20060102"

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func statsKey(keyID, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{ddb.PK: s("KEYSTATS#" + keyID), ddb.SK: s(sk)}
}

// Window is the state of a key's hourly window after a request was counted.
type Window struct {
	Limit     int
	Count     int // requests admitted this hour, this one included when Allowed
	Allowed   bool
	ResetAt   time.Time
	FirstDeny bool // the first refusal of this hour (announce it once)
}

// Admit counts a request against the key's hourly limit. The conditional ADD makes the limit
// exact under any concurrency: the limit+1st request of the hour fails the condition.
func (u *Usage) Admit(ctx context.Context, keyID string, limit int, now time.Time) (Window, error) {
	hour := now.UTC().Truncate(time.Hour)
	w := Window{Limit: limit, ResetAt: hour.Add(time.Hour)}
	key := statsKey(keyID, "HOUR#"+hour.Format(hourLayout))
	out, err := u.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &u.Table, Key: key,
		UpdateExpression:          aws.String("ADD #c :one SET expiresAt = :exp"),
		ConditionExpression:       aws.String("attribute_not_exists(#c) OR #c < :limit"),
		ExpressionAttributeNames:  map[string]string{"#c": "count"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":limit": n(int64(limit)), ":exp": n(hour.Add(48 * time.Hour).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		// Refused: count the refusal and learn whether it is the hour's first (one call).
		out, err := u.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &u.Table, Key: key,
			UpdateExpression:          aws.String("ADD rejected :one SET notified = if_not_exists(notified, :t)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":t": &types.AttributeValueMemberBOOL{Value: true}},
			ReturnValues:              types.ReturnValueUpdatedOld})
		if err != nil {
			return w, fmt.Errorf("count refusal: %w", err)
		}
		_, seen := out.Attributes["notified"]
		w.Count, w.FirstDeny = limit, !seen
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("rate limit: %w", err)
	}
	var got struct {
		Count int `dynamodbav:"count"`
	}
	_ = attributevalue.UnmarshalMap(out.Attributes, &got)
	w.Count, w.Allowed = got.Count, true
	return w, nil
}

// Record is one request made with a key.
type Record struct {
	KeyID     string    `json:"-" dynamodbav:"keyId"`
	Method    string    `json:"method" dynamodbav:"method"`
	Route     string    `json:"route" dynamodbav:"route"`
	Path      string    `json:"path" dynamodbav:"path"`
	Status    int       `json:"status" dynamodbav:"status"`
	IP        string    `json:"ip" dynamodbav:"ip"`
	UserAgent string    `json:"userAgent" dynamodbav:"userAgent"`
	RequestID string    `json:"requestId" dynamodbav:"requestId"`
	Time      time.Time `json:"time" dynamodbav:"time"`
}

// Log writes the usage record and updates the counters (single writes, no transaction).
func (u *Usage) Log(ctx context.Context, r Record) error {
	ret := u.Retention
	if ret == 0 {
		ret = 90 * 24 * time.Hour
	}
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return err
	}
	item[ddb.PK] = s("KEYLOG#" + r.KeyID)
	item[ddb.SK] = s(r.Time.UTC().Format(time.RFC3339Nano) + "#" + r.RequestID)
	item[ddb.TTLAttribute] = n(r.Time.Add(ret).Unix())
	at, _ := attributevalue.Marshal(r.Time.UTC())
	add := func(sk string, exp time.Time, extra string, vals map[string]types.AttributeValue) *dynamodb.UpdateItemInput {
		v := map[string]types.AttributeValue{":one": n(1), ":exp": n(exp.Unix())}
		for k, x := range vals {
			v[k] = x
		}
		return &dynamodb.UpdateItemInput{TableName: &u.Table, Key: statsKey(r.KeyID, sk),
			UpdateExpression:          aws.String("ADD #c :one SET expiresAt = :exp" + extra),
			ExpressionAttributeNames:  map[string]string{"#c": "count"},
			ExpressionAttributeValues: v}
	}
	// Three single writes (1 WRU each), not a transaction (2 WRU an item): a failure between
	// them leaves a counter one short, never a record counted twice (nothing here is retried).
	if _, err := u.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &u.Table, Item: item}); err != nil {
		return fmt.Errorf("log api key usage: %w", err)
	}
	day := r.Time.UTC().Format(dayLayout)
	for _, up := range []*dynamodb.UpdateItemInput{
		add("DAY#"+day+"#"+r.Route, r.Time.AddDate(0, 0, 9), "", nil),
		add("TOTAL", r.Time.Add(ret), ", lastUsedAt = :at", map[string]types.AttributeValue{":at": at}),
	} {
		if _, err := u.DB.UpdateItem(ctx, up); err != nil {
			return fmt.Errorf("count api key usage: %w", err)
		}
	}
	return nil
}

// EndpointCount is one line of the top-endpoints list.
type EndpointCount struct {
	Route string `json:"route"`
	Count int    `json:"count"`
}

// Stats answers GET /api-keys/{id}/usage.
type Stats struct {
	TotalUsage     int             `json:"totalUsage"`
	RecentUsage24h int             `json:"recentUsage24h"`
	LastUsedAt     *time.Time      `json:"lastUsedAt"`
	TopEndpoints   []EndpointCount `json:"topEndpoints"`
	RateLimit      int             `json:"rateLimit"`
	UsedThisHour   int             `json:"usedThisHour"`
	RecentRequests []Record        `json:"recentRequests"` // the last 20, newest first
}

type counter struct {
	SK         string     `dynamodbav:"SK"`
	Count      int        `dynamodbav:"count"`
	Rejected   int        `dynamodbav:"rejected"`
	LastUsedAt *time.Time `dynamodbav:"lastUsedAt"`
}

func (u *Usage) query(ctx context.Context, keyID, from, to string) ([]counter, error) {
	var out []counter
	err := ddb.QueryAll(ctx, u.DB, &dynamodb.QueryInput{TableName: &u.Table,
		KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("KEYSTATS#" + keyID), ":from": s(from), ":to": s(to)}}, &out)
	if err != nil {
		return nil, fmt.Errorf("key stats: %w", err)
	}
	return out, nil
}

// Stats reads the counters: the total, the last 24 hourly windows and 7 days of per-route counts.
func (u *Usage) Stats(ctx context.Context, k Key, now time.Time) (Stats, error) {
	st := Stats{TopEndpoints: []EndpointCount{}, RateLimit: k.RateLimit}
	now = now.UTC()
	total, err := u.query(ctx, k.ID, "TOTAL", "TOTAL")
	if err != nil {
		return st, err
	}
	if len(total) == 1 {
		st.TotalUsage, st.LastUsedAt = total[0].Count, total[0].LastUsedAt
	}
	thisHour := "HOUR#" + now.Format(hourLayout)
	hours, err := u.query(ctx, k.ID, "HOUR#"+now.Add(-23*time.Hour).Format(hourLayout), thisHour)
	if err != nil {
		return st, err
	}
	for _, h := range hours {
		st.RecentUsage24h += h.Count + h.Rejected
		if h.SK == thisHour {
			st.UsedThisHour = h.Count
		}
	}
	days, err := u.query(ctx, k.ID, "DAY#"+now.AddDate(0, 0, -6).Format(dayLayout), "DAY#"+now.Format(dayLayout)+"#~")
	if err != nil {
		return st, err
	}
	byRoute := map[string]int{}
	for _, d := range days {
		parts := strings.SplitN(d.SK, "#", 3)
		if len(parts) == 3 {
			byRoute[parts[2]] += d.Count
		}
	}
	for r, c := range byRoute {
		st.TopEndpoints = append(st.TopEndpoints, EndpointCount{Route: r, Count: c})
	}
	sort.Slice(st.TopEndpoints, func(i, j int) bool {
		a, b := st.TopEndpoints[i], st.TopEndpoints[j]
		return a.Count > b.Count || (a.Count == b.Count && a.Route < b.Route)
	})
	if len(st.TopEndpoints) > 10 {
		st.TopEndpoints = st.TopEndpoints[:10]
	}
	logs, err := u.DB.Query(ctx, &dynamodb.QueryInput{TableName: &u.Table, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(20),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("KEYLOG#" + k.ID)}})
	if err != nil {
		return st, fmt.Errorf("key usage log: %w", err)
	}
	st.RecentRequests = []Record{}
	if err := attributevalue.UnmarshalListOfMaps(logs.Items, &st.RecentRequests); err != nil {
		return st, err
	}
	return st, nil
}

// LastUsed returns lastUsedAt for several keys with one BatchGetItem.
func (u *Usage) LastUsed(ctx context.Context, keyIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(keyIDs) == 0 {
		return out, nil
	}
	keys := make([]map[string]types.AttributeValue, 0, len(keyIDs))
	for _, id := range keyIDs {
		keys = append(keys, statsKey(id, "TOTAL"))
	}
	items, err := ddb.BatchGet(ctx, u.DB, u.Table, keys, false)
	if err != nil {
		return nil, err
	}
	for _, item := range items {
		var c struct {
			PK         string    `dynamodbav:"PK"`
			LastUsedAt time.Time `dynamodbav:"lastUsedAt"`
		}
		if attributevalue.UnmarshalMap(item, &c) == nil {
			out[strings.TrimPrefix(c.PK, "KEYSTATS#")] = c.LastUsedAt
		}
	}
	return out, nil
}

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
//	KEYSTATS#<keyId> / HOUR#<yyyymmddhh>         count (the rate-limit window), rejected, notified,
//	                                              lastUsedAt, r:<route> (requests per route)
//	KEYSTATS#<keyId> / TOTAL                      count, lastUsedAt, through (the last hour added)
//	KEYLOG#<keyId>   / <time>#<requestId>         one usage record per request
//	KEYSTATS#<keyId> / DAY#<yyyymmdd>#<route>     count (before hourly route counts; still read)
//
// A request costs two writes of 1 WRU: the hourly window (Admit, which counts the request, its
// route and its time) and the usage record (Log). The total is rolled up from the hourly items
// once an hour, by the first request of the next hour: TOTAL holds every hour up to "through",
// and the hours after it are added when read. Statistics are read from these items, never by
// scanning the log.
type Usage struct {
	DB        *dynamodb.Client
	Table     string
	Retention time.Duration // usage log lifetime (TTL); default 90 days
}

const hourLayout = "2006010215" // rateLimitedHour on the key item

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func statsKey(keyID, sk string) map[string]types.AttributeValue {
	return ddb.Key(ddb.KeyStatsPK(keyID), sk)
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
func (u *Usage) Admit(ctx context.Context, keyID, route string, limit int, now time.Time) (Window, error) {
	hour := now.UTC().Truncate(time.Hour)
	w := Window{Limit: limit, ResetAt: hour.Add(time.Hour)}
	sk := ddb.HourSK(hour)
	key := statsKey(keyID, sk)
	at, _ := attributevalue.Marshal(now.UTC())
	// Hours are kept until rolled up into the total (then 9 days, for the top endpoints); the
	// long expiry only bounds what an abandoned key leaves behind.
	names := map[string]string{"#c": "count", "#r": "r:" + route}
	out, err := u.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &u.Table, Key: key,
		UpdateExpression:         aws.String("ADD #c :one, #r :one SET expiresAt = if_not_exists(expiresAt, :exp), lastUsedAt = :at"),
		ConditionExpression:      aws.String("attribute_not_exists(#c) OR #c < :limit"),
		ExpressionAttributeNames: names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":limit": n(int64(limit)),
			":exp": n(hour.Add(400 * 24 * time.Hour).Unix()), ":at": at},
		ReturnValues: types.ReturnValueUpdatedNew})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		// Refused: count the refusal and learn whether it is the hour's first (one call).
		out, err := u.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &u.Table, Key: key,
			UpdateExpression:          aws.String("ADD rejected :one, #r :one SET notified = if_not_exists(notified, :t), lastUsedAt = :at"),
			ExpressionAttributeNames:  map[string]string{"#r": "r:" + route},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":t": &types.AttributeValueMemberBOOL{Value: true}, ":at": at},
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
	if got.Count == 1 { // the hour's first request: add the hours before it to the total
		if err := u.rollUp(ctx, keyID, hour, now); err != nil {
			return w, err
		}
	}
	return w, nil
}

// total is the TOTAL item.
type total struct {
	Exists     bool       `dynamodbav:"-"`
	Count      int        `dynamodbav:"count"`
	Through    *string    `dynamodbav:"through"`
	LastUsedAt *time.Time `dynamodbav:"lastUsedAt"`
}

func (u *Usage) total(ctx context.Context, keyID string) (total, error) {
	var t total
	out, err := u.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &u.Table, Key: statsKey(keyID, ddb.TotalSK), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return t, fmt.Errorf("key usage total: %w", err)
	}
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &t); err != nil {
			return t, err
		}
		t.Exists = true
	}
	return t, nil
}

// unrolledFrom is the first hour key the total does not hold yet ("" = none: a total from before
// hourly roll-ups, which counted every request itself).
func (t total) unrolledFrom() string {
	switch {
	case !t.Exists:
		return ddb.HourPrefix
	case t.Through == nil:
		return ""
	}
	return *t.Through + "#"
}

// rollUp adds the hours before hour that the total does not hold yet, once: the update is
// conditional on the total being as read, so concurrent roll-ups add each hour once.
func (u *Usage) rollUp(ctx context.Context, keyID string, hour, now time.Time) error {
	t, err := u.total(ctx, keyID)
	if err != nil {
		return err
	}
	to := ddb.HourSK(hour.Add(-time.Hour))
	in := &dynamodb.UpdateItemInput{TableName: &u.Table, Key: statsKey(keyID, ddb.TotalSK),
		ExpressionAttributeNames: map[string]string{"#c": "count"}, ExpressionAttributeValues: map[string]types.AttributeValue{":to": s(to)}}
	from := t.unrolledFrom()
	var hours []counter
	if from == "" { // a total kept per request until now: it holds every hour before this one
		in.UpdateExpression = aws.String("SET through = :to")
		in.ExpressionAttributeNames = nil
		in.ConditionExpression = aws.String("attribute_exists(PK) AND attribute_not_exists(through)")
	} else {
		if from > to {
			return nil
		}
		if hours, err = u.query(ctx, keyID, from, to); err != nil {
			return err
		}
		if len(hours) == 0 {
			return nil
		}
		sum, last := 0, t.LastUsedAt
		for _, h := range hours {
			sum += h.Count + h.Rejected
			if h.LastUsedAt != nil && (last == nil || h.LastUsedAt.After(*last)) {
				last = h.LastUsedAt
			}
		}
		ret := u.Retention
		if ret == 0 {
			ret = 90 * 24 * time.Hour
		}
		in.UpdateExpression = aws.String("ADD #c :n SET through = :to, expiresAt = :exp" + map[bool]string{true: ", lastUsedAt = :at"}[last != nil])
		in.ExpressionAttributeValues[":n"] = n(int64(sum))
		in.ExpressionAttributeValues[":exp"] = n(now.Add(ret).Unix())
		if last != nil {
			in.ExpressionAttributeValues[":at"], _ = attributevalue.Marshal(last.UTC())
		}
		if t.Through == nil {
			in.ConditionExpression = aws.String("attribute_not_exists(through)")
		} else {
			in.ConditionExpression = aws.String("through = :seen")
			in.ExpressionAttributeValues[":seen"] = s(*t.Through)
		}
	}
	_, err = u.DB.UpdateItem(ctx, in)
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return nil // another request rolled these hours up
	}
	if err != nil {
		return fmt.Errorf("key usage total: %w", err)
	}
	for _, h := range hours { // rolled up: kept 9 more days for the top endpoints
		hr, ok := ddb.HourOf(h.SK)
		if !ok {
			continue
		}
		if _, err := u.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &u.Table, Key: statsKey(keyID, h.SK),
			UpdateExpression:          aws.String("SET expiresAt = :exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":exp": n(hr.AddDate(0, 0, 9).Unix())}}); err != nil {
			return fmt.Errorf("key usage hour: %w", err)
		}
	}
	return nil
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

// Log writes the usage record.
func (u *Usage) Log(ctx context.Context, r Record) error {
	ret := u.Retention
	if ret == 0 {
		ret = 90 * 24 * time.Hour
	}
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return err
	}
	item[ddb.PK] = s(ddb.KeyLogPK(r.KeyID))
	item[ddb.SK] = s(ddb.KeyLogSK(r.Time, r.RequestID))
	item[ddb.TTLAttribute] = n(r.Time.Add(ret).Unix())
	// One write (1 WRU): the request, its route and its time were counted by Admit.
	if _, err := u.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &u.Table, Item: item}); err != nil {
		return fmt.Errorf("log api key usage: %w", err)
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.KeyStatsPK(keyID)), ":from": s(from), ":to": s(to)}}, &out)
	if err != nil {
		return nil, fmt.Errorf("key stats: %w", err)
	}
	return out, nil
}

// Stats reads the counters: the total, the last 24 hourly windows and 7 days of per-route counts.
func (u *Usage) Stats(ctx context.Context, k Key, now time.Time) (Stats, error) {
	st := Stats{TopEndpoints: []EndpointCount{}, RateLimit: k.RateLimit}
	now = now.UTC()
	t, err := u.total(ctx, k.ID)
	if err != nil {
		return st, err
	}
	st.TotalUsage, st.LastUsedAt = t.Count, t.LastUsedAt
	if from := t.unrolledFrom(); from != "" { // the hours not rolled up yet
		hours, err := u.query(ctx, k.ID, from, ddb.HourMax)
		if err != nil {
			return st, err
		}
		for _, h := range hours {
			st.TotalUsage += h.Count + h.Rejected
			if h.LastUsedAt != nil && (st.LastUsedAt == nil || h.LastUsedAt.After(*st.LastUsedAt)) {
				st.LastUsedAt = h.LastUsedAt
			}
		}
	}
	thisHour := ddb.HourSK(now)
	hours, err := u.query(ctx, k.ID, ddb.HourSK(now.Add(-23*time.Hour)), thisHour)
	if err != nil {
		return st, err
	}
	for _, h := range hours {
		st.RecentUsage24h += h.Count + h.Rejected
		if h.SK == thisHour {
			st.UsedThisHour = h.Count
		}
	}
	byRoute := map[string]int{}
	var week []map[string]any // hourly route counts ("r:<route>"), 7 days
	if err := ddb.QueryAll(ctx, u.DB, &dynamodb.QueryInput{TableName: &u.Table,
		KeyConditionExpression: aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.KeyStatsPK(k.ID)),
			":from": s(ddb.HourSK(now.AddDate(0, 0, -6).Truncate(24 * time.Hour))), ":to": s(thisHour)}}, &week); err != nil {
		return st, fmt.Errorf("key stats: %w", err)
	}
	for _, h := range week {
		for a, v := range h {
			if r, ok := strings.CutPrefix(a, "r:"); ok {
				if f, ok := v.(float64); ok {
					byRoute[r] += int(f)
				}
			}
		}
	}
	days, err := u.query(ctx, k.ID, ddb.DaySK(now.AddDate(0, 0, -6)), ddb.DayEnd(now))
	if err != nil {
		return st, err
	}
	for _, d := range days { // counted per day before hourly route counts
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.KeyLogPK(k.ID))}})
	if err != nil {
		return st, fmt.Errorf("key usage log: %w", err)
	}
	st.RecentRequests = []Record{}
	if err := attributevalue.UnmarshalListOfMaps(logs.Items, &st.RecentRequests); err != nil {
		return st, err
	}
	return st, nil
}

// LastUsed returns lastUsedAt for several keys: per key one Query of its total and its newest
// hour (the hours after the total's are not rolled up yet).
func (u *Usage) LastUsed(ctx context.Context, keyIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, id := range keyIDs {
		res, err := u.DB.Query(ctx, &dynamodb.QueryInput{TableName: &u.Table, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(2),
			KeyConditionExpression:    aws.String("PK = :pk AND SK BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(ddb.KeyStatsPK(id)), ":from": s(ddb.HourPrefix), ":to": s(ddb.TotalSK)}})
		if err != nil {
			return nil, fmt.Errorf("key last used: %w", err)
		}
		for _, item := range res.Items {
			var c struct {
				LastUsedAt *time.Time `dynamodbav:"lastUsedAt"`
			}
			if attributevalue.UnmarshalMap(item, &c) == nil && c.LastUsedAt != nil && c.LastUsedAt.After(out[id]) {
				out[id] = *c.LastUsedAt
			}
		}
	}
	return out, nil
}

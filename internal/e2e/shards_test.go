package e2e

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
	"streamspace/internal/testenv"
)

// Sharded listings (docs/data-model.md, "Hot partitions"): items still under the unsharded GSI2
// key, as written before sharding, are listed with the sharded ones, once each, in the listing's
// order across pages; legacy activity counters are summed with the shards'.
func TestShardedListingsIncludeItemsWrittenBeforeSharding(t *testing.T) {
	e := testenv.Start(t)
	ctx := context.Background()
	admin, alice, carol := e.Token("admin", "admin"), e.Token("alice", ""), e.Token("carol", "")
	var ids []string
	for i := range 6 { // two owners: a user may run 5
		ids = append(ids, create(t, e, []string{alice, carol}[i%2], map[string]any{"templateName": "terminal"}).ID)
	}
	e.Do("GET", "/api/v1/users/me", e.Token("bob", ""), nil).Want(t, http.StatusOK)
	legacy := func(key map[string]types.AttributeValue, pk string) {
		t.Helper()
		if _, err := e.App.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &e.App.Cfg.Tables.Main, Key: key,
			UpdateExpression:          aws.String("SET GSI2PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}}}); err != nil {
			t.Fatal(err)
		}
	}
	legacy(ddb.SessionKey(ids[2]), ddb.TypePK(ddb.KindSession))
	legacy(ddb.UserKey("alice"), ddb.TypePK(ddb.KindUser))
	if _, err := e.App.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.App.Cfg.Tables.Audit, Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: ddb.ActivityStatsPK}, "SK": &types.AttributeValueMemberS{Value: ddb.TotalSK},
		"count": &types.AttributeValueMemberN{Value: "1000"}}}); err != nil {
		t.Fatal(err)
	}
	// Counters of one item each, as written before a day's counters became one item: still read
	// until they expire.
	now := time.Now().UTC()
	for sk, count := range map[string]string{ddb.HourSK(now): "7", ddb.DayCategorySK(now, "configuration"): "5", ddb.DayTypeSK(now, "config.updated"): "3"} {
		if _, err := e.App.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &e.App.Cfg.Tables.Audit, Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: ddb.ActivityStatsShardPK("sess_x")}, "SK": &types.AttributeValueMemberS{Value: sk},
			"count": &types.AttributeValueMemberN{Value: count}}}); err != nil {
			t.Fatal(err)
		}
	}

	pages := func(path string, page func(body []byte) ([]string, string)) []string {
		var all []string
		cursor := ""
		for n := 0; n < 50; n++ {
			p := path
			if cursor != "" {
				p += "&cursor=" + url.QueryEscape(cursor)
			}
			var next string
			var got []string
			got, next = page(e.Do("GET", p, admin, nil).Want(t, http.StatusOK).Body)
			all = append(all, got...)
			if cursor = next; cursor == "" {
				return all
			}
		}
		t.Fatalf("%s: no last page after 50", path)
		return nil
	}
	decode := func(body []byte) ([]string, string) {
		var l struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor string `json:"nextCursor"`
		}
		testenv.Response{Body: body}.Decode(t, &l)
		var out []string
		for _, it := range l.Items {
			out = append(out, it.ID)
		}
		return out, l.NextCursor
	}
	sessions := pages("/api/v1/sessions?all=true&limit=2", decode)
	if !sort.SliceIsSorted(sessions, func(i, j int) bool { return sessions[i] > sessions[j] }) || !once(sessions) {
		t.Errorf("all sessions, newest first, once each: %v", sessions)
	}
	for _, id := range ids {
		if !slices.Contains(sessions, id) {
			t.Errorf("session %s (legacy key: %v) missing from %v", id, id == ids[2], sessions)
		}
	}
	users := pages("/api/v1/users?limit=1", decode)
	if !sort.StringsAreSorted(users) || !once(users) || !slices.Contains(users, "alice") || !slices.Contains(users, "bob") {
		t.Errorf("users by id, once each, alice (legacy key) and bob: %v", users)
	}
	var stats struct {
		Total        int            `json:"total"`
		Last24h      int            `json:"last24h"`
		ByCategory7d map[string]int `json:"byCategory7d"`
		TopTypes7d   []struct {
			EventType string `json:"eventType"`
			Count     int    `json:"count"`
		} `json:"topTypes7d"`
	}
	e.Do("GET", "/api/v1/activity/stats", admin, nil).Want(t, http.StatusOK).Decode(t, &stats)
	if stats.Total < 1000 {
		t.Errorf("activity total %d leaves out the unsharded counter's 1000", stats.Total)
	}
	if stats.Last24h < 7 || stats.ByCategory7d["configuration"] != 5 || !slices.ContainsFunc(stats.TopTypes7d, func(c struct {
		EventType string `json:"eventType"`
		Count     int    `json:"count"`
	}) bool {
		return c.EventType == "config.updated" && c.Count == 3
	}) {
		t.Errorf("the one-item-each counters are not read: %+v", stats)
	}
	e.Do("GET", "/api/v1/sessions?all=true&limit=2&cursor=eyJHU0kyUEsiOiJUWVBFI3VzZXIiLCJHU0kyU0siOiJ4In0", admin, nil).Want(t, http.StatusBadRequest)
}

func once(ss []string) bool {
	seen := map[string]bool{}
	for _, s := range ss {
		if seen[s] {
			return false
		}
		seen[s] = true
	}
	return true
}

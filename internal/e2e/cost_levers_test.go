package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/apikeys"
	"streamspace/internal/local/stack"
	"streamspace/internal/local/streams"
	"streamspace/internal/testenv"
)

type activityStats struct {
	Total, Last24h int
	ByCategory7d   map[string]int
	TopTypes7d     []struct {
		EventType string
		Count     int
	}
}

// The processor's auditor step counts per batch (one update per counter, no transaction per
// entry): the statistics still equal what was recorded, a redelivered batch is neither written
// nor counted twice, and a heartbeat alone records nothing (its entry was most of the log's cost).
func TestAuditorCountersPerBatchMatchTheLog(t *testing.T) {
	var mu sync.Mutex
	var batches []lambdaevents.DynamoDBEvent
	e := testenv.Start(t, func(c *stack.Config) {
		c.WrapConsumer = func(name string, h streams.Handler) streams.Handler {
			if name != "processor" {
				return h
			}
			return func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
				mu.Lock()
				batches = append(batches, ev)
				mu.Unlock()
				return h(ctx, ev)
			}
		}
	})
	alice, olga := e.Token("alice", ""), e.Token("olga", "operator")
	seen(t, e, alice)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("POST", p+"/status", e.Token("root", "admin"), map[string]any{"state": "running", "url": "http://x"}).Want(t, 200)
	const tags = 12
	var wg sync.WaitGroup // concurrent changes: the poller hands several records to one batch
	for i := 0; i < tags; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{fmt.Sprintf("t%d", i)}})
		}()
	}
	wg.Wait()
	e.Do("POST", p+"/heartbeat", alice, nil).Want(t, 200)
	e.Do("PATCH", p, alice, map[string]any{"idleTimeout": 900}).Want(t, 200)
	all := waitActivity(t, e, alice, p+"/activity?limit=100&eventType=config.updated", 1)
	_ = all
	time.Sleep(500 * time.Millisecond)
	var page struct{ Items []act }
	e.Do("GET", p+"/activity?limit=100", alice, nil).Want(t, 200).Decode(t, &page)
	types := map[string]int{}
	for _, a := range page.Items {
		types[a.EventType]++
	}
	if types["user.heartbeat"] != 0 {
		t.Errorf("a heartbeat recorded %d entries, want none", types["user.heartbeat"])
	}
	if types["tags.updated"] < 2 {
		t.Fatalf("tags.updated: %d entries: %v", types["tags.updated"], types)
	}
	stats := func() activityStats {
		var st activityStats
		e.Do("GET", "/api/v1/activity/stats", olga, nil).Want(t, 200).Decode(t, &st)
		return st
	}
	check := func(when string) {
		st := stats()
		top := map[string]int{}
		for _, tc := range st.TopTypes7d {
			top[tc.EventType] = tc.Count
		}
		cats := 0
		for _, c := range st.ByCategory7d {
			cats += c
		}
		if st.Total != len(page.Items) || st.Last24h != len(page.Items) || cats != len(page.Items) || top["tags.updated"] != types["tags.updated"] {
			t.Errorf("%s: stats %+v, log %d entries %v", when, st, len(page.Items), types)
		}
	}
	check("after the stream")
	mu.Lock()
	replay := append([]lambdaevents.DynamoDBEvent(nil), batches...)
	mu.Unlock()
	multi := 0
	for _, ev := range replay {
		if len(ev.Records) > 1 {
			multi++
		}
		if r, err := e.App.Processor(nil).Handle(context.Background(), ev); err != nil || len(r.BatchItemFailures) > 0 {
			t.Fatalf("replay: %v %+v", err, r)
		}
	}
	t.Logf("%d batches, %d of several records", len(replay), multi)
	check("after every batch was delivered again")
	var again struct{ Items []act }
	e.Do("GET", p+"/activity?limit=100", alice, nil).Want(t, 200).Decode(t, &again)
	if len(again.Items) != len(page.Items) {
		t.Errorf("replay wrote entries again: %d, then %d", len(page.Items), len(again.Items))
	}
}

// API-key usage costs two 1-WRU writes a request (the hourly window, which also counts the
// route and the time, and the usage record); the total is rolled up from the hours once an hour.
// Over several hours, with concurrent first requests of an hour, the figures are those of one
// counter per request: the total, the last 24 hours, this hour, the top endpoints, lastUsedAt.
func TestAPIKeyUsageRolledUpHourly(t *testing.T) {
	e := testenv.Start(t)
	u := e.App.APIKeys().Usage
	ctx := context.Background()
	const id = "key_rollup"
	base := time.Now().UTC().Truncate(time.Hour).Add(-5 * time.Hour)
	want, last := 0, time.Time{}
	admit := func(at time.Time, route string, n int) {
		var wg sync.WaitGroup // the hour's first requests race for the roll-up
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := u.Admit(ctx, id, route, 1000, at); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		want += n
		if at.After(last) {
			last = at
		}
	}
	admit(base.Add(5*time.Minute), "GET /api/v1/sessions", 3)
	admit(base.Add(time.Hour+time.Minute), "GET /api/v1/sessions", 4)
	admit(base.Add(time.Hour+2*time.Minute), "POST /api/v1/sessions", 2)
	// An hour with no request, then three more hours.
	admit(base.Add(3*time.Hour+time.Minute), "GET /api/v1/sessions/{id}", 5)
	admit(base.Add(4*time.Hour+time.Minute), "GET /api/v1/sessions", 1)
	now := base.Add(5*time.Hour + 10*time.Minute)
	admit(now, "POST /api/v1/sessions", 2)
	admit(now.Add(time.Minute), "GET /api/v1/sessions", 1)
	st, err := u.Stats(ctx, apikeys.Key{ID: id, RateLimit: 1000}, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]int{}
	for _, c := range st.TopEndpoints {
		top[c.Route] = c.Count
	}
	if st.TotalUsage != want || st.RecentUsage24h != want || st.UsedThisHour != 3 || st.LastUsedAt == nil || !st.LastUsedAt.Equal(last) {
		t.Errorf("stats %+v, want total %d, this hour 3, last used %s", st, want, last)
	}
	if top["GET /api/v1/sessions"] != 9 || top["POST /api/v1/sessions"] != 4 || top["GET /api/v1/sessions/{id}"] != 5 {
		t.Errorf("top endpoints: %v", top)
	}
	used, err := u.LastUsed(ctx, []string{id})
	if err != nil || !used[id].Equal(last) {
		t.Errorf("last used: %v %v, want %s", used, err, last)
	}
	// The total holds every hour before this one, each once.
	st2, err := u.Stats(ctx, apikeys.Key{ID: id, RateLimit: 1000}, now.Add(3*time.Minute))
	if err != nil || st2.TotalUsage != want {
		t.Errorf("again: %+v %v", st2, err)
	}
}

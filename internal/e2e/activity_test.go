package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/local/stack"
	"streamspace/internal/testenv"
)

type act struct {
	ID, SessionID, EventType, EventCategory, ActorID, Source, Description, IP string
	Timestamp                                                                 time.Time
	DurationSinceMs                                                           int64
	Metadata                                                                  map[string]any
}

// waitActivity polls a listing until it holds at least n entries (the auditor is asynchronous).
func waitActivity(t *testing.T, e *testenv.Env, tok, path string, n int) []act {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var page struct{ Items []act }
		e.Do("GET", path, tok, nil).Want(t, 200).Decode(t, &page)
		if len(page.Items) >= n || time.Now().After(deadline) {
			if len(page.Items) < n {
				t.Fatalf("%s: %d entries, want %d: %+v", path, len(page.Items), n, page.Items)
			}
			return page.Items
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The platform records everything that happens to a session, with no client posting anything.
func TestActivityRecordedByThePlatform(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, admin, olga := e.Token("alice", ""), e.Token("bob", ""), e.Token("admin", ""), e.Token("olga", "operator")
	seen(t, e, alice, bob)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "collaborate"}).Want(t, 201)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "running", "url": "http://x"}).Want(t, 200)
	var c struct{ ConnectionID string }
	e.Do("POST", p+"/connect", alice, nil).Want(t, 200) // a ticket never used: no activity
	c.ConnectionID = openAsGateway(t, e, bob, s.ID)
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"audited"}}).Want(t, 200)
	e.Do("PATCH", p, alice, map[string]any{"desiredState": "hibernated"}).Want(t, 200)
	e.Do("POST", p+"/status", admin, map[string]any{"state": "hibernated"}).Want(t, 200)
	e.Do("POST", p+"/disconnect", bob, map[string]string{"connectionId": c.ConnectionID}).Want(t, 204)
	e.Do("DELETE", p, alice, nil).Want(t, 200)

	want := []struct{ typ, actor string }{
		{"session.created", "alice"}, {"share.created", "alice"}, {"access.granted", "alice"},
		{"state.changed", "admin"}, {"session.started", "admin"}, {"connection.opened", "bob"},
		{"tags.updated", "alice"}, {"config.updated", "alice"}, {"state.changed", "admin"},
		{"session.hibernated", "admin"}, {"connection.closed", "bob"},
		{"state.changed", "alice"}, {"session.terminated", "alice"}, {"session.deleted", "alice"},
	}
	tl := waitActivity(t, e, alice, p+"/activity/timeline?limit=500", len(want))
	if len(tl) != len(want) {
		t.Fatalf("timeline has %d entries, want %d: %+v", len(tl), len(want), tl)
	}
	seenTypes := map[string]int{}
	for i, a := range tl {
		seenTypes[a.EventType]++
		if a.Source != "platform" || a.EventCategory == "" || a.SessionID != s.ID {
			t.Errorf("entry %d: %+v", i, a)
		}
		if i > 0 && (a.Timestamp.Before(tl[i-1].Timestamp.Truncate(time.Millisecond)) || a.DurationSinceMs != max(0, a.Timestamp.Sub(tl[i-1].Timestamp).Milliseconds())) {
			t.Errorf("entry %d out of order or with a wrong duration: %+v after %+v", i, a, tl[i-1])
		}
	}
	var total int64
	for _, a := range tl {
		total += a.DurationSinceMs
	}
	if total <= 0 || tl[len(tl)-1].Timestamp.Sub(tl[0].Timestamp) <= 0 {
		t.Errorf("the timeline has no durations: %+v", tl)
	}
	for _, w := range want {
		found := false
		for _, a := range tl {
			if a.EventType == w.typ && a.ActorID == w.actor {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s by %s in %v", w.typ, w.actor, seenTypes)
		}
	}
	// Newest first in the plain listing; the filters work.
	var page struct{ Items []act }
	e.Do("GET", p+"/activity?limit=2", bob, nil).Want(t, 200) // bob's share outlives the session: the history stays readable
	e.Do("GET", p+"/activity?category=connection", alice, nil).Want(t, 200).Decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].EventType != "connection.closed" {
		t.Errorf("category filter: %+v", page.Items)
	}
	// A stranger gets 404; a user reads their own activity but not another's.
	e.Do("GET", p+"/activity", e.Token("mallory", ""), nil).Want(t, 404)
	var mine struct{ Items []act }
	e.Do("GET", "/api/v1/activity/users/bob", bob, nil).Want(t, 200).Decode(t, &mine)
	if len(mine.Items) != 2 {
		t.Errorf("bob's own activity: %+v", mine.Items)
	}
	e.Do("GET", "/api/v1/activity/users/alice", bob, nil).Want(t, 403)
	e.Do("GET", "/api/v1/activity/users/alice", olga, nil).Want(t, 200)
	// Stats from counters match what was recorded.
	e.Do("GET", "/api/v1/activity/stats", alice, nil).Want(t, 403)
	var st struct {
		Total, Last24h int
		ByCategory7d   map[string]int
		TopTypes7d     []struct {
			EventType string
			Count     int
		}
	}
	e.Do("GET", "/api/v1/activity/stats", olga, nil).Want(t, 200).Decode(t, &st)
	if st.Total != len(want) || st.Last24h != len(want) || st.ByCategory7d["connection"] != 2 || st.TopTypes7d[0].EventType != "state.changed" || st.TopTypes7d[0].Count != 3 {
		t.Errorf("stats: %+v", st)
	}
}

// Regression tests for defects 1-6 of the original.
func TestRegressionDefects1to6_Activity(t *testing.T) {
	e := testenv.Start(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, alice, bob)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	other := create(t, e, bob, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	// 1: the path names the session; a body naming another is refused.
	e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "user.heartbeat", "sessionId": other.ID}).Want(t, 400)
	var a act
	e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "error.occurred", "description": "client crashed",
		"metadata": map[string]any{"code": 7}}).Want(t, 201).Decode(t, &a)
	if a.SessionID != s.ID || a.Source != "client" || a.EventCategory != "error" || a.ActorID != "alice" {
		t.Errorf("posted activity: %+v", a)
	}
	// 2: type and category validated.
	e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "session.exploded"}).Want(t, 400)
	e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "connection.opened", "eventCategory": "error"}).Want(t, 400)
	e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "tags.updated", "metadata": map[string]string{"x": strings.Repeat("a", 9000)}}).Want(t, 400)
	// 3: activity is automatic (session.created is there without anyone posting it).
	got := waitActivity(t, e, alice, p+"/activity", 2)
	types := fmt.Sprint(got)
	if !strings.Contains(types, "session.created") {
		t.Errorf("no automatic session.created: %s", types)
	}
	// 4: nobody reads someone else's activity.
	e.Do("GET", p+"/activity", bob, nil).Want(t, 404)
	e.Do("GET", p+"/activity/timeline", bob, nil).Want(t, 404)
	e.Do("POST", p+"/activity/log", bob, map[string]any{"eventType": "user.heartbeat"}).Want(t, 404)
	e.Do("GET", "/api/v1/activity/users/alice", bob, nil).Want(t, 403)
	// 5: limit outside 1..500 is a 400 on every listing, the user route included.
	for _, path := range []string{p + "/activity", p + "/activity/timeline", "/api/v1/activity/users/alice"} {
		for _, l := range []string{"0", "501", "-1", "x"} {
			e.Do("GET", path+"?limit="+l, alice, nil).Want(t, 400)
		}
	}
	e.Do("GET", p+"/activity?since=yesterday", alice, nil).Want(t, 400)
	e.Do("GET", p+"/activity?category=fun", alice, nil).Want(t, 400)
	// 6: entries with empty optional fields are listed like the others.
	e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "user.heartbeat"}).Want(t, 201)
	all := waitActivity(t, e, alice, p+"/activity?eventType=user.heartbeat", 1)
	if all[0].Description != "" || all[0].Metadata != nil {
		t.Errorf("the bare entry came back changed: %+v", all[0])
	}
}

// The auditor fails three times (the audit table throttles); nothing is missed and nothing is
// recorded twice once the retries go through.
func TestActivitySurvivesConsumerFailures(t *testing.T) {
	var failures atomic.Int32
	e := testenv.Start(t, func(c *stack.Config) {
		c.DBOptions = append(c.DBOptions, testenv.FaultOn(func(op string, in any) error {
			// The auditor writes each entry with a conditional PutItem (its counters per batch).
			put, ok := in.(*dynamodb.PutItemInput)
			if !ok {
				return nil
			}
			if pk, _ := put.Item["PK"].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, "ACT#") && failures.Add(1) <= 3 {
				return errors.New("ProvisionedThroughputExceededException: injected")
			}
			return nil
		}))
	})
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"a"}}).Want(t, 200)
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"b"}}).Want(t, 200)
	got := waitActivity(t, e, alice, p+"/activity/timeline", 3)
	time.Sleep(300 * time.Millisecond)
	got = waitActivity(t, e, alice, p+"/activity/timeline", 3)
	if len(got) != 3 || got[0].EventType != "session.created" || got[1].EventType != "tags.updated" || got[2].EventType != "tags.updated" {
		t.Fatalf("after failures: %+v", got)
	}
	if failures.Load() < 3 {
		t.Fatalf("only %d injected failures: the test did not exercise retries", failures.Load())
	}
	// The counters (added per batch) count each entry once.
	var st activityStats
	e.Do("GET", "/api/v1/activity/stats", e.Token("olga", "operator"), nil).Want(t, 200).Decode(t, &st)
	if st.Total != 3 || st.Last24h != 3 {
		t.Errorf("stats after retries: %+v", st)
	}
}

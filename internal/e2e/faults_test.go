package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/connections"
	"streamspace/internal/local/stack"
	"streamspace/internal/testenv"
)

// Defect 29: internal error strings reached clients. A failing DynamoDB is a logged 500 whose
// body says nothing about the cause.
func TestRegressionDefect29_InternalErrorsNotLeaked(t *testing.T) {
	var failing atomic.Value
	failing.Store("")
	e := testenv.Start(t, func(c *stack.Config) {
		c.DBOptions = append(c.DBOptions, testenv.Fault(func(op string) error {
			if op == failing.Load().(string) {
				return errors.New("dynamodb exploded: table streamspace-secret-internal")
			}
			return nil
		}))
	})
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	defer failing.Store("")
	// Both the function's fault (Query) and the authorizer's (GetItem) are 500s, never a
	// misleading 401, and neither body says anything about the cause.
	for _, c := range []struct{ op, path string }{{"Query", "/api/v1/sessions"}, {"GetItem", "/api/v1/sessions/" + s.ID}} {
		failing.Store(c.op)
		path := c.path
		r := e.Do("GET", path, alice, nil)
		if r.Status != http.StatusInternalServerError {
			t.Fatalf("GET %s: status %d, want 500: %s", path, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "exploded") || strings.Contains(string(r.Body), "secret") {
			t.Fatalf("internal error leaked to the client: %s", r.Body)
		}
	}
	if !strings.Contains(e.Logs.String(), "exploded") {
		t.Fatal("the internal error was not logged")
	}
}

func listeners(t *testing.T, e *testenv.Env, user string) []connections.Listener {
	t.Helper()
	ls, err := e.App.Connections().Listeners(context.Background(), connections.UserAudience(user), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// A 410 from the management API removes that connection, and only that one; the others still
// receive the event.
func TestGoneConnectionRemovedOthersServed(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	a1 := e.MustDialWS(alice, nil)
	before := listeners(t, e, "alice")
	if len(before) != 1 {
		t.Fatalf("%d listeners, want 1", len(before))
	}
	gone := before[0].ConnectionID
	a2 := e.MustDialWS(alice, nil)
	e.WebSocket.PostFault = func(id string) int {
		if id == gone {
			return http.StatusGone
		}
		return 0
	}
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	a2.Expect("session.created", s.ID, wait)
	deadline := time.Now().Add(wait)
	for {
		ls := listeners(t, e, "alice")
		if len(ls) == 1 && ls[0].ConnectionID != gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listeners after 410: %+v (gone: %s)", ls, gone)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := a1.Drain(200 * time.Millisecond); len(got) != 0 {
		t.Fatalf("the gone connection received %d messages", len(got))
	}
}

// A failing management API loses no event: the record is retried, the struggling client gets
// it once the fault clears, and the redelivery to the others carries the same event id.
func TestFailingManagementAPILosesNoEvent(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	a1 := e.MustDialWS(alice, nil)
	flaky := listeners(t, e, "alice")[0].ConnectionID
	a2 := e.MustDialWS(alice, nil)
	var mu sync.Mutex
	failures := 0
	e.WebSocket.PostFault = func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		if id == flaky && failures < 2 {
			failures++
			return http.StatusInternalServerError
		}
		return 0
	}
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	got := a1.Expect("session.created", s.ID, wait)
	first := a2.Expect("session.created", s.ID, wait)
	if got.ID != first.ID {
		t.Fatalf("event ids differ: %s vs %s", got.ID, first.ID)
	}
	for _, m := range a2.Drain(300 * time.Millisecond) {
		if m.Type == "session.created" && m.ID != first.ID {
			t.Fatalf("a redelivery carries another id: %s", m.Raw)
		}
	}
}

// A connection that always fails neither delays nor duplicates the others' events.
func TestBrokenConnectionIsolated(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	broken := e.MustDialWS(alice, nil)
	bad := listeners(t, e, "alice")[0].ConnectionID
	good := e.MustDialWS(alice, nil)
	e.WebSocket.PostFault = func(id string) int {
		if id == bad {
			return http.StatusInternalServerError
		}
		return 0
	}
	for i := 0; i < 3; i++ {
		s := create(t, e, alice, map[string]any{"templateName": "terminal"})
		good.Expect("session.created", s.ID, wait)
	}
	for _, m := range good.Drain(500 * time.Millisecond) {
		t.Fatalf("a duplicate or stray delivery: %s", m.Raw)
	}
	if got := broken.Drain(100 * time.Millisecond); len(got) != 0 {
		t.Fatalf("the broken connection received %d messages", len(got))
	}
}

// The management API down for everyone: the record is retried until it gets through; nothing
// is lost and the event keeps its id.
func TestManagementAPIOutageLosesNothing(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	var mu sync.Mutex
	posts := 0
	e.WebSocket.PostFault = func(string) int {
		mu.Lock()
		defer mu.Unlock()
		posts++
		if posts <= 6 { // two whole invocations (3 attempts each) fail
			return http.StatusServiceUnavailable
		}
		return 0
	}
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	m := ws.Expect("session.created", s.ID, 10*time.Second)
	if m.ID == "" {
		t.Fatal("no id")
	}
	mu.Lock()
	defer mu.Unlock()
	if posts < 7 {
		t.Fatalf("%d posts: the outage was not exercised", posts)
	}
}

// A record no consumer can read is parked in the dead-letter queue after its retries; the
// records after it are delivered.
func TestPoisonRecordParkedOthersDelivered(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	ws := e.MustDialWS(alice, nil)
	_, err := e.App.DB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.App.Cfg.Tables.Main, Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "SESSION#sess_poison"}, "SK": &types.AttributeValueMemberS{Value: "META"},
		"entity":    &types.AttributeValueMemberS{Value: "session"},
		"resources": &types.AttributeValueMemberS{Value: "not a map"}, // undecodable as a session
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	ws.Expect("session.created", s.ID, 15*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		consumers := map[string]bool{}
		for _, dl := range e.DeadLetters() {
			if dl.Record.Change.Keys["PK"].String() == "SESSION#sess_poison" {
				consumers[dl.Consumer] = true
			}
		}
		if consumers["notifier"] && consumers["auditor"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters: %+v", e.DeadLetters())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

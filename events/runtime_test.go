package events_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/runtime/local"
	"streamspace/internal/testenv"
)

// The processor's sample (a new session's INSERT) really starts the session with the
// local driver: the first delivery stores its streaming secrets, the record of that write
// starts the processes, and a redelivery starts nothing more.
func TestRuntimeSample(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ev := load[events.DynamoDBEvent](t, "processor-session-created.json")
	item, err := ddb.FromStreamImage(ev.Records[0].Change.NewImage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &env.App.Cfg.Tables.Main, Item: item}); err != nil {
		t.Fatal(err)
	}
	// Session users must reach the runtime folder (t.TempDir's parent is 0700), by a short path
	// (Unix socket paths are limited).
	dir, err := os.MkdirTemp("", "ss")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	driver := &local.Driver{Dir: dir}
	t.Cleanup(driver.Close)
	proc := env.App.Processor(driver)
	id := strings.TrimPrefix(ev.Records[0].Change.Keys["PK"].String(), "SESSION#")
	for i := 0; i < 3; i++ {
		resp, err := proc.Handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("delivery %d: %+v, %v", i+1, resp, err)
		}
		if i == 0 && len(driver.Running()) != 0 {
			t.Fatal("started before its secrets were stored")
		}
	}
	se, _, err := env.App.Sessions().Get(ctx, auth.Caller{UserID: "alice", Role: auth.RoleUser}, id)
	if err != nil {
		t.Fatal(err)
	}
	if se.State != "running" || se.URL != env.GatewayURL+"/s/"+id {
		t.Fatalf("after the sample: state %s url %q, want running behind the gateway", se.State, se.URL)
	}
	if got := driver.Running(); len(got) != 1 || got[0] != id || len(driver.Processes(id)) != 3 {
		t.Fatalf("running %v with processes %v: want this one session, started once", got, driver.Processes(id))
	}
}

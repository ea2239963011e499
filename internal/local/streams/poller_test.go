package streams_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"streamspace/internal/ddb"
	"streamspace/internal/local/streams"
	"streamspace/internal/testenv"
)

type rig struct {
	db     *dynamodb.Client
	ss     *dynamodbstreams.Client
	table  string
	mu     sync.Mutex
	seen   []events.DynamoDBEventRecord
	calls  int
	failOn func(call int, batch []events.DynamoDBEventRecord) *events.DynamoDBEventResponse
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ep := testenv.DynamoEndpoint(t)
	r := &rig{db: ddb.NewClient(ddb.LocalConfig(), ep), table: testenv.Prefix(t) + "stream",
		ss: dynamodbstreams.NewFromConfig(ddb.LocalConfig(), func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(ep) })}
	if err := ddb.EnsureTable(context.Background(), r.db, ddb.Main, r.table); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) handler(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.failOn != nil {
		if resp := r.failOn(r.calls, ev.Records); resp != nil {
			return *resp, nil
		}
	}
	r.seen = append(r.seen, ev.Records...)
	return events.DynamoDBEventResponse{}, nil
}

// start runs a poller until the test (or stop) ends.
func (r *rig) start(t *testing.T, checkpoint string, mod func(*streams.Poller)) (stop func()) {
	t.Helper()
	p := &streams.Poller{DB: r.db, Streams: r.ss, Table: r.table, Region: ddb.LocalRegion, Handler: r.handler,
		Log: slog.New(slog.NewTextHandler(testenv.TLog{T: t}, nil)), CheckpointPath: checkpoint, FromTrimHorizon: true, Ready: make(chan struct{})}
	if mod != nil {
		mod(p)
	}
	ready := p.Ready
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	<-ready
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func (r *rig) put(t *testing.T, n int, from int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := r.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &r.table, Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: fmt.Sprintf("ITEM#%04d", i)}, "SK": &types.AttributeValueMemberS{Value: "META"},
			"n": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}, "tags": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberS{Value: "x"}}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// keys waits until at least n records were handled and returns their keys in handling order.
func (r *rig) keys(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.seen) >= n {
			out := make([]string, len(r.seen))
			for i, rec := range r.seen {
				out[i] = rec.Change.Keys["PK"].String()
			}
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("handled %d records, want %d", len(r.seen), n)
	return nil
}

func TestDeliversRealRecordsInOrder(t *testing.T) {
	r := newRig(t)
	r.start(t, "", nil)
	r.put(t, 20, 0)
	got := r.keys(t, 20)
	for i, k := range got {
		if want := fmt.Sprintf("ITEM#%04d", i); k != want {
			t.Fatalf("record %d is %s, want %s", i, k, want)
		}
	}
	r.mu.Lock()
	rec := r.seen[0]
	r.mu.Unlock()
	if rec.EventName != "INSERT" || rec.EventSource != "aws:dynamodb" || rec.Change.SequenceNumber == "" ||
		rec.Change.NewImage["tags"].List()[0].String() != "x" || rec.EventSourceArn == "" || rec.Change.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Fatalf("record is not shaped like Lambda's: %+v", rec)
	}
}

func TestPartialBatchFailureRetriesFromTheFailedRecord(t *testing.T) {
	r := newRig(t)
	failed := false
	r.failOn = func(call int, batch []events.DynamoDBEventRecord) *events.DynamoDBEventResponse {
		for i, rec := range batch {
			if rec.Change.Keys["PK"].String() == "ITEM#0003" && !failed {
				failed = true
				// Records before the failure are processed; the failure and the rest are retried.
				r.seen = append(r.seen, batch[:i]...)
				return &events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}
			}
		}
		return nil
	}
	r.put(t, 6, 0) // written before the poller starts: all in one batch from the trim horizon
	r.start(t, "", nil)
	got := r.keys(t, 6)
	want := []string{"ITEM#0000", "ITEM#0001", "ITEM#0002", "ITEM#0003", "ITEM#0004", "ITEM#0005"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handled %v, want each record once in order %v", got, want)
	}
}

func TestPoisonRecordIsDiscardedAfterBoundedRetries(t *testing.T) {
	r := newRig(t)
	r.failOn = func(call int, batch []events.DynamoDBEventRecord) *events.DynamoDBEventResponse {
		for i, rec := range batch {
			if rec.Change.Keys["PK"].String() == "ITEM#0001" {
				r.seen = append(r.seen, batch[:i]...)
				return &events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}
			}
		}
		return nil
	}
	var mu sync.Mutex
	var discarded []string
	r.put(t, 1, 0)
	r.put(t, 1, 1)
	r.start(t, "", func(p *streams.Poller) {
		p.MaxRetries = 2
		p.OnDiscard = func(recs []events.DynamoDBEventRecord, err error) {
			mu.Lock()
			defer mu.Unlock()
			for _, rec := range recs {
				discarded = append(discarded, rec.Change.Keys["PK"].String())
			}
		}
	})
	r.keys(t, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(discarded)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	if fmt.Sprint(discarded) != "[ITEM#0001]" {
		t.Fatalf("discarded %v, want [ITEM#0001]", discarded)
	}
	mu.Unlock()
	r.mu.Lock()
	r.failOn = nil
	r.mu.Unlock()
	r.put(t, 1, 2) // the stream goes on past the poison record
	if got := r.keys(t, 2); got[1] != "ITEM#0002" {
		t.Fatalf("after discard handled %v", got)
	}
}

func TestResumesFromCheckpointAfterRestart(t *testing.T) {
	r := newRig(t)
	cp := filepath.Join(t.TempDir(), "checkpoint.json")
	stop := r.start(t, cp, nil)
	r.put(t, 5, 0)
	r.keys(t, 5)
	stop()
	r.put(t, 5, 5) // written while nothing polls
	r.start(t, cp, nil)
	got := r.keys(t, 10)
	time.Sleep(200 * time.Millisecond) // nothing more may arrive: no replay of handled records
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) != 10 {
		t.Fatalf("handled %d records after restart, want 10 (no replays): %v", len(r.seen), got)
	}
	for i, k := range got {
		if want := fmt.Sprintf("ITEM#%04d", i); k != want {
			t.Fatalf("record %d is %s, want %s", i, k, want)
		}
	}
}

// A handler that errors on any batch holding a poison record: bisecting isolates it, it is
// parked after its retries, and every other record of the batch is handled exactly once.
func TestBisectIsolatesAPoisonRecord(t *testing.T) {
	r := newRig(t)
	var parked []string
	var mu sync.Mutex
	handled := map[string]int{}
	r.put(t, 8, 0)
	poller := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, rec := range ev.Records {
			if rec.Change.Keys["PK"].String() == "ITEM#0005" {
				return events.DynamoDBEventResponse{}, fmt.Errorf("poison")
			}
		}
		mu.Lock()
		for _, rec := range ev.Records {
			handled[rec.Change.Keys["PK"].String()]++
		}
		mu.Unlock()
		return events.DynamoDBEventResponse{}, nil
	}
	r.start(t, "", func(p *streams.Poller) {
		p.Handler = poller
		p.MaxRetries = 2
		p.OnDiscard = func(recs []events.DynamoDBEventRecord, err error) {
			mu.Lock()
			defer mu.Unlock()
			for _, rec := range recs {
				parked = append(parked, rec.Change.Keys["PK"].String())
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := len(handled) == 7 && len(parked) == 1
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(parked) != "[ITEM#0005]" {
		t.Fatalf("parked %v, want [ITEM#0005]", parked)
	}
	for i := 0; i < 8; i++ {
		k := fmt.Sprintf("ITEM#%04d", i)
		if want := map[bool]int{true: 0, false: 1}[i == 5]; handled[k] != want {
			t.Errorf("%s handled %d times, want %d (all: %v)", k, handled[k], want, handled)
		}
	}
}

package streambatch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func rec(seq string, age time.Duration) events.DynamoDBEventRecord {
	var r events.DynamoDBEventRecord
	r.EventID = "ev-" + seq
	r.Change.SequenceNumber = seq
	r.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: time.Now().Add(-age)}
	return r
}

// run invokes the loop like an event source mapping: from the first reported failure, until the
// batch is through or tries run out.
func run(t *testing.T, l *Loop, batch []events.DynamoDBEventRecord, fn RecordFunc, tries int) []events.DynamoDBEventRecord {
	t.Helper()
	for i := 0; i < tries && len(batch) > 0; i++ {
		resp, err := l.Handle(context.Background(), events.DynamoDBEvent{Records: batch}, fn)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) == 0 {
			return nil
		}
		for j, r := range batch {
			if r.Change.SequenceNumber == resp.BatchItemFailures[0].ItemIdentifier {
				batch = batch[j:]
				break
			}
		}
	}
	return batch
}

// A poison record is parked whole after MaxAttempts, the records after it are handled; once its
// cause is fixed a redrive from the dead-letter file processes it and empties the file.
func TestPoisonParkedThenRedriven(t *testing.T) {
	dir := t.TempDir()
	sink := &FileSink{Dir: dir}
	l := &Loop{Consumer: "auditor", Sink: sink}
	broken := true
	handled := map[string]int{}
	fn := func(_ context.Context, r events.DynamoDBEventRecord) error {
		if r.Change.SequenceNumber == "2" && broken {
			return errors.New("cannot decode")
		}
		handled[r.Change.SequenceNumber]++
		return nil
	}
	left := run(t, l, []events.DynamoDBEventRecord{rec("1", 0), rec("2", 0), rec("3", 0)}, fn, 10)
	if len(left) != 0 || handled["1"] != 1 || handled["3"] != 1 || handled["2"] != 0 {
		t.Fatalf("left %d, handled %v", len(left), handled)
	}
	path := filepath.Join(dir, "auditor.jsonl")
	dls, err := ReadFile(path)
	if err != nil || len(dls) != 1 || dls[0].Record.Change.SequenceNumber != "2" || dls[0].Attempts != DefaultMaxAttempts || dls[0].Record.EventID != "ev-2" {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
	// Still broken: the redrive keeps it.
	if done, failed, err := RedriveFile(context.Background(), path, "auditor", fn); err != nil || done != 0 || failed != 1 {
		t.Fatalf("redrive while broken: %d done, %d failed, %v", done, failed, err)
	}
	broken = false
	if done, failed, err := RedriveFile(context.Background(), path, "auditor", fn); err != nil || done != 1 || failed != 0 {
		t.Fatalf("redrive: %d done, %d failed, %v", done, failed, err)
	}
	if handled["2"] != 1 {
		t.Fatalf("the parked record was not processed: %v", handled)
	}
	if dls, _ := ReadFile(path); len(dls) != 0 {
		t.Fatalf("the file still holds %d records", len(dls))
	}
}

// A transient failure (a dependency down for everyone) is retried without counting attempts:
// it is parked only once older than MaxAge, before the event source mapping would drop it.
func TestTransientRetriedUntilTooOld(t *testing.T) {
	var parked []DeadLetter
	l := &Loop{Consumer: "notifier", Sink: &FileSink{OnPark: func(dl DeadLetter) { parked = append(parked, dl) }}, MaxAge: time.Minute}
	fn := func(context.Context, events.DynamoDBEventRecord) error {
		return Transient(errors.New("management API down"))
	}
	if left := run(t, l, []events.DynamoDBEventRecord{rec("1", 0)}, fn, 20); len(left) != 1 || len(parked) != 0 {
		t.Fatalf("a fresh record under a transient failure: left %d, parked %d", len(left), len(parked))
	}
	if left := run(t, l, []events.DynamoDBEventRecord{rec("2", 2*time.Minute)}, fn, 1); len(left) != 0 || len(parked) != 1 {
		t.Fatalf("a record past MaxAge: left %d, parked %d", len(left), len(parked))
	}
}

type failingSink struct{}

func (failingSink) Park(context.Context, DeadLetter) error { return errors.New("bucket unavailable") }

// A record that cannot be kept is not given up: it stays failed, so the stream retries it.
func TestUnkeptRecordNotGivenUp(t *testing.T) {
	l := &Loop{Consumer: "auditor", Sink: failingSink{}}
	fn := func(context.Context, events.DynamoDBEventRecord) error { return errors.New("poison") }
	if left := run(t, l, []events.DynamoDBEventRecord{rec("1", 0)}, fn, 10); len(left) != 1 {
		t.Fatalf("left %d, want the record still failing", len(left))
	}
	// Without a sink (no bucket configured) the loop never gives up either.
	var nilLoop *Loop
	resp, _ := nilLoop.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec("1", 0)}}, fn)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("nil loop: %+v", resp)
	}
}

type apiErr string

func (e apiErr) Error() string     { return string(e) }
func (e apiErr) ErrorCode() string { return string(e) }

// Throttling by an AWS service is not the record's fault: it never counts towards parking.
func TestThrottlingIsTransient(t *testing.T) {
	if !IsTransient(fmt.Errorf("put activity: %w", apiErr("ProvisionedThroughputExceededException"))) {
		t.Fatal("throttling not transient")
	}
	if IsTransient(apiErr("ValidationException")) || IsTransient(errors.New("cannot decode")) {
		t.Fatal("a record's own error taken as transient")
	}
}

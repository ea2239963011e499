package streambatch

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// runSteps invokes the loop like an event source mapping, redelivering from the reported record.
func runSteps(t *testing.T, l *Loop, batch []events.DynamoDBEventRecord, steps []Step, tries int) int {
	t.Helper()
	for i := 0; i < tries; i++ {
		resp, err := l.HandleSteps(context.Background(), events.DynamoDBEvent{Records: batch}, steps)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) == 0 {
			return i + 1
		}
		for j, r := range batch {
			if r.Change.SequenceNumber == resp.BatchItemFailures[0].ItemIdentifier {
				batch = batch[j:]
				break
			}
		}
	}
	t.Fatalf("batch not through after %d deliveries", tries)
	return 0
}

type counter map[string]int

func (c counter) step(name string, fail func(seq string, n int) error) Step {
	return Step{Name: name, Handle: func(_ context.Context, r events.DynamoDBEventRecord) error {
		seq := r.Change.SequenceNumber
		c[name+seq]++
		if fail != nil {
			return fail(seq, c[name+seq])
		}
		return nil
	}}
}

// One step's poison record neither blocks nor re-runs the other step: the auditor is through
// with the whole batch at the first delivery and never sees a record twice while the runtime's
// record 2 is retried until parked (under the runtime's name, with its own attempt count).
func TestPoisonInOneStepDoesNotRerunTheOther(t *testing.T) {
	var parked []DeadLetter
	l := &Loop{Consumer: "processor", Sink: &FileSink{OnPark: func(dl DeadLetter) { parked = append(parked, dl) }}}
	c := counter{}
	steps := []Step{
		c.step("runtime", func(seq string, _ int) error {
			if seq == "2" {
				return errors.New("poison")
			}
			return nil
		}),
		c.step("auditor", nil),
	}
	n := runSteps(t, l, []events.DynamoDBEventRecord{rec("1", 0), rec("2", 0), rec("3", 0)}, steps, 10)
	for _, seq := range []string{"1", "2", "3"} {
		if c["auditor"+seq] != 1 {
			t.Errorf("auditor ran record %s %d times, want once", seq, c["auditor"+seq])
		}
	}
	if c["runtime1"] != 1 || c["runtime3"] != 1 || c["runtime2"] != DefaultMaxAttempts {
		t.Errorf("runtime runs %v, want 1, %d, 1", c, DefaultMaxAttempts)
	}
	if len(parked) != 1 || parked[0].Consumer != "runtime" || parked[0].Record.Change.SequenceNumber != "2" {
		t.Errorf("parked %+v, want the runtime's record 2 only", parked)
	}
	if n != DefaultMaxAttempts {
		t.Errorf("%d deliveries, want %d (one per failure of record 2)", n, DefaultMaxAttempts)
	}
}

// Two steps failing at different records: each record is still handled once by each step, and
// the earliest failure is what the stream redelivers from.
func TestStepsFailingAtDifferentRecords(t *testing.T) {
	l := &Loop{Consumer: "processor", Sink: &FileSink{}}
	c := counter{}
	flaky := func(at string) func(string, int) error {
		return func(seq string, n int) error {
			if seq == at && n == 1 {
				return errors.New("once")
			}
			return nil
		}
	}
	steps := []Step{c.step("a", flaky("3")), c.step("b", flaky("2"))}
	batch := []events.DynamoDBEventRecord{rec("1", 0), rec("2", 0), rec("3", 0), rec("4", 0)}
	resp, err := l.HandleSteps(context.Background(), events.DynamoDBEvent{Records: batch}, steps)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "2" {
		t.Fatalf("first delivery: %+v %v, want a failure at 2", resp, err)
	}
	runSteps(t, l, batch[1:], steps, 5)
	for _, name := range []string{"a", "b"} {
		for _, seq := range []string{"1", "2", "3", "4"} {
			want := 1
			if (name == "a" && seq == "3") || (name == "b" && seq == "2") {
				want = 2 // its own failure, then its success
			}
			if c[name+seq] != want {
				t.Errorf("step %s ran record %s %d times, want %d", name, seq, c[name+seq], want)
			}
		}
	}
}

type brokenProgress struct{}

func (brokenProgress) Load(context.Context, string, string) (map[string][]string, error) {
	return nil, errors.New("table unavailable")
}
func (brokenProgress) Save(context.Context, string, string, map[string][]string) error { return nil }

// Without the steps' progress nothing runs: the whole batch is retried, no attempt counted.
func TestUnreadableProgressRetriesTheBatch(t *testing.T) {
	c := counter{}
	l := &Loop{Consumer: "processor", Progress: brokenProgress{}, Sink: &FileSink{}}
	resp, _ := l.HandleSteps(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec("1", 0)}},
		[]Step{c.step("a", nil), c.step("b", nil)})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "1" || len(c) != 0 || len(l.memory) != 0 {
		t.Errorf("response %+v, runs %v, attempts %v: want the batch retried, nothing run or counted", resp, c, l.memory)
	}
}

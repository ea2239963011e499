// Package processor is the main table stream's second reader (the notifier is the first): one
// event source mapping that runs every piece of work a committed change causes besides the
// WebSocket events, each as an independent step of the shared batch loop (streambatch) — the
// auditor (activity log) and the runtime reconciler today; usage and notification steps join
// here. DynamoDB Streams throttles above two readers per shard, so new work becomes a step, not
// a consumer.
//
// Each record's change.Diff is computed once and handed to every step. Steps are isolated: each
// has its own attempt counter and dead letters (under the step's name, which is also what
// `streamspace redrive -consumer` takes), a step's failing record stops that step only, and a
// step that is through with a record does not run it again when another step's failure makes the
// stream redeliver it.
package processor

import (
	"context"
	"fmt"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/activity"
	"streamspace/internal/change"
	"streamspace/internal/runtime"
	"streamspace/internal/streambatch"
)

// Step names (attempt counters, dead letters, redrive).
const (
	StepAuditor = "auditor"
	StepRuntime = "runtime"
)

// Processor runs the steps over stream batches.
type Processor struct {
	Auditor *activity.Auditor
	// Runtime is nil where nothing runs sessions (a local stack without the runtime: sessions
	// then change state through status reports only).
	Runtime *runtime.Reconciler
	// Batch is the shared stream batch loop; nil only reports the first failure.
	Batch *streambatch.Loop
}

// Handle processes one batch. The auditor's counters are written once for the batch.
func (p *Processor) Handle(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	counts := activity.Counts{}
	defer p.Auditor.Count(ctx, counts)
	diff := onePerRecord()
	steps := []streambatch.Step{{Name: StepAuditor, Handle: p.auditor(diff, counts)}}
	if p.Runtime != nil {
		steps = append(steps, streambatch.Step{Name: StepRuntime, Handle: p.runtime(diff)})
	}
	return p.Batch.HandleSteps(ctx, ev, steps)
}

// Step is one step alone, for a record at a time: what a redrive of its dead letters calls.
func (p *Processor) Step(name string) (streambatch.RecordFunc, error) {
	switch {
	case name == StepAuditor:
		return func(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
			counts := activity.Counts{}
			defer p.Auditor.Count(ctx, counts)
			return p.auditor(change.Of, counts)(ctx, rec)
		}, nil
	case name == StepRuntime && p.Runtime != nil:
		return p.runtime(change.Of), nil
	case name == StepRuntime:
		return nil, fmt.Errorf("the runtime step needs a driver")
	}
	return nil, fmt.Errorf("unknown step %q (%s, %s)", name, StepAuditor, StepRuntime)
}

type diffFunc func(lambdaevents.DynamoDBEventRecord) (change.Diff, error)

// onePerRecord computes each record's Diff once for all the steps (they run record by record).
func onePerRecord() diffFunc {
	var last struct {
		id  string
		d   change.Diff
		err error
	}
	return func(rec lambdaevents.DynamoDBEventRecord) (change.Diff, error) {
		if id := rec.EventID + "#" + rec.Change.SequenceNumber; id != last.id {
			last.id = id
			last.d, last.err = change.Of(rec)
		}
		return last.d, last.err
	}
}

func (p *Processor) auditor(diff diffFunc, counts activity.Counts) streambatch.RecordFunc {
	return func(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
		d, err := diff(rec)
		if err != nil {
			return err
		}
		return p.Auditor.Apply(ctx, d, counts)
	}
}

func (p *Processor) runtime(diff diffFunc) streambatch.RecordFunc {
	return func(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
		d, err := diff(rec)
		if err != nil {
			return err
		}
		return p.Runtime.Apply(ctx, d)
	}
}

// Package streambatch is the one batch loop of the main table's stream consumers (the notifier,
// and the processor with its steps: the auditor and the runtime reconciler), in AWS and locally.
//
// Records are handled in order. A record that fails is reported as the batch's item failure, so
// the event source mapping retries from it (ReportBatchItemFailures). A record the consumer
// gives up on is first written, whole, to a dead-letter Sink (S3 in AWS, a JSON-lines file
// locally) and then reported as done, so the shard moves on and nothing is lost: a DynamoDB
// stream's on-failure destination only receives batch metadata (shard, sequence-number range),
// and the stream keeps records 24 h, so the consumer itself must keep the record.
//
// Lambda's DynamoDB event carries no retry count, so the loop decides when to give up itself:
//   - after MaxAttempts (5) failures of the same record, counted by sequence number in an Attempts
//     store (a small item of the Audit table with a TTL, written only when a record fails);
//   - or when the record is older than MaxAge (50 min, set below the mapping's MaximumRecordAgeInSeconds,
//     so the consumer parks a record before Lambda would discard it with metadata only).
//
// An error marked Transient (a dependency down for everyone, e.g. the management API) is not the
// record's fault: it is retried without counting an attempt, and only MaxAge parks it.
//
// A consumer may run several independent Steps over the same records (HandleSteps). Each step
// keeps its own order, failures, attempt counter and dead letters (under its own name): one
// step's failing record stops that step only, the others go on through the batch. The batch
// reports the earliest failure, so the stream redelivers from there; what the other steps
// already did from that record on is kept in a Progress store, keyed by that record, and not run
// again on the redelivery.
package streambatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// RecordFunc handles one stream record.
type RecordFunc func(ctx context.Context, rec events.DynamoDBEventRecord) error

// DeadLetter is a stream record a consumer gave up on, kept whole.
type DeadLetter struct {
	Consumer string                     `json:"consumer"`
	Error    string                     `json:"error"`
	At       time.Time                  `json:"at"`
	Attempts int                        `json:"attempts,omitempty"`
	Record   events.DynamoDBEventRecord `json:"record"`
}

// Sink keeps dead letters (S3 in AWS, a file locally).
type Sink interface {
	Park(ctx context.Context, dl DeadLetter) error
}

// Attempts counts failures of a record by consumer and sequence number.
type Attempts interface {
	// Failed records one more failure and returns how many there were so far.
	Failed(ctx context.Context, consumer, sequenceNumber string) (int, error)
}

type transient struct{ error }

func (t transient) Unwrap() error { return t.error }

// Transient marks an error that is not the record's fault (retried without counting an attempt).
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transient{err}
}

// IsTransient reports whether err was marked Transient, or is an AWS error that says the
// service is throttling or failing for everyone (not the record's fault).
func IsTransient(err error) bool {
	var t transient
	if errors.As(err, &t) {
		return true
	}
	var api interface{ ErrorCode() string }
	return errors.As(err, &api) && transientCodes[api.ErrorCode()]
}

var transientCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true, "ThrottlingException": true, "RequestLimitExceeded": true,
	"TransactionConflictException": true, "InternalServerError": true, "ServiceUnavailable": true,
	"SlowDown": true, "InternalError": true, "TooManyRequestsException": true,
}

// Defaults: a record is parked at its 5th failure (the mappings allow 5 retries, i.e. 6
// invocations, the local poller too, so the consumer parks first), or once older than 50 min
// (mappings: MaximumRecordAgeInSeconds 3600).
const (
	DefaultMaxAttempts = 5
	DefaultMaxAge      = 50 * time.Minute
)

// Loop is a consumer's batch loop.
type Loop struct {
	Consumer string
	Log      *slog.Logger
	// Sink keeps given-up records; nil = never give up (the record is retried until the event
	// source mapping discards it).
	Sink        Sink
	Attempts    Attempts // nil = counted in memory (per process)
	Progress    Progress // steps' work kept across a redelivery; nil = in memory (per process)
	MaxAttempts int
	MaxAge      time.Duration
	Now         func() time.Time

	mu       sync.Mutex
	memory   map[string]int
	progress memoryProgress
}

// Step is one independent piece of a consumer's work. Its Name is its identity in the attempt
// counters, the dead letters (DeadLetter.Consumer) and redrive.
type Step struct {
	Name   string
	Handle RecordFunc
}

func (l *Loop) now() time.Time {
	if l != nil && l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Loop) log() *slog.Logger {
	if l != nil && l.Log != nil {
		return l.Log
	}
	return slog.Default()
}

// Handle runs fn on each record in order; see the package comment. A nil Loop only reports the
// first failure.
func (l *Loop) Handle(ctx context.Context, ev events.DynamoDBEvent, fn RecordFunc) (events.DynamoDBEventResponse, error) {
	consumer := ""
	if l != nil {
		consumer = l.Consumer
	}
	return l.HandleSteps(ctx, ev, []Step{{Name: consumer, Handle: fn}})
}

// HandleSteps runs each step on each record in order; see the package comment.
func (l *Loop) HandleSteps(ctx context.Context, ev events.DynamoDBEvent, steps []Step) (events.DynamoDBEventResponse, error) {
	var resp events.DynamoDBEventResponse
	if len(ev.Records) == 0 {
		return resp, nil
	}
	first := ev.Records[0].Change.SequenceNumber
	var skip map[string][]string
	if len(steps) > 1 {
		var err error
		if skip, err = l.loadProgress(ctx, first); err != nil {
			// Nothing ran yet: the whole batch is retried, no step's attempt counted.
			l.log().WarnContext(ctx, "read the steps' progress", slog.String("consumer", l.Consumer), slog.String("error", err.Error()))
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: first}}
			return resp, nil
		}
	}
	done := map[string][]int{} // per step, the indexes of the records it is through with
	stopped := map[string]bool{}
	failedAt := -1
	for i, rec := range ev.Records {
		for _, st := range steps {
			if stopped[st.Name] {
				continue
			}
			if slices.Contains(skip[st.Name], rec.Change.SequenceNumber) || l.run(ctx, st, rec) {
				done[st.Name] = append(done[st.Name], i)
				continue
			}
			stopped[st.Name] = true
			if failedAt < 0 {
				failedAt = i
			}
		}
		if len(stopped) == len(steps) {
			break
		}
	}
	if failedAt < 0 {
		return resp, nil
	}
	at := ev.Records[failedAt].Change.SequenceNumber
	resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: at}}
	if len(steps) > 1 {
		keep := map[string][]string{}
		for name, idx := range done {
			for _, i := range idx {
				if i >= failedAt {
					keep[name] = append(keep[name], ev.Records[i].Change.SequenceNumber)
				}
			}
		}
		if len(keep) == 0 {
			return resp, nil
		}
		if err := l.saveProgress(ctx, at, keep); err != nil {
			// The redelivery then runs those steps again: each is idempotent, only slower.
			l.log().WarnContext(ctx, "keep the steps' progress", slog.String("consumer", l.Consumer), slog.String("error", err.Error()))
		}
	}
	return resp, nil
}

// run runs one step on one record and reports whether the step is through with it (handled, or
// given up on and parked).
func (l *Loop) run(ctx context.Context, st Step, rec events.DynamoDBEventRecord) bool {
	err := st.Handle(ctx, rec)
	if err == nil {
		return true
	}
	l.log().ErrorContext(ctx, "stream record failed", slog.String("consumer", st.Name), slog.String("eventId", rec.EventID),
		slog.String("sequenceNumber", rec.Change.SequenceNumber), slog.Bool("transient", IsTransient(err)), slog.String("error", err.Error()))
	return l.giveUp(ctx, st.Name, rec, err)
}

// giveUp parks the record when its budget is spent and reports whether it did.
func (l *Loop) giveUp(ctx context.Context, consumer string, rec events.DynamoDBEventRecord, cause error) bool {
	if l == nil || l.Sink == nil {
		return false
	}
	maxAge, maxAttempts := l.MaxAge, l.MaxAttempts
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	seq := rec.Change.SequenceNumber
	created := rec.Change.ApproximateCreationDateTime.Time
	old := !created.IsZero() && l.now().Sub(created) >= maxAge
	n := 0
	if !old {
		if IsTransient(cause) {
			return false
		}
		var err error
		n, err = l.failed(ctx, consumer, seq)
		if err != nil {
			// Unknown count: retry (the age limit still parks the record in time).
			l.log().WarnContext(ctx, "count a stream record's failure", slog.String("consumer", consumer),
				slog.String("sequenceNumber", seq), slog.String("error", err.Error()))
			return false
		}
		if n < maxAttempts {
			return false
		}
	}
	dl := DeadLetter{Consumer: consumer, Error: cause.Error(), At: l.now().UTC(), Attempts: n, Record: rec}
	if err := l.Sink.Park(ctx, dl); err != nil {
		// Not kept: not given up either; the stream retries it.
		l.log().ErrorContext(ctx, "park a stream record", slog.String("consumer", consumer),
			slog.String("sequenceNumber", seq), slog.String("error", err.Error()))
		return false
	}
	l.log().ErrorContext(ctx, "stream record parked in the dead letters", slog.String("consumer", consumer),
		slog.String("eventId", rec.EventID), slog.String("sequenceNumber", seq), slog.Int("attempts", n),
		slog.Bool("tooOld", old), slog.String("error", cause.Error()))
	return true
}

func (l *Loop) failed(ctx context.Context, consumer, seq string) (int, error) {
	if l.Attempts != nil {
		return l.Attempts.Failed(ctx, consumer, seq)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.memory == nil {
		l.memory = map[string]int{}
	}
	if len(l.memory) > 10000 { // a bound, not a cache policy: counts restart, the age limit remains
		l.memory = map[string]int{}
	}
	l.memory[consumer+"#"+seq]++
	return l.memory[consumer+"#"+seq], nil
}

// Redrive hands each dead letter of the consumer to fn (the consumer's record handler) and
// returns those that still fail, with their new error.
func Redrive(ctx context.Context, consumer string, dls []DeadLetter, fn RecordFunc) (done []DeadLetter, failed []DeadLetter) {
	for _, dl := range dls {
		if dl.Consumer != consumer {
			continue
		}
		if err := fn(ctx, dl.Record); err != nil {
			dl.Error = fmt.Sprintf("redrive: %v", err)
			dl.At = time.Now().UTC()
			failed = append(failed, dl)
			continue
		}
		done = append(done, dl)
	}
	return done, failed
}

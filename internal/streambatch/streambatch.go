// Package streambatch is the one batch loop of the main table's stream consumers (the notifier,
// the auditor and the runtime reconciler), in AWS and locally.
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
package streambatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	MaxAttempts int
	MaxAge      time.Duration
	Now         func() time.Time

	mu     sync.Mutex
	memory map[string]int
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
	var resp events.DynamoDBEventResponse
	for _, rec := range ev.Records {
		err := fn(ctx, rec)
		if err == nil {
			continue
		}
		consumer := ""
		if l != nil {
			consumer = l.Consumer
		}
		l.log().ErrorContext(ctx, "stream record failed", slog.String("consumer", consumer), slog.String("eventId", rec.EventID),
			slog.String("sequenceNumber", rec.Change.SequenceNumber), slog.Bool("transient", IsTransient(err)), slog.String("error", err.Error()))
		if parked := l.giveUp(ctx, rec, err); parked {
			continue
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures,
			events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		return resp, nil
	}
	return resp, nil
}

// giveUp parks the record when its budget is spent and reports whether it did.
func (l *Loop) giveUp(ctx context.Context, rec events.DynamoDBEventRecord, cause error) bool {
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
		n, err = l.failed(ctx, seq)
		if err != nil {
			// Unknown count: retry (the age limit still parks the record in time).
			l.log().WarnContext(ctx, "count a stream record's failure", slog.String("consumer", l.Consumer),
				slog.String("sequenceNumber", seq), slog.String("error", err.Error()))
			return false
		}
		if n < maxAttempts {
			return false
		}
	}
	dl := DeadLetter{Consumer: l.Consumer, Error: cause.Error(), At: l.now().UTC(), Attempts: n, Record: rec}
	if err := l.Sink.Park(ctx, dl); err != nil {
		// Not kept: not given up either; the stream retries it.
		l.log().ErrorContext(ctx, "park a stream record", slog.String("consumer", l.Consumer),
			slog.String("sequenceNumber", seq), slog.String("error", err.Error()))
		return false
	}
	l.log().ErrorContext(ctx, "stream record parked in the dead letters", slog.String("consumer", l.Consumer),
		slog.String("eventId", rec.EventID), slog.String("sequenceNumber", seq), slog.Int("attempts", n),
		slog.Bool("tooOld", old), slog.String("error", cause.Error()))
	return true
}

func (l *Loop) failed(ctx context.Context, seq string) (int, error) {
	if l.Attempts != nil {
		return l.Attempts.Failed(ctx, l.Consumer, seq)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.memory == nil {
		l.memory = map[string]int{}
	}
	if len(l.memory) > 10000 { // a bound, not a cache policy: counts restart, the age limit remains
		l.memory = map[string]int{}
	}
	l.memory[seq]++
	return l.memory[seq], nil
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

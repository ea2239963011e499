// Package streams is the local stand-in for Lambda's DynamoDB event source mapping: it reads a
// table's stream from DynamoDB Local and invokes a handler with real events.DynamoDBEvent
// batches, honouring partial batch failures. It follows shard lineage (children after parents,
// new shards as they appear), renews iterators, and checkpoints so a restart resumes where it
// stopped.
package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler is the stream consumer's Lambda handler.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Poller reads one table's stream.
type Poller struct {
	DB      *dynamodb.Client
	Streams *dynamodbstreams.Client
	Table   string
	Region  string
	Handler Handler
	Log     *slog.Logger
	// CheckpointPath keeps progress across restarts ("" = none: start at the stream's end).
	CheckpointPath string
	BatchSize      int // records per invocation; default 100
	MaxRetries     int // retries of a failing batch before it is skipped; default 5
	// After an empty poll the poller pauses IdleDelay, doubling with each further empty poll up
	// to MaxIdleDelay: quick to notice the next change after activity, cheap when idle.
	IdleDelay    time.Duration // default 2 ms
	MaxIdleDelay time.Duration // default 25 ms
	// FromTrimHorizon starts a stream without checkpoint at its oldest record instead of its end
	// (right for tables the caller just created: nothing written to them is missed).
	FromTrimHorizon bool
	// Ready, if set, is closed once every shard has an iterator (writes after it are seen).
	Ready chan struct{}
	// OnDiscard receives the records of a batch given up after MaxRetries.
	OnDiscard func(records []events.DynamoDBEventRecord, err error)

	streamARN  string
	checkpoint checkpoint
}

type checkpoint struct {
	StreamARN string                `json:"streamArn"`
	Shards    map[string]shardState `json:"shards"`
}

type shardState struct {
	Sequence string `json:"sequence,omitempty"` // last record handled
	Done     bool   `json:"done,omitempty"`     // closed and fully read
}

type reader struct {
	shardID  string
	iterator *string
	parent   string
}

func (p *Poller) defaults() {
	if p.BatchSize == 0 {
		p.BatchSize = 100
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = 5
	}
	if p.IdleDelay == 0 {
		p.IdleDelay = 2 * time.Millisecond
	}
	if p.MaxIdleDelay == 0 {
		p.MaxIdleDelay = 25 * time.Millisecond
	}
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	p.defaults()
	desc, err := p.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &p.Table})
	if err != nil {
		return fmt.Errorf("describe %s: %w", p.Table, err)
	}
	p.streamARN = aws.ToString(desc.Table.LatestStreamArn)
	if p.streamARN == "" {
		return fmt.Errorf("table %s has no stream", p.Table)
	}
	fresh := !p.loadCheckpoint()
	readers := map[string]*reader{}
	lastRefresh := time.Time{}
	delay := p.IdleDelay
	for ctx.Err() == nil {
		if time.Since(lastRefresh) > time.Second || len(readers) == 0 {
			if err := p.refresh(ctx, readers, fresh); err != nil && ctx.Err() == nil {
				p.Log.Warn("stream refresh failed", slog.String("error", err.Error()))
			}
			fresh = false
			lastRefresh = time.Now()
			if p.Ready != nil {
				close(p.Ready)
				p.Ready = nil
			}
		}
		got := false
		for _, id := range sortedKeys(readers) {
			n, err := p.poll(ctx, readers[id])
			if err != nil && ctx.Err() == nil {
				p.Log.Warn("stream poll failed", slog.String("shard", id), slog.String("error", err.Error()))
			}
			if readers[id].iterator == nil {
				delete(readers, id)
				lastRefresh = time.Time{} // a closed shard: look for its children now
			}
			got = got || n > 0
		}
		if got {
			delay = p.IdleDelay
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, p.MaxIdleDelay)
	}
	return nil
}

func sortedKeys(m map[string]*reader) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// refresh lists the stream's shards and opens readers for those whose parents are finished.
func (p *Poller) refresh(ctx context.Context, readers map[string]*reader, fresh bool) error {
	var shards []types.Shard
	var start *string
	for {
		out, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &p.streamARN, ExclusiveStartShardId: start})
		if err != nil {
			return err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	known := map[string]bool{}
	for _, s := range shards {
		known[aws.ToString(s.ShardId)] = true
	}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		st := p.checkpoint.Shards[id]
		if st.Done || readers[id] != nil {
			continue
		}
		parent := aws.ToString(s.ParentShardId)
		if parent != "" && known[parent] && !p.checkpoint.Shards[parent].Done {
			continue // lineage: a child waits until its parent is read to the end
		}
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: &p.streamARN, ShardId: &id}
		switch {
		case st.Sequence != "":
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(st.Sequence)
		case fresh && !p.FromTrimHorizon:
			// The very first start: like an event source mapping created with LATEST.
			in.ShardIteratorType = types.ShardIteratorTypeLatest
		default:
			in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
		}
		it, err := p.Streams.GetShardIterator(ctx, in)
		var trimmed *types.TrimmedDataAccessException
		if errors.As(err, &trimmed) {
			p.Log.Warn("checkpoint older than the stream's retention; resuming at the oldest record", slog.String("shard", id))
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeTrimHorizon, nil
			it, err = p.Streams.GetShardIterator(ctx, in)
		}
		if err != nil {
			return fmt.Errorf("iterator for %s: %w", id, err)
		}
		p.setShard(id, st) // remember the shard, so lineage and "fresh" are known after a restart
		readers[id] = &reader{shardID: id, iterator: it.ShardIterator, parent: parent}
	}
	return p.saveCheckpoint()
}

// poll reads one page of a shard and hands it to the handler.
func (p *Poller) poll(ctx context.Context, r *reader) (int, error) {
	out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: r.iterator, Limit: aws.Int32(int32(p.BatchSize))})
	var expired *types.ExpiredIteratorException
	var trimmed *types.TrimmedDataAccessException
	// An expired iterator (15 min unused), or one DynamoDB Local reports as trimmed (it does so
	// for a TRIM_HORIZON iterator taken on a shard that had no record yet), is reopened from the
	// checkpoint by the next refresh.
	if errors.As(err, &expired) || errors.As(err, &trimmed) {
		r.iterator = nil
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(out.Records) > 0 {
		if err := p.deliver(ctx, r.shardID, out.Records); err != nil {
			return 0, err // iterator kept: the same page is read again
		}
	}
	r.iterator = out.NextShardIterator
	if r.iterator == nil {
		st := p.checkpoint.Shards[r.shardID]
		st.Done = true
		p.setShard(r.shardID, st)
		if err := p.saveCheckpoint(); err != nil {
			return len(out.Records), err
		}
	}
	return len(out.Records), nil
}

// deliver invokes the handler like Lambda's event source mapping with ReportBatchItemFailures
// and BisectBatchOnFunctionError: a reported failure retries from the first failed record; a
// function error splits the batch in two and retries each half; a record still failing after
// MaxRetries goes to OnDiscard (the dead-letter queue) alone, and the rest of the batch goes on.
func (p *Poller) deliver(ctx context.Context, shardID string, recs []types.Record) error {
	batch := make([]events.DynamoDBEventRecord, 0, len(recs))
	for _, r := range recs {
		lr, err := toLambdaRecord(r, p.streamARN, p.Region)
		if err != nil {
			return err
		}
		batch = append(batch, lr)
	}
	return p.process(ctx, shardID, batch)
}

func (p *Poller) process(ctx context.Context, shardID string, batch []events.DynamoDBEventRecord) error {
	backoff := 20 * time.Millisecond
	attempts := 0
	for len(batch) > 0 {
		resp, err := p.invoke(ctx, batch)
		failedAt := len(batch)
		if err != nil {
			failedAt = 0
		} else if len(resp.BatchItemFailures) > 0 {
			failedAt = 0 // an identifier not in the batch fails the whole batch, as in Lambda
			lowest := -1
			for _, f := range resp.BatchItemFailures {
				for i, r := range batch {
					if r.Change.SequenceNumber == f.ItemIdentifier && (lowest < 0 || i < lowest) {
						lowest = i
					}
				}
			}
			if lowest >= 0 {
				failedAt = lowest
			}
		}
		if failedAt > 0 {
			p.commit(shardID, batch[failedAt-1].Change.SequenceNumber)
			attempts = 0 // progress: the next record gets its own retries
		}
		batch = batch[failedAt:]
		if len(batch) == 0 {
			break
		}
		if err != nil && len(batch) > 1 {
			mid := len(batch) / 2
			if err := p.process(ctx, shardID, batch[:mid]); err != nil {
				return err
			}
			return p.process(ctx, shardID, batch[mid:])
		}
		attempts++
		if attempts > p.MaxRetries {
			if err == nil {
				err = errors.New("handler reported the record as failed")
			}
			p.Log.Error("parking a stream record after retries", slog.String("sequenceNumber", batch[0].Change.SequenceNumber),
				slog.String("error", err.Error()))
			if p.OnDiscard != nil {
				p.OnDiscard(batch[:1], err)
			}
			p.commit(shardID, batch[0].Change.SequenceNumber)
			batch, attempts, backoff = batch[1:], 0, 20*time.Millisecond
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
	return p.saveCheckpoint()
}

func (p *Poller) invoke(ctx context.Context, batch []events.DynamoDBEventRecord) (resp events.DynamoDBEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return p.Handler(ctx, events.DynamoDBEvent{Records: batch})
}

func (p *Poller) commit(shardID, seq string) {
	st := p.checkpoint.Shards[shardID]
	st.Sequence = seq
	p.setShard(shardID, st)
}

func (p *Poller) setShard(id string, st shardState) {
	if p.checkpoint.Shards == nil {
		p.checkpoint.Shards = map[string]shardState{}
	}
	p.checkpoint.Shards[id] = st
}

// loadCheckpoint reports whether progress for this stream was found.
func (p *Poller) loadCheckpoint() bool {
	p.checkpoint = checkpoint{StreamARN: p.streamARN, Shards: map[string]shardState{}}
	if p.CheckpointPath == "" {
		return false
	}
	b, err := os.ReadFile(p.CheckpointPath)
	if err != nil {
		return false
	}
	var c checkpoint
	if json.Unmarshal(b, &c) != nil || c.StreamARN != p.streamARN {
		return false // another stream (the table was recreated): start afresh
	}
	if c.Shards == nil {
		c.Shards = map[string]shardState{}
	}
	p.checkpoint = c
	return true
}

// saveCheckpoint writes progress atomically (write + rename).
func (p *Poller) saveCheckpoint() error {
	if p.CheckpointPath == "" {
		return nil
	}
	b, _ := json.Marshal(p.checkpoint)
	tmp := p.CheckpointPath + ".tmp"
	if err := os.MkdirAll(filepath.Dir(p.CheckpointPath), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p.CheckpointPath)
}

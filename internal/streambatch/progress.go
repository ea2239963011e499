package streambatch

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Progress keeps, for a batch that reported a failure at record seq, the records from seq on
// that each step is already through with: the stream redelivers from seq, and those are skipped.
type Progress interface {
	// Load returns what was kept for seq (nil: nothing, the usual case).
	Load(ctx context.Context, consumer, seq string) (map[string][]string, error)
	// Save replaces what is kept for seq.
	Save(ctx context.Context, consumer, seq string, done map[string][]string) error
}

func (l *Loop) loadProgress(ctx context.Context, seq string) (map[string][]string, error) {
	switch {
	case l == nil:
		return nil, nil
	case l.Progress != nil:
		return l.Progress.Load(ctx, l.Consumer, seq)
	}
	return l.progress.Load(ctx, l.Consumer, seq)
}

func (l *Loop) saveProgress(ctx context.Context, seq string, done map[string][]string) error {
	switch {
	case l == nil:
		return nil
	case l.Progress != nil:
		return l.Progress.Save(ctx, l.Consumer, seq, done)
	}
	return l.progress.Save(ctx, l.Consumer, seq, done)
}

// memoryProgress is Progress within one process.
type memoryProgress struct {
	mu   sync.Mutex
	kept map[string]map[string][]string
}

func (m *memoryProgress) Load(_ context.Context, consumer, seq string) (map[string][]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kept[consumer+"#"+seq], nil
}

func (m *memoryProgress) Save(_ context.Context, consumer, seq string, done map[string][]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kept == nil || len(m.kept) > 10000 { // a bound: forgetting only means running a step again
		m.kept = map[string]map[string][]string{}
	}
	m.kept[consumer+"#"+seq] = done
	return nil
}

// DynamoProgress keeps progress in items PK "STREAMSTEPS#<consumer>", SK "<sequence number>" of
// the Audit table (no stream, like the attempt counters), with a TTL of a day (the stream's
// retention). An item is written only when a batch fails; every batch of a multi-step consumer
// reads one (strongly consistent: the redelivery may follow the write within milliseconds).
type DynamoProgress struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

type progressItem struct {
	PK        string              `dynamodbav:"PK"`
	SK        string              `dynamodbav:"SK"`
	Done      map[string][]string `dynamodbav:"done"`
	ExpiresAt int64               `dynamodbav:"expiresAt"`
}

func progressKey(consumer, seq string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: "STREAMSTEPS#" + consumer},
		"SK": &ddbtypes.AttributeValueMemberS{Value: seq},
	}
}

// Load reads what was kept for seq.
func (p DynamoProgress) Load(ctx context.Context, consumer, seq string) (map[string][]string, error) {
	out, err := p.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &p.Table, Key: progressKey(consumer, seq),
		ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return nil, err
	}
	var it progressItem
	return it.Done, attributevalue.UnmarshalMap(out.Item, &it)
}

// Save replaces what is kept for seq.
func (p DynamoProgress) Save(ctx context.Context, consumer, seq string, done map[string][]string) error {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	item, err := attributevalue.MarshalMap(progressItem{PK: "STREAMSTEPS#" + consumer, SK: seq, Done: done,
		ExpiresAt: now.Add(24 * time.Hour).Unix()})
	if err != nil {
		return err
	}
	_, err = p.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &p.Table, Item: item})
	return err
}

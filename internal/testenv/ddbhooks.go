package testenv

import (
	"context"
	"reflect"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"streamspace/internal/local/gateway"
)

// CallCounter counts DynamoDB operations made through a client (tests of round trips per route).
type CallCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Option installs the counter on a DynamoDB client. Only calls made while serving an HTTP
// request through the local gateway count: the notifier's asynchronous reads do not.
func (c *CallCounter) Option() func(*dynamodb.Options) {
	return hook(func(ctx context.Context, op string, in any) error {
		if !gateway.InRequest(ctx) {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.counts == nil {
			c.counts = map[string]int{}
		}
		c.counts[op]++
		return nil
	})
}

// Take returns the counts since the last Take and resets them.
func (c *CallCounter) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = nil
	if out == nil {
		out = map[string]int{}
	}
	return out
}

// Fault makes operations fail while fail(op) returns an error (fault injection).
func Fault(fail func(op string) error) func(*dynamodb.Options) {
	return hook(func(_ context.Context, op string, _ any) error { return fail(op) })
}

func hook(f func(ctx context.Context, op string, in any) error) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("streamspace-test-hook",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if err := f(ctx, awsmiddleware.GetOperationName(ctx), in.Parameters); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// FaultOn is Fault with the operation's input, to aim at one kind of write.
func FaultOn(fail func(op string, in any) error) func(*dynamodb.Options) {
	return hook(func(_ context.Context, op string, in any) error { return fail(op, in) })
}

// Units is DynamoDB consumed capacity: read and write request units and the calls that used them.
type Units struct {
	RRU, WRU float64
	Calls    int
	// Unreported counts calls whose output carried no ConsumedCapacity (none expected of
	// DynamoDB Local; the benchmark says so if any appear).
	Unreported int
	// Floored counts reads DynamoDB Local reported as 0 units (nothing found): DynamoDB bills
	// them the minimum, 0.5 RRU (1 when consistent), which is what they count here.
	Floored int
}

// Add adds u to v.
func (v *Units) Add(u Units) {
	v.RRU += u.RRU
	v.WRU += u.WRU
	v.Calls += u.Calls
	v.Unreported += u.Unreported
	v.Floored += u.Floored
}

// CapacityMeter asks DynamoDB for the consumed capacity of every call (ReturnConsumedCapacity
// TOTAL, set on each input that has the field) and sums what the outputs report, per label.
// Label picks where a call counts ("" = not counted).
type CapacityMeter struct {
	Label func(ctx context.Context) string
	// Relabel, when set, may move a call to another label by what it is (its operation and
	// input), e.g. to tell one kind of write apart from the rest of a consumer's.
	Relabel func(label, op string, in any) string
	mu      sync.Mutex
	by      map[string]*Units
}

var readOps = map[string]bool{"GetItem": true, "Query": true, "Scan": true}

var writeOps = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true}

// Option installs the meter on a DynamoDB client.
func (m *CapacityMeter) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("streamspace-capacity",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					label := m.Label(ctx)
					if label == "" {
						return next.HandleInitialize(ctx, in)
					}
					if f := field(in.Parameters, "ReturnConsumedCapacity"); f.IsValid() && f.CanSet() {
						f.Set(reflect.ValueOf(types.ReturnConsumedCapacityTotal))
					}
					out, md, err := next.HandleInitialize(ctx, in)
					var u Units
					u.Calls = 1
					op := awsmiddleware.GetOperationName(ctx)
					if m.Relabel != nil {
						label = m.Relabel(label, op, in.Parameters)
					}
					var caps []types.ConsumedCapacity
					switch c := field(out.Result, "ConsumedCapacity"); {
					case !c.IsValid():
					case c.Kind() == reflect.Pointer && !c.IsNil():
						caps = append(caps, *c.Interface().(*types.ConsumedCapacity))
					case c.Kind() == reflect.Slice:
						caps = append(caps, c.Interface().([]types.ConsumedCapacity)...)
					}
					if len(caps) == 0 {
						u.Unreported = 1
					}
					for _, c := range caps {
						total := aws.ToFloat64(c.CapacityUnits)
						switch {
						case c.ReadCapacityUnits != nil || c.WriteCapacityUnits != nil:
							u.RRU += aws.ToFloat64(c.ReadCapacityUnits)
							u.WRU += aws.ToFloat64(c.WriteCapacityUnits)
						case writeOps[op]:
							u.WRU += total
						default:
							u.RRU += total
						}
					}
					if readOps[op] && u.RRU == 0 && len(caps) > 0 && err == nil {
						u.RRU, u.Floored = 0.5, 1
						if c := field(in.Parameters, "ConsistentRead"); c.IsValid() && !c.IsNil() && c.Elem().Bool() {
							u.RRU = 1
						}
					}
					m.mu.Lock()
					if m.by == nil {
						m.by = map[string]*Units{}
					}
					if m.by[label] == nil {
						m.by[label] = &Units{}
					}
					m.by[label].Add(u)
					m.mu.Unlock()
					return out, md, err
				}), middleware.After)
		})
	}
}

func field(v any, name string) reflect.Value {
	r := reflect.ValueOf(v)
	if !r.IsValid() || r.Kind() != reflect.Pointer || r.IsNil() {
		return reflect.Value{}
	}
	r = r.Elem()
	if r.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return r.FieldByName(name)
}

// Take returns the units per label since the last Take and resets them.
func (m *CapacityMeter) Take() map[string]Units {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Units{}
	for k, v := range m.by {
		out[k] = *v
	}
	m.by = nil
	return out
}

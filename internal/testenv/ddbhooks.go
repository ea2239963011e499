package testenv

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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

package testenv

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts DynamoDB operations made through a client (tests of round trips per route).
type CallCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// Option installs the counter on a DynamoDB client.
func (c *CallCounter) Option() func(*dynamodb.Options) {
	return hook(func(op string) error {
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
func Fault(fail func(op string) error) func(*dynamodb.Options) { return hook(fail) }

func hook(f func(op string) error) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("streamspace-test-hook",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if err := f(awsmiddleware.GetOperationName(ctx)); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

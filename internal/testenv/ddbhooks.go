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

// Option installs the counter on a DynamoDB client. Operations on tables named in skip are not
// counted (the notifier's asynchronous work on the connections table, say).
func (c *CallCounter) Option(skip ...string) func(*dynamodb.Options) {
	return hook(func(op string, in any) error {
		for _, t := range skip {
			if tableOf(in) == t {
				return nil
			}
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
	return hook(func(op string, _ any) error { return fail(op) })
}

// tableOf names the table of a single-table operation ("" for transactions and batches).
func tableOf(in any) string {
	switch v := in.(type) {
	case *dynamodb.GetItemInput:
		return *v.TableName
	case *dynamodb.PutItemInput:
		return *v.TableName
	case *dynamodb.UpdateItemInput:
		return *v.TableName
	case *dynamodb.DeleteItemInput:
		return *v.TableName
	case *dynamodb.QueryInput:
		return *v.TableName
	case *dynamodb.BatchWriteItemInput:
		for t := range v.RequestItems {
			return t
		}
	case *dynamodb.TransactWriteItemsInput:
		if len(v.TransactItems) > 0 && v.TransactItems[0].Put != nil {
			return *v.TransactItems[0].Put.TableName
		}
	}
	return ""
}

func hook(f func(op string, in any) error) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("streamspace-test-hook",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if err := f(awsmiddleware.GetOperationName(ctx), in.Parameters); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

package ddb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// QueryItems runs a query through all its pages and returns the raw items. For the bounded
// partitions stores read whole: a team's members, a catalog, a connection's subscriptions.
func QueryItems(ctx context.Context, db *dynamodb.Client, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", aws.ToString(in.TableName), err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

// QueryAll is QueryItems decoded into out (a pointer to a slice of structs).
func QueryAll(ctx context.Context, db *dynamodb.Client, in *dynamodb.QueryInput, out any) error {
	items, err := QueryItems(ctx, db, in)
	if err != nil {
		return err
	}
	return attributevalue.UnmarshalListOfMaps(items, out)
}

// BatchGet reads items by key, 100 a request, retrying unprocessed keys; missing items are
// simply absent from the result.
func BatchGet(ctx context.Context, db *dynamodb.Client, table string, keys []map[string]types.AttributeValue, consistent bool) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	for start := 0; start < len(keys); start += 100 {
		req := map[string]types.KeysAndAttributes{table: {Keys: keys[start:min(start+100, len(keys))], ConsistentRead: aws.Bool(consistent)}}
		for len(req) > 0 {
			res, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("batch get %s: %w", table, err)
			}
			out = append(out, res.Responses[table]...)
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// CancelReasons returns, per item of a cancelled transaction, whether its condition failed
// (nil when err is not a cancelled transaction).
func CancelReasons(err error) []bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil
	}
	out := make([]bool, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		out[i] = aws.ToString(r.Code) == "ConditionalCheckFailed"
	}
	return out
}

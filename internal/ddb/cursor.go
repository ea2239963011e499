package ddb

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/problem"
)

// EncodeCursor turns a query's LastEvaluatedKey into an opaque page cursor ("" when done).
func EncodeCursor(lek map[string]types.AttributeValue) string {
	if len(lek) == 0 {
		return ""
	}
	flat := make(map[string]string, len(lek))
	for k, v := range lek {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			flat[k] = s.Value
		}
	}
	b, _ := json.Marshal(flat)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor validates a cursor for one query: it must hold exactly the key attributes of that
// query's index, and the partition attributes in fixed must have the query's own values. A cursor
// that fails this was forged or belongs to another query: 400, never a database error.
func DecodeCursor(cursor string, fixed map[string]string, keyAttrs ...string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	bad := problem.Invalid("cursor", "is not a cursor of this listing")
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) > 2048 {
		return nil, bad
	}
	var flat map[string]string
	if json.Unmarshal(raw, &flat) != nil || len(flat) != len(keyAttrs) {
		return nil, bad
	}
	got := make([]string, 0, len(flat))
	for k := range flat {
		got = append(got, k)
	}
	want := append([]string(nil), keyAttrs...)
	sort.Strings(got)
	sort.Strings(want)
	for i := range got {
		if got[i] != want[i] || flat[got[i]] == "" {
			return nil, bad
		}
	}
	for k, v := range fixed {
		if flat[k] != v {
			return nil, bad
		}
	}
	out := make(map[string]types.AttributeValue, len(flat))
	for k, v := range flat {
		out[k] = &types.AttributeValueMemberS{Value: v}
	}
	return out, nil
}

// DecodeCursorIn is DecodeCursor for a query whose sort key condition is begins_with(attr,
// prefix): the cursor's attr must begin with prefix too. DynamoDB refuses a start key outside the
// key condition, which would be a 500; a cursor like that was forged, so it is a 400.
func DecodeCursorIn(cursor string, fixed map[string]string, attr, prefix string, keyAttrs ...string) (map[string]types.AttributeValue, error) {
	start, err := DecodeCursor(cursor, fixed, keyAttrs...)
	if err != nil || start == nil {
		return start, err
	}
	if s, ok := start[attr].(*types.AttributeValueMemberS); !ok || !strings.HasPrefix(s.Value, prefix) || len(s.Value) == len(prefix) {
		return nil, problem.Invalid("cursor", "is not a cursor of this listing")
	}
	return start, nil
}

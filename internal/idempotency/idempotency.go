// Package idempotency makes POST creates safe to retry: a create carrying an Idempotency-Key
// claims the key in the same TransactWriteItems as the create, so either both are written or
// neither is, and a retry finds the claim and replays the first result instead of creating twice.
//
// The claim is one main-table item per user and key:
//
//	PK = IDEMP#<userId>#<key>   SK = IDEMP
//	requestHash  SHA-256 of method, path and the parsed body (see Hash)
//	resourceId   the created resource's id (replays that re-read the resource)
//	status, location, response   the first answer, for replays that return it as stored
//	createdAt, expiresAt         unix seconds; expiresAt (the TTL attribute) is createdAt + 24 h
//
// Keys may not contain '#', so the key is always what follows the last '#' of the PK and two
// users' claims can never share an item whatever their user ids look like.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
	"streamspace/internal/problem"
)

// Header names of the mechanism.
const (
	KeyHeader      = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
	// MaxKeyLength bounds a key (it becomes part of a partition key).
	MaxKeyLength = 255
	// Window is how long a key binds; after it the key is free again, even before TTL removes
	// the record.
	Window = 24 * time.Hour
	// conflictTries bounds the retries when a concurrent request with the same key holds the
	// claim item inside its own, still running, transaction.
	conflictTries = 6
)

// ReusedType is the problem type of a key reused with another request.
const ReusedType = "https://streamspace.dev/problems/idempotency-key-reused"

// ValidKey checks a key: 1..255 visible ASCII characters (0x21-0x7E) other than '#'. Spaces,
// control and non-ASCII characters are refused rather than normalised, so a key means exactly
// one thing; '#' is the separator of the record's key.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return problem.Invalid(KeyHeader, fmt.Sprintf("must be 1 to %d characters", MaxKeyLength))
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e || c == '#' {
			return problem.Invalid(KeyHeader, "may only hold visible ASCII characters other than '#' (no spaces)")
		}
	}
	return nil
}

// Hash binds a key to one request: the method, the path (so a key reused on another route or
// another resource's sub-route never replays that route's result) and the parsed body
// re-encoded, so whitespace and key order do not matter. body is the decoded input (a struct or
// nil for routes without one).
func Hash(method, path string, body any) string {
	b, _ := json.Marshal(body)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", method, path)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Claim is one create's hold on a key. Fill in ResourceID, and for stored replays Status,
// Location and Response, before the create's transaction is built.
type Claim struct {
	UserID, Key, RequestHash string
	Now                      time.Time
	ResourceID               string
	Status                   int
	Location                 string
	// Response is the body a replay answers with. It must never hold a secret (an API key, an
	// invitation token): the record is readable by anyone with table access.
	Response []byte
}

// FromRequest returns the claim for a create, or nil when the request has no Idempotency-Key.
// body is the parsed input.
func FromRequest(r *http.Request, userID string, body any, now time.Time) (*Claim, error) {
	key := r.Header.Get(KeyHeader)
	if _, present := r.Header[http.CanonicalHeaderKey(KeyHeader)]; !present {
		return nil, nil
	}
	return New(userID, key, r.Method, r.URL.Path, body, now)
}

// New is the claim of key for a request made without an *http.Request at hand.
func New(userID, key, method, path string, body any, now time.Time) (*Claim, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	return &Claim{UserID: userID, Key: key, RequestHash: Hash(method, path, body), Now: now}, nil
}

// Respond sets what a replay answers: status, Location (may be empty) and v encoded as JSON.
// It does nothing on a nil claim (a request without a key).
func (c *Claim) Respond(status int, location string, v any) error {
	if c == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.Status, c.Location, c.Response = status, location, b
	return nil
}

// RecordKey is the key of the record of (userID, key).
func RecordKey(userID, key string) map[string]types.AttributeValue {
	return ddb.IdempotencyKey(userID, key)
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// Put is the claim's write, to be the last item of the create's transaction. It succeeds when
// the key is free or its record has expired (TTL deletes lazily).
func (c *Claim) Put(table string) types.TransactWriteItem {
	item := RecordKey(c.UserID, c.Key)
	item["requestHash"], item["userId"] = str(c.RequestHash), str(c.UserID)
	item["createdAt"], item[ddb.TTLAttribute] = num(c.Now.Unix()), num(c.Now.Add(Window).Unix())
	if c.ResourceID != "" {
		item["resourceId"] = str(c.ResourceID)
	}
	if c.Status != 0 {
		item["status"] = num(int64(c.Status))
	}
	if c.Location != "" {
		item["location"] = str(c.Location)
	}
	if c.Response != nil {
		item["response"] = str(string(c.Response))
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR expiresAt < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(c.Now.Unix())}}}
}

// Record is a stored claim, read back for a replay.
type Record struct {
	RequestHash string `dynamodbav:"requestHash"`
	ExpiresAt   int64  `dynamodbav:"expiresAt"`
	ResourceID  string `dynamodbav:"resourceId"`
	// SessionID is where records written before this package kept the created session.
	SessionID string `dynamodbav:"sessionId"`
	Status    int    `dynamodbav:"status"`
	Location  string `dynamodbav:"location"`
	Response  string `dynamodbav:"response"`
}

// ID is the created resource's id.
func (r *Record) ID() string {
	if r.ResourceID != "" {
		return r.ResourceID
	}
	return r.SessionID
}

// Write answers a stored replay: the first status, Location and body, plus Idempotent-Replayed.
func (r *Record) Write(w http.ResponseWriter) {
	MarkReplayed(w)
	if r.Location != "" {
		w.Header().Set("Location", r.Location)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.Status)
	_, _ = w.Write([]byte(r.Response + "\n"))
}

// MarkReplayed sets the header every replay carries.
func MarkReplayed(w http.ResponseWriter) { w.Header().Set(ReplayedHeader, "true") }

// Reused is the answer to a key already bound to another request.
func Reused() *problem.Error {
	p := problem.Conflict("this Idempotency-Key was already used with a different request (another body, route or resource) in the last 24 hours")
	p.Type = ReusedType
	return p
}

// errInFlight is returned when a concurrent request with the same key kept the claim busy
// through every retry.
func errInFlight() *problem.Error {
	return problem.Conflict("a request with this Idempotency-Key is still in progress; retry it")
}

// Write runs a create's transaction with the claim (when c is not nil) as its last item.
//
// It returns a record when the key was already claimed by the same request: the caller replays
// it instead of creating. A key claimed by another request is Reused(). Any other failure is
// returned as is; the claim being last, the cancellation reasons of tx keep their indexes.
func Write(ctx context.Context, db *dynamodb.Client, table string, c *Claim, tx []types.TransactWriteItem) (*Record, error) {
	if c == nil {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		return nil, err
	}
	tx = append(tx[:len(tx):len(tx)], c.Put(table))
	last := len(tx) - 1
	for try := 0; ; try++ {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		if err == nil {
			return nil, nil
		}
		switch reason(err, last) {
		case "ConditionalCheckFailed":
			return lookup(ctx, db, table, c)
		case "TransactionConflict":
			// The same key is being claimed by a concurrent retry right now. Wait for it to
			// commit (or fail) and try again: the next attempt replays or creates.
			if try+1 >= conflictTries {
				return nil, errInFlight()
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(10<<try+rand.IntN(10<<try)) * time.Millisecond):
			}
			continue
		}
		return nil, err
	}
}

// reason is the cancellation code of item i of a cancelled transaction ("" otherwise).
func reason(err error, i int) string {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) <= i {
		return ""
	}
	return aws.ToString(tce.CancellationReasons[i].Code)
}

// Peek reads the claim's record before a create whose checks would refuse a replay (an
// invitation the first request used up): a record of the same request comes back for replay, one
// of another request is Reused(); nil, nil when the key is free.
func Peek(ctx context.Context, db *dynamodb.Client, table string, c *Claim) (*Record, error) {
	if c == nil {
		return nil, nil
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: RecordKey(c.UserID, c.Key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", err)
	}
	if out.Item == nil {
		return nil, nil
	}
	return decode(out.Item, c)
}

// lookup reads the record that made the claim fail.
func lookup(ctx context.Context, db *dynamodb.Client, table string, c *Claim) (*Record, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: RecordKey(c.UserID, c.Key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", err)
	}
	if out.Item == nil { // expired and removed between the two calls: the caller may retry
		return nil, errInFlight()
	}
	rec, err := decode(out.Item, c)
	if rec == nil && err == nil { // cannot happen: the claim's condition saw it unexpired
		return nil, errInFlight()
	}
	return rec, err
}

func decode(item map[string]types.AttributeValue, c *Claim) (*Record, error) {
	var rec Record
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		return nil, fmt.Errorf("decode idempotency record: %w", err)
	}
	if rec.ExpiresAt < c.Now.Unix() { // expired: the key is free again
		return nil, nil
	}
	if rec.RequestHash != c.RequestHash {
		return nil, Reused()
	}
	return &rec, nil
}

// PutOne writes one conditional item: a plain PutItem without a claim (no transaction costs
// for creates without a key), a transaction with the claim otherwise. Either way, the item's
// own condition failing comes back as *types.ConditionalCheckFailedException.
func PutOne(ctx context.Context, db *dynamodb.Client, table string, c *Claim, put *types.Put) (*Record, error) {
	if c == nil {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression,
			ExpressionAttributeNames: put.ExpressionAttributeNames, ExpressionAttributeValues: put.ExpressionAttributeValues})
		return nil, err
	}
	rec, err := Write(ctx, db, table, c, []types.TransactWriteItem{{Put: put}})
	if reason(err, 0) == "ConditionalCheckFailed" {
		return nil, &types.ConditionalCheckFailedException{Message: aws.String("the item's condition failed")}
	}
	return rec, err
}

package streambatch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"streamspace/internal/ddb"
)

// FileSink appends dead letters to <Dir>/<consumer>.jsonl (the local stand-in for the bucket);
// with Dir "" it keeps nothing on disk. OnPark, if set, sees every dead letter (tests).
type FileSink struct {
	Dir    string
	OnPark func(DeadLetter)

	mu sync.Mutex
}

// Park appends one line.
func (s *FileSink) Park(_ context.Context, dl DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Dir != "" {
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(s.Dir, dl.Consumer+".jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(dl)
		_, err = f.Write(append(b, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if s.OnPark != nil {
		s.OnPark(dl)
	}
	return nil
}

// ReadFile reads a JSON-lines dead-letter file.
func ReadFile(path string) ([]DeadLetter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []DeadLetter
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var dl DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &dl); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, dl)
	}
	return out, sc.Err()
}

// WriteFile replaces a dead-letter file with dls (removing it when there are none).
func WriteFile(path string, dls []DeadLetter) error {
	if len(dls) == 0 {
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var buf bytes.Buffer
	for _, dl := range dls {
		b, _ := json.Marshal(dl)
		buf.Write(append(b, '\n'))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// S3API is the part of the S3 client the bucket sink uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// S3Sink keeps each dead letter as one object, dead-letters/<consumer>/<sequence number>.json:
// a record with both images can approach 800 KB, beyond what an SQS message holds, and one object
// per record makes redrive and deletion per record. Rewriting the same record is idempotent.
type S3Sink struct {
	Client S3API
	Bucket string
}

// Key is where a consumer's dead letter for a sequence number is kept.
func Key(consumer, seq string) string { return "dead-letters/" + consumer + "/" + seq + ".json" }

// Park writes the object.
func (s S3Sink) Park(ctx context.Context, dl DeadLetter) error {
	b, err := json.Marshal(dl)
	if err != nil {
		return err
	}
	_, err = s.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: aws.String(Key(dl.Consumer, dl.Record.Change.SequenceNumber)),
		Body: bytes.NewReader(b), ContentType: aws.String("application/json")})
	return err
}

// List reads every dead letter of a consumer from the bucket, with the object keys.
func (s S3Sink) List(ctx context.Context, consumer string) ([]DeadLetter, []string, error) {
	var dls []DeadLetter
	var keys []string
	in := &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: aws.String("dead-letters/" + consumer + "/")}
	for {
		out, err := s.Client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range out.Contents {
			obj, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: o.Key})
			if err != nil {
				return nil, nil, err
			}
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				return nil, nil, err
			}
			var dl DeadLetter
			if err := json.Unmarshal(b, &dl); err != nil {
				return nil, nil, fmt.Errorf("s3://%s/%s: %w", s.Bucket, aws.ToString(o.Key), err)
			}
			dls = append(dls, dl)
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			return dls, keys, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// Delete removes a redriven dead letter.
func (s S3Sink) Delete(ctx context.Context, consumer, seq string) error {
	_, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: aws.String(Key(consumer, seq))})
	return err
}

// ParseS3URL splits s3://bucket[/…] into the bucket.
func ParseS3URL(u string) (string, bool) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok || rest == "" {
		return "", false
	}
	bucket, _, _ := strings.Cut(rest, "/")
	return bucket, bucket != ""
}

// DynamoAttempts counts failures in items PK "STREAMRETRY#<consumer>", SK "<sequence number>"
// of a table without a stream (the Audit table, which holds the other counters), with a TTL of a
// day (the stream's retention). Never the Main table: a write there would feed the stream being
// consumed. Items are written only when a record fails.
type DynamoAttempts struct {
	DB    *dynamodb.Client
	Table string
	Now   func() time.Time
}

// Failed adds one failure and returns the count.
func (a DynamoAttempts) Failed(ctx context.Context, consumer, seq string) (int, error) {
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	out, err := a.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        &a.Table,
		Key:              ddb.Key(ddb.StreamRetryPK(consumer), seq),
		UpdateExpression: aws.String("ADD attempts :one SET expiresAt = :exp"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":one": &ddbtypes.AttributeValueMemberN{Value: "1"},
			":exp": &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10)},
		},
		ReturnValues: ddbtypes.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, err
	}
	n, ok := out.Attributes["attempts"].(*ddbtypes.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("no attempts count returned")
	}
	return strconv.Atoi(n.Value)
}

// RedriveFile re-feeds a dead-letter file's records of one consumer to fn; the records that
// went through leave the file, the others stay (with their new error). It returns the counts.
func RedriveFile(ctx context.Context, path, consumer string, fn RecordFunc) (done, failed int, err error) {
	dls, err := ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var keep []DeadLetter
	var others []DeadLetter
	for _, dl := range dls {
		if dl.Consumer != consumer {
			others = append(others, dl)
		}
	}
	ok, bad := Redrive(ctx, consumer, dls, fn)
	keep = append(others, bad...)
	return len(ok), len(bad), WriteFile(path, keep)
}

// RedriveS3 re-feeds a consumer's dead letters from the bucket to fn; each record that went
// through is deleted, the others stay.
func RedriveS3(ctx context.Context, sink S3Sink, consumer string, fn RecordFunc) (done, failed int, err error) {
	dls, _, err := sink.List(ctx, consumer)
	if err != nil {
		return 0, 0, err
	}
	ok, bad := Redrive(ctx, consumer, dls, fn)
	for _, dl := range ok {
		if err := sink.Delete(ctx, consumer, dl.Record.Change.SequenceNumber); err != nil {
			return len(ok), len(bad), err
		}
	}
	return len(ok), len(bad), nil
}

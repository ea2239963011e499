package streambatch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fakeS3 is an in-memory bucket with the four calls the sink makes.
type fakeS3 struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, _ := io.ReadAll(in.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objs[*in.Key] = b
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objs[*in.Key]
	if !ok {
		return nil, errors.New("NoSuchKey")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func (f *fakeS3) DeleteObject(_ context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, *in.Key)
	return &s3.DeleteObjectOutput{}, nil
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.objs {
		if len(k) >= len(*in.Prefix) && k[:len(*in.Prefix)] == *in.Prefix {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, k := range keys {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k)})
	}
	return out, nil
}

// The AWS path: the loop parks the whole record as one object per sequence number; a redrive from
// the bucket processes it once fixed and deletes the object, leaving other consumers' objects.
func TestS3DeadLettersRedriven(t *testing.T) {
	bucket := &fakeS3{objs: map[string][]byte{}}
	sink := S3Sink{Client: bucket, Bucket: "dl"}
	broken := true
	fn := func(_ context.Context, r events.DynamoDBEventRecord) error {
		if broken {
			return errors.New("poison")
		}
		return nil
	}
	r := rec("42", 0)
	r.Change.NewImage = map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("SESSION#s1")}
	for _, consumer := range []string{"notifier", "auditor"} {
		l := &Loop{Consumer: consumer, Sink: sink}
		if left := run(t, l, []events.DynamoDBEventRecord{r}, fn, 10); len(left) != 0 {
			t.Fatalf("%s: not parked", consumer)
		}
	}
	if _, ok := bucket.objs[Key("notifier", "42")]; !ok || len(bucket.objs) != 2 {
		t.Fatalf("objects: %v", bucket.objs)
	}
	dls, _, err := sink.List(context.Background(), "notifier")
	if err != nil || len(dls) != 1 || dls[0].Record.Change.NewImage["PK"].String() != "SESSION#s1" {
		t.Fatalf("listed %+v, %v", dls, err)
	}
	if done, failed, err := RedriveS3(context.Background(), sink, "notifier", fn); err != nil || done != 0 || failed != 1 {
		t.Fatalf("redrive while broken: %d, %d, %v", done, failed, err)
	}
	broken = false
	if done, failed, err := RedriveS3(context.Background(), sink, "notifier", fn); err != nil || done != 1 || failed != 0 {
		t.Fatalf("redrive: %d, %d, %v", done, failed, err)
	}
	if _, ok := bucket.objs[Key("notifier", "42")]; ok || len(bucket.objs) != 1 {
		t.Fatalf("after redrive: %v", bucket.objs)
	}
	if b, ok := ParseS3URL("s3://my-bucket/dead-letters/"); !ok || b != "my-bucket" {
		t.Fatalf("ParseS3URL: %q %v", b, ok)
	}
	if _, ok := ParseS3URL(".local/dead-letters/notifier.jsonl"); ok {
		t.Fatal("a file taken for a bucket")
	}
}

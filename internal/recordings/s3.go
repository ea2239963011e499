package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3 keeps recordings in a bucket: it presigns URLs for clients and writes what the gateway
// records (multipart uploads).
type S3 struct {
	Client *s3.Client
	Bucket string
}

func (b S3) UploadForm(ctx context.Context, key, contentType string, maxBytes int64, ttl time.Duration) (Form, error) {
	req, err := s3.NewPresignClient(b.Client).PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &b.Bucket, Key: &key},
		func(o *s3.PresignPostOptions) {
			o.Expires = ttl
			o.Conditions = []any{[]any{"content-length-range", 1, maxBytes}, map[string]string{"Content-Type": contentType}}
		})
	if err != nil {
		return Form{}, fmt.Errorf("presign upload: %w", err)
	}
	fields := map[string]string{"Content-Type": contentType}
	for k, v := range req.Values {
		fields[k] = v
	}
	return Form{URL: req.URL, Fields: fields}, nil
}

func (b S3) Size(ctx context.Context, key string) (int64, error) {
	out, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.Bucket, Key: &key})
	var nf *types.NotFound
	if errors.As(err, &nf) {
		return 0, ErrNoObject
	}
	if err != nil {
		return 0, fmt.Errorf("head object: %w", err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Seal cannot revoke a presigned POST in S3: the form expires on its own (uploadTTL).
func (b S3) Seal(context.Context, string) error { return nil }

func (b S3) DownloadURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s3.NewPresignClient(b.Client).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.Bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign download: %w", err)
	}
	return req.URL, nil
}

func (b S3) Delete(ctx context.Context, key string) error {
	_, err := b.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.Bucket, Key: &key})
	return err
}

// The gateway's side: multipart uploads of the recordings it makes, and checkpoint objects.

func (b S3) CreateUpload(ctx context.Context, key, contentType string) (string, error) {
	out, err := b.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.Bucket, Key: &key,
		ContentType: aws.String(contentType)})
	if err != nil {
		return "", fmt.Errorf("create upload: %w", err)
	}
	return aws.ToString(out.UploadId), nil
}

func (b S3) UploadPart(ctx context.Context, key, uploadID string, n int32, body []byte) (string, error) {
	out, err := b.Client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.Bucket, Key: &key, UploadId: &uploadID,
		PartNumber: aws.Int32(n), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		return "", uploadErr("upload part", err)
	}
	return aws.ToString(out.ETag), nil
}

func (b S3) CompleteUpload(ctx context.Context, key, uploadID string, parts []Part) error {
	done := make([]types.CompletedPart, 0, len(parts))
	for _, p := range parts {
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)})
	}
	_, err := b.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.Bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	return uploadErr("complete upload", err)
}

func (b S3) AbortUpload(ctx context.Context, key, uploadID string) error {
	_, err := b.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.Bucket, Key: &key, UploadId: &uploadID})
	if err := uploadErr("abort upload", err); err != nil && !errors.Is(err, ErrNoUpload) {
		return err
	}
	return nil
}

func (b S3) Put(ctx context.Context, key, contentType string, body []byte) error {
	_, err := b.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.Bucket, Key: &key, ContentType: aws.String(contentType),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	return nil
}

func (b S3) Get(ctx context.Context, key string, max int64) ([]byte, error) {
	out, err := b.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.Bucket, Key: &key})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, ErrNoObject
	}
	if err != nil {
		return nil, fmt.Errorf("get object: %w", err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("get object: %w", err)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("get object: more than %d bytes", max)
	}
	return body, nil
}

func uploadErr(what string, err error) error {
	var nsu *types.NoSuchUpload
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nsu):
		return fmt.Errorf("%s: %w", what, ErrNoUpload)
	}
	return fmt.Errorf("%s: %w", what, err)
}

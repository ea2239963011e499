package ecs

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"streamspace/internal/runtime"
)

// S3API is the part of the S3 API the driver calls (the per-session environment files).
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// EnvFilePrefix holds the environment files in their bucket. The task execution role may read
// under it and nothing else; the bucket expires whatever a crash leaves there after a day.
const EnvFilePrefix = "session-env/"

// envFileKey is one session's file: the same key for every start of the session, so a wake
// overwrites rather than accumulates, and deleting it needs nothing but the session id.
func envFileKey(sessionID string) string { return EnvFilePrefix + sessionID + ".env" }

// envFile is the per-start part of the image contract (docs/runtime.md): the session id and the
// VNC password, in the format ECS reads (VARIABLE=VALUE lines, no quoting or escaping, which is
// why a value with a line break is refused rather than written).
func envFile(spec runtime.Spec) ([]byte, error) {
	var b bytes.Buffer
	for _, kv := range [][2]string{{"STREAMSPACE_SESSION_ID", spec.SessionID}, {"STREAMSPACE_VNC_PASSWORD", spec.Secret}} {
		if kv[1] == "" || strings.ContainsAny(kv[1], "\r\n\x00") {
			return nil, fmt.Errorf("environment file of %s: %s is empty or spans lines", spec.SessionID, kv[0])
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return b.Bytes(), nil
}

// writeEnvFile stores the session's environment file before RunTask names it. The bucket's
// default encryption (SSE-KMS with the stack's key) applies: the runtime names no key, so it
// needs no more than kms:GenerateDataKey on it.
func (d *Driver) writeEnvFile(ctx context.Context, spec runtime.Spec) (types.EnvironmentFile, error) {
	bucket, err := d.Cfg.envBucket()
	if err != nil {
		return types.EnvironmentFile{}, err
	}
	body, err := envFile(spec)
	if err != nil {
		return types.EnvironmentFile{}, err
	}
	key := envFileKey(spec.SessionID)
	if _, err := d.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String("text/plain")}); err != nil {
		return types.EnvironmentFile{}, fmt.Errorf("write the environment file of %s: %w", spec.SessionID, err)
	}
	return types.EnvironmentFile{Type: types.EnvironmentFileTypeS3, Value: aws.String(d.Cfg.EnvBucketARN + "/" + key)}, nil
}

// deleteEnvFile removes the session's environment file once nothing will start from it again
// (a wake writes a new one). Deleting a missing object succeeds in S3, so repeats are harmless.
func (d *Driver) deleteEnvFile(ctx context.Context, sessionID string) error {
	bucket, err := d.Cfg.envBucket()
	if err != nil {
		return err
	}
	if _, err := d.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(envFileKey(sessionID))}); err != nil {
		return fmt.Errorf("delete the environment file of %s: %w", sessionID, err)
	}
	return nil
}

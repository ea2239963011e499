package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"streamspace/internal/app"
	"streamspace/internal/app/awsruntime"
	"streamspace/internal/ddb"
	"streamspace/internal/local/issuer"
	"streamspace/internal/runtime"
	"streamspace/internal/streambatch"
)

// redriveCmd re-feeds parked stream records to a consumer's record handler (docs/deploy.md,
// "Dead letters and redrive"):
//
//	streamspace redrive -consumer notifier -from .local/dead-letters/notifier.jsonl
//	streamspace redrive -consumer auditor -from s3://BUCKET      (the deployed stack's environment)
//
// Records that go through leave the file (or their object is deleted); the others stay.
func redriveCmd(args []string) error {
	fs := flag.NewFlagSet("redrive", flag.ExitOnError)
	consumer := fs.String("consumer", "", "notifier, or a processor step: auditor or runtime")
	from := fs.String("from", "", "a dead-letter file (.jsonl) or s3://BUCKET")
	_ = fs.Parse(args)
	if *consumer == "" || *from == "" {
		return errors.New("usage: streamspace redrive -consumer notifier|auditor|runtime -from FILE|s3://BUCKET")
	}
	bucket, isS3 := streambatch.ParseS3URL(*from)
	if !isS3 {
		// A local file: talk to the parts of a running `make run` stack unless told otherwise.
		for k, v := range map[string]string{
			"DYNAMODB_ENDPOINT": "http://127.0.0.1:8000", "JWKS_URL": "http://127.0.0.1:8080" + issuer.JWKSPath,
			"WEBSOCKET_MANAGEMENT_ENDPOINT": "http://127.0.0.1:8081",
		} {
			if os.Getenv(k) == "" {
				os.Setenv(k, v)
			}
		}
	}
	ctx := context.Background()
	cfg := app.ConfigFromEnv()
	awsCfg := ddb.LocalConfig()
	if isS3 {
		var err error
		if awsCfg, err = ddb.LoadConfig(ctx); err != nil {
			return fmt.Errorf("aws config: %w", err)
		}
	}
	a := app.New(cfg, awsCfg, slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	var driver runtime.Driver
	if *consumer == "runtime" {
		d, err := awsruntime.Driver(a)
		if err != nil {
			return err
		}
		driver = d
	}
	fn, err := a.StreamConsumer(strings.ToLower(*consumer), driver)
	if err != nil {
		return err
	}
	var done, failed int
	if isS3 {
		done, failed, err = streambatch.RedriveS3(ctx, streambatch.S3Sink{Client: s3.NewFromConfig(awsCfg), Bucket: bucket}, *consumer, fn)
	} else {
		done, failed, err = streambatch.RedriveFile(ctx, *from, *consumer, fn)
	}
	fmt.Printf("redrive %s: %d processed, %d still failing\n", *consumer, done, failed)
	if err == nil && failed > 0 {
		err = fmt.Errorf("%d records still fail (kept in %s)", failed, *from)
	}
	return err
}

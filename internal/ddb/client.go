package ddb

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Local credentials and region used by every part of the local stack: DynamoDB Local keeps a
// separate database per access key and region, so they must never vary.
const (
	LocalRegion    = "us-east-1"
	LocalAccessKey = "streamspacelocal"
)

// LocalConfig is the AWS configuration of the local stack and the tests.
func LocalConfig() aws.Config {
	return aws.Config{Region: LocalRegion,
		Credentials: credentials.NewStaticCredentialsProvider(LocalAccessKey, "local", "")}
}

// LoadConfig reads the Lambda environment's configuration: region and the execution role's
// credentials from the variables the Lambda runtime sets. (The SDK's config package would also
// link SSO, STS and IMDS clients a Lambda never uses: megabytes of binary and cold start.)
// When DYNAMODB_ENDPOINT is set (a function run against DynamoDB Local) it uses the local
// credentials instead.
func LoadConfig(_ context.Context) (aws.Config, error) {
	if os.Getenv("DYNAMODB_ENDPOINT") != "" {
		return LocalConfig(), nil
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" || os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		return aws.Config{}, errors.New("AWS_REGION and AWS_ACCESS_KEY_ID must be set (the Lambda runtime sets them)")
	}
	return aws.Config{Region: region, Credentials: aws.NewCredentialsCache(envCredentials{})}, nil
}

// envCredentials reads the runtime's credential variables at every refresh.
type envCredentials struct{}

func (envCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: os.Getenv("AWS_SESSION_TOKEN"), Source: "LambdaEnvironment"}, nil
}

// NewClient builds a DynamoDB client; endpoint overrides the service address (DynamoDB Local).
func NewClient(cfg aws.Config, endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// DynamoDB Local's error responses carry no valid CRC32; checking them only adds noise.
			o.DisableValidateResponseChecksum = true
		}
	}}, optFns...)...)
}

// NamesFromEnv reads the deployed table names.
func NamesFromEnv() TableNames {
	n := TableNames{Main: os.Getenv("TABLE_NAME"), Connections: os.Getenv("CONNECTIONS_TABLE_NAME"), Audit: os.Getenv("AUDIT_TABLE_NAME")}
	if n.Main == "" {
		n.Main = DefaultMain
	}
	if n.Connections == "" {
		n.Connections = DefaultConns
	}
	if n.Audit == "" {
		n.Audit = DefaultAudit
	}
	return n
}

package ddb

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
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

// LoadConfig reads the Lambda environment's configuration. When DYNAMODB_ENDPOINT is set (a
// function invoked against DynamoDB Local) it uses the local credentials instead.
func LoadConfig(ctx context.Context) (aws.Config, error) {
	if os.Getenv("DYNAMODB_ENDPOINT") != "" {
		return LocalConfig(), nil
	}
	return config.LoadDefaultConfig(ctx)
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
	n := TableNames{Main: os.Getenv("TABLE_NAME"), Connections: os.Getenv("CONNECTIONS_TABLE_NAME")}
	if n.Main == "" {
		n.Main = DefaultMain
	}
	if n.Connections == "" {
		n.Connections = DefaultConns
	}
	return n
}

package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"streamspace/internal/ddb"
)

// retainedTables keep their data when the stack goes away (sessions, users, teams; the audit
// record). Connections expire after 2 h anyway.
var retainedTables = map[string]bool{ddb.MainLogicalID: true, ddb.AuditLogicalID: true}

// newTable builds one table from its Go definition (internal/ddb/tables.go: keys, GSIs, stream),
// the same definition the local stack creates tables from.
func newTable(s awscdk.Stack, def ddb.TableDef) awsdynamodb.Table {
	str := func(name string) *awsdynamodb.Attribute {
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
	}
	props := &awsdynamodb.TableProps{
		PartitionKey:        str(ddb.PK),
		SortKey:             str(ddb.SK),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		TimeToLiveAttribute: jsii.String(ddb.TTLAttribute),
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		Encryption:    awsdynamodb.TableEncryption_AWS_MANAGED,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	}
	if retainedTables[def.LogicalID] {
		props.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	}
	if def.Stream {
		props.Stream = awsdynamodb.StreamViewType(ddb.StreamViewType)
	}
	t := awsdynamodb.NewTable(s, jsii.String(def.LogicalID), props)
	for _, g := range def.GSIs {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(g),
			PartitionKey:   str(g + "PK"),
			SortKey:        str(g + "SK"),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	overrideID(t, def.LogicalID)
	return t
}

// newRecordingsBucket is the session recordings bucket: SSE-S3 (presigned uploads need no KMS
// permission), private, ACLs off, every object expiring after RecordingsMaxRetentionDays, CORS
// for the web app's presigned GET/PUT, TLS only. L1 on purpose: the L2 Bucket's conveniences
// (enforceSSL, autoDeleteObjects) add resources of their own.
func newRecordingsBucket(s awscdk.Stack, p *parameters) awss3.CfnBucket {
	b := awss3.NewCfnBucket(s, jsii.String("RecordingsBucket"), &awss3.CfnBucketProps{
		BucketEncryption:               sseS3(),
		PublicAccessBlockConfiguration: blockPublicAccess(),
		OwnershipControls:              ownerEnforced(),
		LifecycleConfiguration: &awss3.CfnBucket_LifecycleConfigurationProperty{
			Rules: []any{&awss3.CfnBucket_RuleProperty{
				Id:               jsii.String("ExpireRecordings"),
				Status:           jsii.String("Enabled"),
				ExpirationInDays: p.RecordingsMaxRetentionDays.ValueAsNumber(),
				AbortIncompleteMultipartUpload: &awss3.CfnBucket_AbortIncompleteMultipartUploadProperty{
					DaysAfterInitiation: jsii.Number(1),
				},
			}},
		},
		CorsConfiguration: &awss3.CfnBucket_CorsConfigurationProperty{
			CorsRules: []any{&awss3.CfnBucket_CorsRuleProperty{
				Id:             jsii.String("PresignedUrlsFromTheWebApp"),
				AllowedOrigins: p.CorsAllowedOrigins.ValueAsList(),
				AllowedMethods: jsii.Strings("GET", "PUT", "POST"),
				AllowedHeaders: jsii.Strings("content-type", "content-md5", "range", "x-amz-*"),
				ExposedHeaders: jsii.Strings("etag", "content-length", "content-range", "accept-ranges"),
				MaxAge:         jsii.Number(600),
			}},
		},
	})
	b.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	denyInsecureTransport(s, "RecordingsBucketPolicy", b)
	return b
}

// newDeadLetterBucket keeps the stream records a consumer gives up on, whole (SEC-10): SSE-S3,
// private, ACLs off, TLS only, objects kept 90 days.
func newDeadLetterBucket(s awscdk.Stack) awss3.CfnBucket {
	b := awss3.NewCfnBucket(s, jsii.String("DeadLetterBucket"), &awss3.CfnBucketProps{
		BucketEncryption:               sseS3(),
		PublicAccessBlockConfiguration: blockPublicAccess(),
		OwnershipControls:              ownerEnforced(),
		LifecycleConfiguration: &awss3.CfnBucket_LifecycleConfigurationProperty{
			Rules: []any{&awss3.CfnBucket_RuleProperty{
				Id: jsii.String("ExpireDeadLetters"), Status: jsii.String("Enabled"), ExpirationInDays: jsii.Number(90),
			}},
		},
	})
	b.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	denyInsecureTransport(s, "DeadLetterBucketPolicy", b)
	return b
}

// parkDeadLetters lets a stream consumer write the records it (or each of its steps) gives up
// on under its own prefix and, unless it writes the audit table anyway, count its failures there
// under its own key.
func (r *refs) parkDeadLetters(countFailures bool, consumers ...string) []awsiam.PolicyStatement {
	var prefixes []*string
	for _, c := range consumers {
		prefixes = append(prefixes, jsii.String(*r.deadLetters.AttrArn()+"/dead-letters/"+c+"/*"))
	}
	st := []awsiam.PolicyStatement{allow("ParkDeadLetters", []string{"s3:PutObject"}, prefixes...)}
	if countFailures {
		st = append(st, onlyLeadingKeys(allow("CountStreamFailures", []string{"dynamodb:UpdateItem"}, r.audit.TableArn()), ddb.StreamRetryPK(consumers[0])))
	}
	return st
}

// readMainStream is a stream consumer's first policy: the Main table's stream only (SAM's
// DynamoDB event would attach AWSLambdaDynamoDBExecutionRole, every stream of the account:
// SEC-20, so both templates declare the mapping themselves), and its on-failure queue.
func (r *refs) readMainStream(dlq *string) []awsiam.PolicyStatement {
	return []awsiam.PolicyStatement{
		allow("ReadMainTableStream", []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
			jsii.String(*r.main.TableArn()+"/stream/*")),
		allow("ParkBatchMetadata", []string{"sqs:SendMessage"}, dlq),
	}
}

// Every bucket of the stack is private with ACLs off; the recordings and dead-letter buckets use
// SSE-S3 (presigned uploads and the consumers need no KMS permission).
func blockPublicAccess() *awss3.CfnBucket_PublicAccessBlockConfigurationProperty {
	return &awss3.CfnBucket_PublicAccessBlockConfigurationProperty{BlockPublicAcls: jsii.Bool(true), BlockPublicPolicy: jsii.Bool(true),
		IgnorePublicAcls: jsii.Bool(true), RestrictPublicBuckets: jsii.Bool(true)}
}

func ownerEnforced() *awss3.CfnBucket_OwnershipControlsProperty {
	return &awss3.CfnBucket_OwnershipControlsProperty{
		Rules: []any{&awss3.CfnBucket_OwnershipControlsRuleProperty{ObjectOwnership: jsii.String("BucketOwnerEnforced")}}}
}

func sseS3() *awss3.CfnBucket_BucketEncryptionProperty {
	return &awss3.CfnBucket_BucketEncryptionProperty{ServerSideEncryptionConfiguration: []any{
		&awss3.CfnBucket_ServerSideEncryptionRuleProperty{ServerSideEncryptionByDefault: &awss3.CfnBucket_ServerSideEncryptionByDefaultProperty{
			SseAlgorithm: jsii.String("AES256")}}}}
}

// denyInsecureTransport is a bucket's policy refusing plain HTTP to everyone, then granting
// what extra grants.
func denyInsecureTransport(s awscdk.Stack, id string, b awss3.CfnBucket, extra ...awsiam.PolicyStatement) {
	statements := append([]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("DenyInsecureTransport"),
		Effect:     awsiam.Effect_DENY,
		Principals: &[]awsiam.IPrincipal{awsiam.NewStarPrincipal()},
		Actions:    jsii.Strings("s3:*"),
		Resources:  &[]*string{b.AttrArn(), jsii.String(*b.AttrArn() + "/*")},
		Conditions: &map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
	})}, extra...)
	awss3.NewCfnBucketPolicy(s, jsii.String(id), &awss3.CfnBucketPolicyProps{
		Bucket:         b.Ref(),
		PolicyDocument: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements}),
	})
}

// newDeadLetterQueue parks the stream records a consumer could not process after retries and
// bisection, for 14 days (the SQS maximum).
func newDeadLetterQueue(s awscdk.Stack, id string) awssqs.CfnQueue {
	q := awssqs.NewCfnQueue(s, jsii.String(id), &awssqs.CfnQueueProps{
		MessageRetentionPeriod: jsii.Number(1209600),
		SqsManagedSseEnabled:   jsii.Bool(true),
	})
	q.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	return q
}

package stack

import (
	"slices"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"streamspace/internal/ddb"
	"streamspace/internal/infratest"
	"streamspace/internal/routes"
)

// CDK assertions on the synthesized stack: what the app itself promises, independent of the
// SAM template (parity_test.go compares the two).

type obj = map[string]any

// functionNames are the product's functions: one per HTTP area of routes.go, then the
// authorizer, the WebSocket handler, the stream readers, the scheduler and the task-events
// handler, and the user pool's PreSignUp trigger (only with self sign-up).
func functionNames() []string {
	return append(routes.Functions(), "authorizer", "websocket", "notifier", "processor", "scheduler", "taskevents", "presignup")
}

func TestFunctions(t *testing.T) {
	names := functionNames()
	must(t, "function count", func() {
		synthed.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(len(names)))
	})
	must(t, "every function: Go on provided.al2023, arm64, bootstrap, tracing per the Tracing parameter", func() {
		synthed.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), obj{
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"TracingConfig": obj{"Mode": obj{"Ref": "Tracing"}},
		})
	})
	for _, name := range names {
		id := logicalID(name)
		must(t, id+" is built from functions/"+name, func() {
			synthed.HasResource(jsii.String("AWS::Lambda::Function"), obj{
				"Metadata": obj{SourceMetadataKey: "functions/" + name},
				"Properties": assertions.Match_ObjectLike(&obj{
					"Role":          obj{"Fn::GetAtt": []any{id + "Role", "Arn"}},
					"LoggingConfig": obj{"LogGroup": obj{"Ref": stem(name) + "LogGroup"}},
					"Environment": obj{"Variables": assertions.Match_ObjectLike(&obj{
						"TABLE_NAME":             obj{"Ref": ddb.MainLogicalID},
						"CONNECTIONS_TABLE_NAME": obj{"Ref": ddb.ConnLogicalID},
						"AUDIT_TABLE_NAME":       obj{"Ref": ddb.AuditLogicalID},
					})},
				}),
			})
		})
	}
	// The notifier fans out to many connections: more memory and a minute per batch.
	must(t, "notifier size", func() {
		found := synthed.FindResources(jsii.String("AWS::Lambda::Function"), obj{"Properties": obj{"MemorySize": 512, "Timeout": 60}})
		if _, ok := (*found)["NotifierFunction"]; !ok {
			t.Error("NotifierFunction: want 512 MB and 60 s")
		}
	})
}

// TestTables: the tables are internal/ddb's definitions (the same the local stack creates).
func TestTables(t *testing.T) {
	must(t, "table count", func() {
		synthed.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(len(ddb.AllTables)))
	})
	for _, def := range ddb.AllTables {
		// Main and Audit switch to provisioned capacity on TableCapacityMode (capacity.go).
		billing, throughput := any("PAY_PER_REQUEST"), assertions.Match_Absent()
		if def.LogicalID != ddb.ConnLogicalID {
			billing = obj{"Fn::If": []any{"ProvisionedTables", "PROVISIONED", "PAY_PER_REQUEST"}}
			throughput = assertions.Match_ObjectEquals(&obj{"Fn::If": []any{"ProvisionedTables",
				obj{"ReadCapacityUnits": obj{"Ref": "ProvisionedCapacityMin"}, "WriteCapacityUnits": obj{"Ref": "ProvisionedCapacityMin"}},
				obj{"Ref": "AWS::NoValue"}}})
		}
		var gsis []any
		for _, g := range def.GSIs {
			gsis = append(gsis, obj{
				"IndexName":             g,
				"KeySchema":             []any{obj{"AttributeName": g + "PK", "KeyType": "HASH"}, obj{"AttributeName": g + "SK", "KeyType": "RANGE"}},
				"Projection":            obj{"ProjectionType": "ALL"},
				"ProvisionedThroughput": throughput,
			})
		}
		stream := assertions.Match_Absent()
		if def.Stream {
			stream = assertions.Match_ObjectEquals(&obj{"StreamViewType": string(ddb.StreamViewType)})
		}
		deletion := "Delete"
		if retainedTables[def.LogicalID] {
			deletion = "Retain"
		}
		props := obj{
			"BillingMode":                      billing,
			"ProvisionedThroughput":            throughput,
			"KeySchema":                        []any{obj{"AttributeName": ddb.PK, "KeyType": "HASH"}, obj{"AttributeName": ddb.SK, "KeyType": "RANGE"}},
			"GlobalSecondaryIndexes":           assertions.Match_ArrayEquals(&gsis),
			"StreamSpecification":              stream,
			"TimeToLiveSpecification":          obj{"AttributeName": ddb.TTLAttribute, "Enabled": true},
			"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
			"SSESpecification":                 obj{"SSEEnabled": true},
		}
		must(t, def.LogicalID, func() {
			found := synthed.FindResources(jsii.String("AWS::DynamoDB::Table"), obj{
				"Properties": props, "DeletionPolicy": deletion, "UpdateReplacePolicy": deletion,
			})
			if _, ok := (*found)[def.LogicalID]; !ok {
				t.Errorf("no table %s with %v (DeletionPolicy %s)", def.LogicalID, props, deletion)
			}
		})
	}
}

// TestHTTPRoutes: one route per entry of routes.All, on the function of its area, with no
// authorizer (the functions authenticate: SEC-09); nothing else.
func TestHTTPRoutes(t *testing.T) {
	routeKeys := map[string]bool{}
	for _, r := range routes.All {
		routeKeys[r.Key()] = true
		must(t, r.Key(), func() {
			synthed.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), obj{"ApiId": obj{"Ref": "HttpApi"}, "RouteKey": r.Key(),
				"AuthorizationType": "NONE", "AuthorizerId": assertions.Match_Absent()})
		})
	}
	found := synthed.FindResources(jsii.String("AWS::ApiGatewayV2::Route"), obj{"Properties": obj{"ApiId": obj{"Ref": "HttpApi"}}})
	if len(*found) != len(routeKeys) {
		t.Errorf("HttpApi has %d routes, routes.All %d", len(*found), len(routeKeys))
	}
	if authz := synthed.FindResources(jsii.String("AWS::ApiGatewayV2::Authorizer"), obj{"Properties": obj{"ApiId": obj{"Ref": "HttpApi"}}}); len(*authz) != 0 {
		t.Errorf("HttpApi has %d authorizers, want none", len(*authz))
	}
}

func TestWebSocketRoutes(t *testing.T) {
	for key, auth := range map[string]string{"$connect": "CUSTOM", "$disconnect": "NONE", "$default": "NONE"} {
		must(t, key, func() {
			synthed.HasResourceProperties(jsii.String("AWS::ApiGatewayV2::Route"), obj{
				"ApiId": obj{"Ref": "WebSocketApi"}, "RouteKey": key, "AuthorizationType": auth,
				"Target": obj{"Fn::Sub": "integrations/${WebSocketIntegration}"},
			})
		})
	}
}

// TestStreamConsumers: the notifier and the processor read MainTable's stream with the same
// failure handling, each parking what fails in its own queue; the processor takes smaller
// batches (a record may start a task), five at once per shard, and every record (its auditor
// step reads them all).
func TestStreamConsumers(t *testing.T) {
	must(t, "mapping count", func() {
		synthed.ResourceCountIs(jsii.String("AWS::Lambda::EventSourceMapping"), jsii.Number(2))
	})
	for _, c := range []struct {
		fn, dlq  string
		batch    int
		window   int
		parallel any
	}{
		{"NotifierFunction", "NotifierDeadLetterQueue", 100, 0, assertions.Match_Absent()},
		{"ProcessorFunction", "ProcessorDeadLetterQueue", 25, 1, 2},
	} {
		must(t, c.fn, func() {
			synthed.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), obj{
				"FunctionName":                   obj{"Ref": c.fn},
				"EventSourceArn":                 obj{"Fn::GetAtt": []any{ddb.MainLogicalID, "StreamArn"}},
				"BatchSize":                      c.batch,
				"MaximumBatchingWindowInSeconds": c.window,
				"ParallelizationFactor":          c.parallel,
				"FilterCriteria":                 assertions.Match_Absent(),
				"BisectBatchOnFunctionError":     true,
				"MaximumRetryAttempts":           5,
				"MaximumRecordAgeInSeconds":      3600,
				"FunctionResponseTypes":          []any{"ReportBatchItemFailures"},
				"DestinationConfig":              obj{"OnFailure": obj{"Destination": obj{"Fn::GetAtt": []any{c.dlq, "Arn"}}}},
			})
		})
	}
}

// TestAtMostTwoStreamReaders runs internal/infratest's stream-reader limit (issue 14: DynamoDB
// Streams throttles above two readers per shard) on the CDK template, and checks that it fails
// on a third mapping.
func TestAtMostTwoStreamReaders(t *testing.T) {
	tmpl := cdkTemplate(t)
	for _, f := range infratest.StreamReaderFindings(tmpl) {
		t.Error(f)
	}
	res := tmpl["Resources"].(map[string]any)
	third := map[string]any{}
	for k, v := range res["NotifierFunctionMainTableStream"].(map[string]any) {
		third[k] = v
	}
	res["ThirdReaderMainTableStream"] = third
	if len(infratest.StreamReaderFindings(tmpl)) == 0 {
		t.Error("a third mapping on the stream went unnoticed")
	}
}

func TestSchedule(t *testing.T) {
	must(t, "once a minute", func() {
		synthed.HasResourceProperties(jsii.String("AWS::Events::Rule"), obj{
			"ScheduleExpression": "rate(1 minute)", "State": "ENABLED",
			"Targets": []any{assertions.Match_ObjectLike(&obj{"Arn": obj{"Fn::GetAtt": []any{"SchedulerFunction", "Arn"}}})},
		})
	})
	must(t, "a failed tick is not retried", func() {
		synthed.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), obj{
			"FunctionName": obj{"Ref": "SchedulerFunction"}, "MaximumRetryAttempts": 0,
		})
	})
}

// TestGrantsAreExplicit: every grant is a role's inline policy declared in this package; no L2
// construct added a policy resource or a resource policy of its own (the one queue policy is
// the task-events dead-letter queue's, written out in runtime.go).
func TestGrantsAreExplicit(t *testing.T) {
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::DynamoDB::ResourcePolicy", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"} {
		want := map[string][]string{"AWS::S3::BucketPolicy": {"ConsoleBucketPolicy", "DeadLetterBucketPolicy", "RecordingsBucketPolicy", "SessionEnvBucketPolicy"},
			"AWS::SQS::QueuePolicy": {"TaskEventsDeadLetterQueuePolicy"}}[typ]
		var got []string
		for id := range *synthed.FindResources(jsii.String(typ), obj{}) {
			got = append(got, id)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s resources: %v, want %q only", typ, got, want)
		}
	}
	// One role per function, plus the execution and task roles of the session tasks and of the
	// gateway's.
	must(t, "roles", func() {
		synthed.ResourceCountIs(jsii.String("AWS::IAM::Role"), jsii.Number(len(functionNames())+4))
	})
}

// TestNoCDKMetadata: no resource without a SAM counterpart.
func TestNoCDKMetadata(t *testing.T) {
	must(t, "AWS::CDK::Metadata", func() { synthed.ResourceCountIs(jsii.String("AWS::CDK::Metadata"), jsii.Number(0)) })
}

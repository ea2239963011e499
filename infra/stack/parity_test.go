package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"streamspace/infra/parity"
)

var (
	codeOnce sync.Once
	samCode  parity.CodeSource
)

// samCodeSource is parity.MakefileSource on the repository's Makefile, shared by the tests (it
// caches each `make -n`).
func samCodeSource() parity.CodeSource {
	codeOnce.Do(func() { samCode = parity.MakefileSource(root) })
	return samCode
}

func compare(t *testing.T, sam, cdk map[string]any) []string {
	t.Helper()
	diffs, err := parity.Compare(sam, cdk, samCodeSource())
	if err != nil {
		t.Fatal(err)
	}
	return diffs
}

// TestParity: template.yaml (transformed offline) and the CDK app describe the same stack.
func TestParity(t *testing.T) {
	t.Parallel()
	for _, d := range compare(t, samTemplate(t), cdkTemplate(t)) {
		t.Error(d)
	}
}

// ---- mutations ------------------------------------------------------------------------------

type tmpl = map[string]any

func resource(t tmpl, id string) tmpl {
	r, ok := t["Resources"].(tmpl)[id].(tmpl)
	if !ok {
		panic("no resource " + id)
	}
	return r
}

func properties(t tmpl, id string) tmpl { return resource(t, id)["Properties"].(tmpl) }

func sub(text string) tmpl { return tmpl{"Fn::Sub": text} }

func getAtt(id, attr string) tmpl { return tmpl{"Fn::GetAtt": []any{id, attr}} }

// gsi is one index of a table's GlobalSecondaryIndexes.
func gsi(t tmpl, table, name string) tmpl {
	for _, g := range properties(t, table)["GlobalSecondaryIndexes"].([]any) {
		if g.(tmpl)["IndexName"] == name {
			return g.(tmpl)
		}
	}
	panic(table + " has no index " + name)
}

// statements lists every statement of a role's inline policies.
func statements(t tmpl, role string) []tmpl {
	var out []tmpl
	for _, p := range properties(t, role)["Policies"].([]any) {
		for _, s := range p.(tmpl)["PolicyDocument"].(tmpl)["Statement"].([]any) {
			out = append(out, s.(tmpl))
		}
	}
	return out
}

func statementBySid(t tmpl, role, sid string) tmpl {
	for _, s := range statements(t, role) {
		if s["Sid"] == sid {
			return s
		}
	}
	panic(role + " has no statement " + sid)
}

func addAction(s tmpl, action string) {
	switch a := s["Action"].(type) {
	case string:
		s["Action"] = []any{a, action}
	case []any:
		s["Action"] = append(a, action)
	}
}

// samOperation is an operation of SAM's OpenAPI body ("get", "/api/v1/sessions").
func samOperation(t tmpl, method, path string) tmpl {
	paths := properties(t, "HttpApi")["Body"].(tmpl)["paths"].(tmpl)
	op, ok := paths[path].(tmpl)[method].(tmpl)
	if !ok {
		panic("no operation " + method + " " + path)
	}
	return op
}

// cdkRoute is the logical id of the CDK HTTP route with that key.
func cdkRoute(t tmpl, key string) string {
	for id, r := range t["Resources"].(tmpl) {
		if r.(tmpl)["Type"] == "AWS::ApiGatewayV2::Route" && r.(tmpl)["Properties"].(tmpl)["RouteKey"] == key {
			return id
		}
	}
	panic("no route " + key)
}

// cdkIntegrationOf is the logical id of the CDK HTTP integration of a function.
func cdkIntegrationOf(t tmpl, fn string) string {
	for id, r := range t["Resources"].(tmpl) {
		if r.(tmpl)["Type"] == "AWS::ApiGatewayV2::Integration" && fmt.Sprint(r.(tmpl)["Properties"].(tmpl)["IntegrationUri"]) == fmt.Sprint(getAtt(fn, "Arn")) {
			return id
		}
	}
	panic("no integration of " + fn)
}

// deletePermissions deletes the Lambda permissions of fn whose SourceArn (as JSON text) contains s.
func deletePermissions(t tmpl, fn, s string) {
	res := t["Resources"].(tmpl)
	for id, r := range res {
		p := r.(tmpl)["Properties"].(tmpl)
		if r.(tmpl)["Type"] == "AWS::Lambda::Permission" && strings.Contains(fmt.Sprint(p["FunctionName"]), fn) &&
			strings.Contains(fmt.Sprint(p["SourceArn"]), s) {
			delete(res, id)
		}
	}
}

func removeManagedPolicy(t tmpl, role, name string) {
	p := properties(t, role)
	p["ManagedPolicyArns"] = slices.DeleteFunc(p["ManagedPolicyArns"].([]any), func(a any) bool {
		return strings.Contains(fmt.Sprint(a), name)
	})
}

type mutation struct {
	name   string
	mutate func(tmpl)
	want   string // a substring of one reported difference
}

// samMutations change the transformed SAM template alone.
var samMutations = []mutation{
	{"route dropped", func(t tmpl) {
		delete(properties(t, "HttpApi")["Body"].(tmpl)["paths"].(tmpl)["/api/v1/sessions/{id}"].(tmpl), "patch")
	}, `Routes["PATCH /api/v1/sessions/{id}"].Function: only in CDK`},
	{"route on another function", func(t tmpl) {
		samOperation(t, "post", "/api/v1/invitations/{token}/accept")["x-amazon-apigateway-integration"].(tmpl)["uri"] =
			sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${SessionsFunction.Arn}/invocations")
	}, `Routes["POST /api/v1/invitations/{token}/accept"].Function: SAM SessionsFunction, CDK SharingFunction`},
	{"route put behind an authorizer", func(t tmpl) {
		samOperation(t, "get", "/api/v1/sessions")["security"] = []any{tmpl{"LambdaAuthorizer": []any{}}}
	}, `Routes["GET /api/v1/sessions"].Authorization: SAM LambdaAuthorizer, CDK NONE`},
	{"CORS origin", func(t tmpl) {
		properties(t, "HttpApi")["Body"].(tmpl)["x-amazon-apigateway-cors"].(tmpl)["allowOrigins"] = []any{"https://app.example.com"}
	}, `CorsConfiguration.AllowOrigins: SAM ["https://app.example.com"], CDK ["*"]`},
	{"route permission dropped", func(t tmpl) { delete(t["Resources"].(tmpl), "MetaFunctionGetHealthPermission") },
		`LambdaPermissions["MetaFunction may be invoked (lambda:InvokeFunction) by apigateway.amazonaws.com from arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/*/api/v1/health"]: only in CDK`},
	{"GSI projection", func(t tmpl) { gsi(t, "MainTable", "GSI2")["Projection"] = tmpl{"ProjectionType": "KEYS_ONLY"} },
		"MainTable.Properties.GlobalSecondaryIndexes[IndexName=GSI2].Projection.ProjectionType: SAM KEYS_ONLY, CDK ALL"},
	{"GSI dropped", func(t tmpl) {
		p := properties(t, "MainTable")
		p["GlobalSecondaryIndexes"] = slices.DeleteFunc(p["GlobalSecondaryIndexes"].([]any), func(g any) bool { return g.(tmpl)["IndexName"] == "GSI4" })
	}, "MainTable.Properties.GlobalSecondaryIndexes[IndexName=GSI4].IndexName: only in CDK"},
	{"stream view type", func(t tmpl) { properties(t, "MainTable")["StreamSpecification"] = tmpl{"StreamViewType": "NEW_IMAGE"} },
		"MainTable.Properties.StreamSpecification.StreamViewType: SAM NEW_IMAGE, CDK NEW_AND_OLD_IMAGES"},
	{"TTL attribute", func(t tmpl) { properties(t, "AuditTable")["TimeToLiveSpecification"].(tmpl)["AttributeName"] = "ttl" },
		"AuditTable.Properties.TimeToLiveSpecification.AttributeName: SAM ttl, CDK expiresAt"},
	{"no point-in-time recovery", func(t tmpl) { delete(properties(t, "ConnectionsTable"), "PointInTimeRecoverySpecification") },
		"ConnectionsTable.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled: only in CDK"},
	{"no encryption", func(t tmpl) { properties(t, "MainTable")["SSESpecification"] = tmpl{"SSEEnabled": false} },
		"MainTable.Properties.SSESpecification.SSEEnabled: SAM false, CDK true"},
	{"table kept on delete", func(t tmpl) { resource(t, "ConnectionsTable")["DeletionPolicy"] = "Retain" },
		"ConnectionsTable.DeletionPolicy: SAM Retain, CDK Delete"},
	{"batch size", func(t tmpl) { properties(t, "NotifierFunctionMainTableStream")["BatchSize"] = 10 },
		"NotifierFunctionMainTableStream.Properties.BatchSize: SAM 10, CDK 100"},
	{"no bisection", func(t tmpl) { properties(t, "ProcessorFunctionMainTableStream")["BisectBatchOnFunctionError"] = false },
		"ProcessorFunctionMainTableStream.Properties.BisectBatchOnFunctionError: SAM false, CDK true"},
	{"no partial batch failures", func(t tmpl) { delete(properties(t, "NotifierFunctionMainTableStream"), "FunctionResponseTypes") },
		"NotifierFunctionMainTableStream.Properties.FunctionResponseTypes: only in CDK"},
	{"failures to the other queue", func(t tmpl) {
		properties(t, "ProcessorFunctionMainTableStream")["DestinationConfig"] = tmpl{"OnFailure": tmpl{"Destination": getAtt("NotifierDeadLetterQueue", "Arn")}}
	}, "ProcessorFunctionMainTableStream.Properties.DestinationConfig.OnFailure.Destination: SAM ${NotifierDeadLetterQueue.Arn}, CDK ${ProcessorDeadLetterQueue.Arn}"},
	{"schedule", func(t tmpl) { properties(t, "SchedulerFunctionEveryMinute")["ScheduleExpression"] = "rate(5 minutes)" },
		"SchedulerFunctionEveryMinute.Properties.ScheduleExpression: SAM rate(5 minutes), CDK rate(1 minute)"},
	{"scheduler retried", func(t tmpl) { properties(t, "SchedulerFunctionEventInvokeConfig")["MaximumRetryAttempts"] = 2 },
		"SchedulerFunctionEventInvokeConfig.Properties.MaximumRetryAttempts: SAM 2, CDK 0"},
	{"IAM action added", func(t tmpl) {
		addAction(statementBySid(t, "ActivityFunctionRole", "ReadMainTableForAccessDecisions"), "dynamodb:Scan")
	}, `ActivityFunctionRole.Properties.Grants["Allow dynamodb:Scan on ${MainTable.Arn}"]: only in SAM`},
	{"IAM resource widened", func(t tmpl) {
		statementBySid(t, "ActivityFunctionRole", "RecordingObjects")["Resource"] = sub("${RecordingsBucket.Arn}/*")
	}, `ActivityFunctionRole.Properties.Grants["Allow s3:GetObject on ${RecordingsBucket.Arn}/*"]: only in SAM`},
	{"managed policy dropped", func(t tmpl) { removeManagedPolicy(t, "NotifierFunctionRole", "AWSLambdaBasicExecutionRole") },
		`NotifierFunctionRole.Properties.ManagedPolicyArns["aws managed service-role/AWSLambdaBasicExecutionRole"]: only in CDK`},
	{"stream read widened", func(t tmpl) {
		statementBySid(t, "ProcessorFunctionRole", "ReadMainTableStream")["Resource"] = "*"
	}, `ProcessorFunctionRole.Properties.Grants["Allow dynamodb:GetRecords on *"]: only in SAM`},
	{"environment variable dropped", func(t tmpl) {
		delete(properties(t, "SessionsFunction")["Environment"].(tmpl)["Variables"].(tmpl), "USER_MAX_SESSIONS")
	}, "SessionsFunction.Properties.Environment.Variables.USER_MAX_SESSIONS: only in CDK"},
	{"environment variable on another table", func(t tmpl) {
		properties(t, "WebsocketFunction")["Environment"].(tmpl)["Variables"].(tmpl)["TABLE_NAME"] = tmpl{"Ref": "AuditTable"}
	}, "WebsocketFunction.Properties.Environment.Variables.TABLE_NAME: SAM ${AuditTable}, CDK ${MainTable}"},
	{"timeout", func(t tmpl) { properties(t, "ProcessorFunction")["Timeout"] = 30 },
		"ProcessorFunction.Properties.Timeout: SAM 30, CDK 120"},
	{"WebSocket $connect without authorizer", func(t tmpl) {
		p := properties(t, "WebSocketConnectRoute")
		p["AuthorizationType"] = "NONE"
		delete(p, "AuthorizerId")
	}, "WebSocketConnectRoute.Properties.AuthorizationType: SAM NONE, CDK CUSTOM"},
	{"alarm dropped", func(t tmpl) { delete(t["Resources"].(tmpl), "ProcessorDeadLetterQueueAlarm") },
		"Resources.ProcessorDeadLetterQueueAlarm.Type: only in CDK"},
	{"parameter default", func(t tmpl) { t["Parameters"].(tmpl)["UserMaxSessions"].(tmpl)["Default"] = 10 },
		"Parameters.UserMaxSessions.Default: SAM 10, CDK 5"},
	{"output dropped", func(t tmpl) { delete(t["Outputs"].(tmpl), "WebSocketUrl") },
		"Outputs.WebSocketUrl.Value: only in CDK"},
	{"stream filter added", func(t tmpl) {
		properties(t, "ProcessorFunctionMainTableStream")["FilterCriteria"] = tmpl{"Filters": []any{tmpl{"Pattern": `{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"SESSION#"}]}}}}`}}}
	}, "ProcessorFunctionMainTableStream.Properties.FilterCriteria.Filters[0].Pattern: only in SAM"},
	{"IAM condition dropped", func(t tmpl) { delete(statementBySid(t, "ProcessorFunctionRole", "RunSessionTasks"), "Condition") },
		`ProcessorFunctionRole.Properties.Grants["Allow ecs:RunTask on arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-*:*"]: only in SAM`},
	{"session task role gains a grant", func(t tmpl) {
		properties(t, "SessionTaskRole")["Policies"] = append(properties(t, "SessionTaskRole")["Policies"].([]any), tmpl{"PolicyName": "Mutation",
			"PolicyDocument": tmpl{"Statement": []any{tmpl{"Effect": "Allow", "Action": "s3:GetObject", "Resource": sub("${RecordingsBucket.Arn}/*")}}}})
	}, `SessionTaskRole.Properties.Grants["Allow s3:GetObject on ${RecordingsBucket.Arn}/*"]: only in SAM`},
	{"ticket header not forwarded", func(t tmpl) {
		hc := properties(t, "GatewayOriginRequestPolicy")["OriginRequestPolicyConfig"].(tmpl)["HeadersConfig"].(tmpl)
		hc["Headers"] = slices.DeleteFunc(hc["Headers"].([]any), func(h any) bool { return h == "Sec-WebSocket-Protocol" })
	}, "GatewayOriginRequestPolicy.Properties.OriginRequestPolicyConfig.HeadersConfig.Headers"},
	{"gateway scans MainTable", func(t tmpl) {
		addAction(statementBySid(t, "GatewayTaskRole", "SessionsAndConnections"), "dynamodb:Scan")
	},
		`GatewayTaskRole.Properties.Grants["Allow dynamodb:Scan on ${MainTable.Arn}"]: only in SAM`},
	{"sessions function told another gateway", func(t tmpl) {
		properties(t, "SessionsFunction")["Environment"].(tmpl)["Variables"].(tmpl)["GATEWAY_URL"] = "https://example.com/gateway"
	}, "SessionsFunction.Properties.Environment.Variables.GATEWAY_URL: SAM https://example.com/gateway"},
	{"environment files kept longer", func(t tmpl) {
		properties(t, "SessionEnvBucket")["LifecycleConfiguration"].(tmpl)["Rules"].([]any)[0].(tmpl)["ExpirationInDays"] = 7
	}, "SessionEnvBucket.Properties.LifecycleConfiguration.Rules[Id=ExpireSessionEnvironmentFiles].ExpirationInDays: SAM 7, CDK 1"},
}

// cdkMutations change the synthesized CDK template alone.
var cdkMutations = []mutation{
	{"route dropped", func(t tmpl) { delete(t["Resources"].(tmpl), cdkRoute(t, "PATCH /api/v1/sessions/{id}")) },
		`Routes["PATCH /api/v1/sessions/{id}"].Function: only in SAM`},
	{"route on another function", func(t tmpl) {
		properties(t, cdkRoute(t, "POST /api/v1/invitations/{token}/accept"))["Target"] =
			tmpl{"Fn::Join": []any{"", []any{"integrations/", tmpl{"Ref": cdkIntegrationOf(t, "SessionsFunction")}}}}
	}, `Routes["POST /api/v1/invitations/{token}/accept"].Function: SAM SharingFunction, CDK SessionsFunction`},
	{"route put behind IAM", func(t tmpl) {
		properties(t, cdkRoute(t, "GET /api/v1/sessions"))["AuthorizationType"] = "AWS_IAM"
	}, `Routes["GET /api/v1/sessions"].Authorization: SAM NONE, CDK AWS_IAM`},
	{"payload format 1.0", func(t tmpl) { properties(t, cdkIntegrationOf(t, "TeamsFunction"))["PayloadFormatVersion"] = "1.0" },
		`Routes["GET /api/v1/teams/{teamId}"].Integration: SAM AWS_PROXY 2.0, CDK AWS_PROXY 1.0`},
	{"function built from another folder", func(t tmpl) {
		resource(t, "SessionsFunction")["Metadata"].(tmpl)[SourceMetadataKey] = "functions/teams"
	}, "SessionsFunction.Properties.Code: SAM built from functions/sessions, CDK built from functions/teams"},
	{"runtime", func(t tmpl) { properties(t, "MetaFunction")["Runtime"] = "provided.al2" },
		"MetaFunction.Properties.Runtime: SAM provided.al2023, CDK provided.al2"},
	{"architecture", func(t tmpl) { properties(t, "UsersFunction")["Architectures"] = []any{"x86_64"} },
		`UsersFunction.Properties.Architectures: SAM ["arm64"], CDK ["x86_64"]`},
	{"handler", func(t tmpl) { properties(t, "TeamsFunction")["Handler"] = "main" },
		"TeamsFunction.Properties.Handler: SAM bootstrap, CDK main"},
	{"memory", func(t tmpl) { properties(t, "NotifierFunction")["MemorySize"] = 1024 },
		"NotifierFunction.Properties.MemorySize: SAM 512, CDK 1024"},
	{"environment variable added", func(t tmpl) {
		properties(t, "MetaFunction")["Environment"].(tmpl)["Variables"].(tmpl)["DEBUG"] = "1"
	}, "MetaFunction.Properties.Environment.Variables.DEBUG: only in CDK"},
	{"GSI projection", func(t tmpl) {
		gsi(t, "ConnectionsTable", "GSI1")["Projection"] = tmpl{"ProjectionType": "INCLUDE", "NonKeyAttributes": []any{"userId"}}
	}, "ConnectionsTable.Properties.GlobalSecondaryIndexes[IndexName=GSI1].Projection.ProjectionType: SAM ALL, CDK INCLUDE"},
	{"sort key typed N", func(t tmpl) {
		for _, a := range properties(t, "AuditTable")["AttributeDefinitions"].([]any) {
			if a.(tmpl)["AttributeName"] == "SK" {
				a.(tmpl)["AttributeType"] = "N"
			}
		}
	}, "AuditTable.Properties.AttributeDefinitions[AttributeName=SK].AttributeType: SAM S, CDK N"},
	{"no point-in-time recovery", func(t tmpl) { delete(properties(t, "MainTable"), "PointInTimeRecoverySpecification") },
		"MainTable.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled: only in SAM"},
	{"stream off", func(t tmpl) { delete(properties(t, "MainTable"), "StreamSpecification") },
		"MainTable.Properties.StreamSpecification.StreamViewType: only in SAM"},
	{"TTL attribute", func(t tmpl) { properties(t, "MainTable")["TimeToLiveSpecification"].(tmpl)["AttributeName"] = "ttl" },
		"MainTable.Properties.TimeToLiveSpecification.AttributeName: SAM expiresAt, CDK ttl"},
	{"batch size", func(t tmpl) { properties(t, "ProcessorFunctionMainTableStream")["BatchSize"] = 1000 },
		"ProcessorFunctionMainTableStream.Properties.BatchSize: SAM 25, CDK 1000"},
	{"retries", func(t tmpl) { properties(t, "NotifierFunctionMainTableStream")["MaximumRetryAttempts"] = -1 },
		"NotifierFunctionMainTableStream.Properties.MaximumRetryAttempts: SAM 5, CDK -1"},
	{"maximum record age", func(t tmpl) { properties(t, "NotifierFunctionMainTableStream")["MaximumRecordAgeInSeconds"] = 604800 },
		"NotifierFunctionMainTableStream.Properties.MaximumRecordAgeInSeconds: SAM 3600, CDK 604800"},
	{"filter criteria added", func(t tmpl) {
		properties(t, "ProcessorFunctionMainTableStream")["FilterCriteria"] = tmpl{"Filters": []any{tmpl{"Pattern": `{"eventName":["INSERT"]}`}}}
	}, "ProcessorFunctionMainTableStream.Properties.FilterCriteria.Filters[0].Pattern: only in CDK"},
	{"no on-failure destination", func(t tmpl) { delete(properties(t, "NotifierFunctionMainTableStream"), "DestinationConfig") },
		"NotifierFunctionMainTableStream.Properties.DestinationConfig.OnFailure.Destination: only in SAM"},
	{"schedule", func(t tmpl) { properties(t, "SchedulerFunctionEveryMinute")["State"] = "DISABLED" },
		"SchedulerFunctionEveryMinute.Properties.State: SAM ENABLED, CDK DISABLED"},
	{"IAM action added", func(t tmpl) {
		addAction(statementBySid(t, "AuthorizerFunctionRole", "RecordUsersOnFirstSight"), "dynamodb:DeleteItem")
	}, `AuthorizerFunctionRole.Properties.Grants["Allow dynamodb:DeleteItem on ${MainTable.Arn} if {\"ForAllValues:StringLike\":{\"dynamodb:LeadingKeys\":[\"USER#*\"]}}"]: only in CDK`},
	{"IAM action dropped", func(t tmpl) {
		s := statementBySid(t, "NotifierFunctionRole", "ManageWebSocketConnections")
		s["Resource"] = s["Resource"].([]any)[:2]
	}, `NotifierFunctionRole.Properties.Grants["Allow execute-api:ManageConnections on arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${StageName}/DELETE/@connections/*"]: only in SAM`},
	{"policy resource added the CDK way", func(t tmpl) {
		t["Resources"].(tmpl)["SchedulerFunctionRoleDefaultPolicy"] = tmpl{"Type": "AWS::IAM::Policy", "Properties": tmpl{
			"PolicyName": "SchedulerFunctionRoleDefaultPolicy",
			"Roles":      []any{tmpl{"Ref": "SchedulerFunctionRole"}},
			"PolicyDocument": tmpl{"Statement": []any{tmpl{
				"Effect": "Allow", "Action": []any{"sqs:SendMessage"}, "Resource": getAtt("NotifierDeadLetterQueue", "Arn"),
			}}},
		}}
	}, `SchedulerFunctionRole.Properties.Grants["Allow sqs:SendMessage on ${NotifierDeadLetterQueue.Arn}"]: only in CDK`},
	{"managed policy added", func(t tmpl) {
		p := properties(t, "MetaFunctionRole")
		p["ManagedPolicyArns"] = append(p["ManagedPolicyArns"].([]any), "arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess")
	}, `MetaFunctionRole.Properties.ManagedPolicyArns["aws managed AmazonDynamoDBReadOnlyAccess"]: only in CDK`},
	{"resource added", func(t tmpl) {
		t["Resources"].(tmpl)["ExtraQueue"] = tmpl{"Type": "AWS::SQS::Queue", "Properties": tmpl{"SqsManagedSseEnabled": true}}
	}, "Resources.ExtraQueue.Type: only in CDK"},
	{"WebSocket stage throttling", func(t tmpl) {
		properties(t, "WebSocketStage")["DefaultRouteSettings"].(tmpl)["ThrottlingRateLimit"] = 10
	}, "WebSocketStage.Properties.DefaultRouteSettings.ThrottlingRateLimit: SAM 1000, CDK 10"},
	{"condition dropped", func(t tmpl) { delete(resource(t, "AlarmEmailSubscription"), "Condition") },
		"Resources.AlarmEmailSubscription.Condition: only in SAM"},
	{"parallelization", func(t tmpl) { properties(t, "ProcessorFunctionMainTableStream")["ParallelizationFactor"] = 1 },
		"ProcessorFunctionMainTableStream.Properties.ParallelizationFactor: SAM 2, CDK 1"},
	{"VNC open to another group", func(t tmpl) {
		properties(t, "SessionSecurityGroup")["SecurityGroupIngress"].([]any)[0].(tmpl)["SourceSecurityGroupId"] = tmpl{"Ref": "GatewayLoadBalancerSecurityGroup"}
	}, "SessionSecurityGroup.Properties.SecurityGroupIngress[0].SourceSecurityGroupId: SAM ${GatewaySecurityGroup}, CDK ${GatewayLoadBalancerSecurityGroup}"},
	{"one gateway task", func(t tmpl) { properties(t, "GatewayService")["DesiredCount"] = 1 },
		"GatewayService.Properties.DesiredCount: SAM 2, CDK 1"},
	{"load balancer on the internet", func(t tmpl) { properties(t, "GatewayLoadBalancer")["Scheme"] = "internet-facing" },
		"GatewayLoadBalancer.Properties.Scheme: SAM internal, CDK internet-facing"},
	{"WebSocket cached", func(t tmpl) {
		dc := properties(t, "Distribution")["DistributionConfig"].(tmpl)
		dc["CacheBehaviors"].([]any)[0].(tmpl)["CachePolicyId"] = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	}, "Distribution.Properties.DistributionConfig.CacheBehaviors[0].CachePolicyId: SAM 4135ea2d-6df8-44a3-9df3-4b5a84be39ad, CDK 658327ea-f89d-4fab-a63d-7e88639e58f6"},
	{"session task role reads environment files", func(t tmpl) {
		properties(t, "SessionTaskRole")["Policies"] = append(properties(t, "SessionTaskRole")["Policies"].([]any), tmpl{"PolicyName": "Mutation",
			"PolicyDocument": tmpl{"Statement": []any{tmpl{"Effect": "Allow", "Action": "s3:GetObject", "Resource": sub("${SessionEnvBucket.Arn}/session-env/*")}}}})
	}, `SessionTaskRole.Properties.Grants["Allow s3:GetObject on ${SessionEnvBucket.Arn}/session-env/*"]: only in CDK`},
	{"homes mountable as root", func(t tmpl) {
		fsp := properties(t, "SessionFileSystem")["FileSystemPolicy"].(tmpl)
		fsp["Statement"] = fsp["Statement"].([]any)[:2]
	}, "SessionFileSystem.Properties.FileSystemPolicy.Statement[Sid=DenyRootAccess].Action: only in SAM"},
	{"execution role trusted from any account", func(t tmpl) {
		for _, st := range properties(t, "SessionExecutionRole")["AssumeRolePolicyDocument"].(tmpl)["Statement"].([]any) {
			delete(st.(tmpl), "Condition")
		}
	}, `SessionExecutionRole.Properties.AssumeRolePolicyDocument["Allow sts:AssumeRole on (none) by Principal Service:ecs-tasks.amazonaws.com"]: only in CDK`},
	{"task events not retried", func(t tmpl) { properties(t, "TaskEventsFunctionEventInvokeConfig")["MaximumRetryAttempts"] = 0 },
		"TaskEventsFunctionEventInvokeConfig.Properties.MaximumRetryAttempts: SAM 2, CDK 0"},
	{"homes deleted with the stack", func(t tmpl) { resource(t, "SessionFileSystem")["DeletionPolicy"] = "Delete" },
		"SessionFileSystem.DeletionPolicy: SAM Retain, CDK Delete"},
}

// TestParityDetectsDrift proves the comparison can fail: each mutation changes one side alone
// and must be reported (from an unchanged pair that compares equal, so the report comes from
// the mutation).
func TestParityDetectsDrift(t *testing.T) {
	t.Parallel()
	if diffs := compare(t, samTemplate(t), cdkTemplate(t)); len(diffs) > 0 {
		t.Fatalf("the templates differ before any mutation (TestParity lists how); the mutation cases would prove nothing:\n%s", strings.Join(diffs, "\n"))
	}
	run := func(side string, cases []mutation) {
		for _, c := range cases {
			t.Run(side+"/"+c.name, func(t *testing.T) {
				sam, cdk := samTemplate(t), cdkTemplate(t)
				if side == "SAM" {
					c.mutate(sam)
				} else {
					c.mutate(cdk)
				}
				diffs := compare(t, sam, cdk)
				if !slices.ContainsFunc(diffs, func(d string) bool { return strings.Contains(d, c.want) }) {
					t.Errorf("want a difference containing %q, got %d:\n%s", c.want, len(diffs), strings.Join(diffs, "\n"))
				}
			})
		}
	}
	run("SAM", samMutations)
	run("CDK", cdkMutations)
}

// TestParityDetectsTemplateEdits: edits of template.yaml itself, through the real transform,
// are reported too.
func TestParityDetectsTemplateEdits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit *regexp.Regexp // the first match is removed or replaced
		with string
		want string
	}{
		{"route event removed", regexp.MustCompile(`\n        GetSharedSessions:\n          Type: HttpApi\n          Properties: \{[^}]*\}`), "",
			`Routes["GET /api/v1/shared-sessions"].Function: only in CDK`},
		{"batch size changed", regexp.MustCompile(`BatchSize: 100`), "BatchSize: 25",
			"NotifierFunctionMainTableStream.Properties.BatchSize: SAM 25, CDK 100"},
		{"function policy widened", regexp.MustCompile(`Resource: !Sub \$\{RecordingsBucket.Arn\}/recordings/\*`), "Resource: !Sub ${RecordingsBucket.Arn}/*",
			`ActivityFunctionRole.Properties.Grants["Allow s3:DeleteObject on ${RecordingsBucket.Arn}/*"]: only in SAM`},
	}
	source, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			loc := c.edit.FindIndex(source)
			if loc == nil {
				t.Fatalf("template.yaml no longer matches %q: update the case", c.edit)
			}
			edited := slices.Concat(source[:loc[0]], []byte(c.with), source[loc[1]:])
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, edited, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := transform(path)
			if err != nil {
				t.Fatal(err)
			}
			var sam tmpl
			if err := json.Unmarshal(out, &sam); err != nil {
				t.Fatal(err)
			}
			diffs := compare(t, sam, cdkTemplate(t))
			if !slices.ContainsFunc(diffs, func(d string) bool { return strings.Contains(d, c.want) }) {
				t.Errorf("want a difference containing %q, got %d:\n%s", c.want, len(diffs), strings.Join(diffs, "\n"))
			}
		})
	}
}

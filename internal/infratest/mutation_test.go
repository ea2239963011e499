package infratest

import (
	"slices"
	"testing"

	"streamspace/internal/ddb"
	"streamspace/internal/routes"
)

// TestChecksDetectDrift proves each comparison can fail: it breaks one thing in a copy of the
// transformed template and expects the matching check to report it (and the unbroken template
// to pass, so the report comes from the mutation).
func TestChecksDetectDrift(t *testing.T) {
	t.Parallel()
	tablesCheck := func(tmpl cfn) []string {
		var out []string
		for _, d := range ddb.AllTables {
			out = append(out, tableDiffs(tmpl, d)...)
		}
		return out
	}
	routesCheck := func(tmpl cfn) []string { return routeDiffs(tmpl, routes.All) }
	paths := func(tmpl cfn) cfn { return asMap(get(props(tmpl, httpAPIID), "Body", "paths")) }
	mainProps := func(tmpl cfn) cfn { return props(tmpl, ddb.MainLogicalID) }
	roleStatements := func(tmpl cfn, role string) []any {
		pols := asList(props(tmpl, role)["Policies"])
		return asList(get(pols[0], "PolicyDocument", "Statement"))
	}
	// addGrant gives a role one more inline policy allowing action on a table.
	addGrant := func(tmpl cfn, role, action, table string) {
		p := props(tmpl, role)
		p["Policies"] = append(asList(p["Policies"]), cfn{
			"PolicyName": "Mutation",
			"PolicyDocument": cfn{"Statement": []any{cfn{
				"Effect": "Allow", "Action": action, "Resource": cfn{"Fn::GetAtt": []any{table, "Arn"}},
			}}},
		})
	}
	// dropTableGrants removes a role's inline policies that reach a table.
	dropTableGrants := func(tmpl cfn, role, table string) {
		p := props(tmpl, role)
		var keep []any
		for _, pol := range asList(p["Policies"]) {
			if !slices.Contains(referencedResources(get(pol, "PolicyDocument")), table) {
				keep = append(keep, pol)
			}
		}
		p["Policies"] = keep
	}
	grantsOf := func(fn string) func(cfn) []string {
		return func(tmpl cfn) []string {
			return diffSets("grants", wantGrants[fn], grants(tmpl, functionRole(tmpl, fn)))
		}
	}
	envOf := func(fn string) func(cfn) []string { return func(tmpl cfn) []string { return envDiffs(tmpl, fn) } }
	envVars := func(tmpl cfn, fn string) cfn { return asMap(get(props(tmpl, fn), "Environment", "Variables")) }
	actionsOf := func(fn string) func(cfn) []string {
		return func(tmpl cfn) []string { return dynamoActionDiffs(tmpl, fn) }
	}
	// streamMapping is the properties of a function's (first) event source mapping.
	streamMapping := func(tmpl cfn, fn string) cfn { return props(tmpl, mappingsOf(tmpl, fn)[0]) }
	bucketProps := func(tmpl cfn) cfn { return props(tmpl, recordingsBucket) }
	lifecycleRule := func(tmpl cfn) cfn {
		return asMap(asList(get(bucketProps(tmpl), "LifecycleConfiguration", "Rules"))[0])
	}
	recordingObjects := func(tmpl cfn) cfn { return statementBySid(tmpl, "ActivityFunctionRole", "RecordingObjects") }
	// schedulerRule is the properties of the scheduler's (first) schedule rule.
	schedulerRule := func(tmpl cfn) cfn { return props(tmpl, scheduleRulesOf(tmpl, schedulerFunction)[0]) }
	lambdaURI := func(fn string) cfn {
		return cfn{"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${" + fn + ".Arn}/invocations"}
	}

	cases := []driftCase{
		{
			name: "MainTable without GSI2",
			mutate: func(tmpl cfn) {
				p := mainProps(tmpl)
				var keep []any
				for _, g := range asList(p["GlobalSecondaryIndexes"]) {
					if str(get(g, "IndexName")) != ddb.GSI2 {
						keep = append(keep, g)
					}
				}
				p["GlobalSecondaryIndexes"] = keep
			},
			check: tablesCheck, want: `GlobalSecondaryIndexes: missing "GSI2`,
		},
		{
			name: "MainTable without GSI3 (a team's sessions)",
			mutate: func(tmpl cfn) {
				p := mainProps(tmpl)
				var keep []any
				for _, g := range asList(p["GlobalSecondaryIndexes"]) {
					if str(get(g, "IndexName")) != ddb.GSI3 {
						keep = append(keep, g)
					}
				}
				p["GlobalSecondaryIndexes"] = keep
			},
			check: tablesCheck, want: `GlobalSecondaryIndexes: missing "GSI3`,
		},
		{
			name: "MainTable GSI1 projecting KEYS_ONLY",
			mutate: func(tmpl cfn) {
				asMap(get(asList(mainProps(tmpl)["GlobalSecondaryIndexes"])[0], "Projection"))["ProjectionType"] = "KEYS_ONLY"
			},
			check: tablesCheck, want: "projection=KEYS_ONLY",
		},
		{
			name:   "MainTable stream NEW_IMAGE",
			mutate: func(tmpl cfn) { asMap(mainProps(tmpl)["StreamSpecification"])["StreamViewType"] = "NEW_IMAGE" },
			check:  tablesCheck, want: "StreamViewType",
		},
		{
			name: "ConnectionsTable with a stream",
			mutate: func(tmpl cfn) {
				props(tmpl, ddb.ConnLogicalID)["StreamSpecification"] = cfn{"StreamViewType": "NEW_AND_OLD_IMAGES"}
			},
			check: tablesCheck, want: "StreamViewType",
		},
		{
			name: "AuditTable with a stream",
			mutate: func(tmpl cfn) {
				props(tmpl, ddb.AuditLogicalID)["StreamSpecification"] = cfn{"StreamViewType": "NEW_AND_OLD_IMAGES"}
			},
			check: tablesCheck, want: "StreamViewType",
		},
		{
			name:   "AuditTable deleted with the stack",
			mutate: func(tmpl cfn) { asMap(resources(tmpl)[ddb.AuditLogicalID])["DeletionPolicy"] = "Delete" },
			check:  tableProtectionDiffs, want: "AuditTable: DeletionPolicy",
		},
		{
			name:   "AuditTable without point-in-time recovery",
			mutate: func(tmpl cfn) { delete(props(tmpl, ddb.AuditLogicalID), "PointInTimeRecoverySpecification") },
			check:  tableProtectionDiffs, want: "AuditTable: PointInTimeRecoverySpecification",
		},
		{
			name:   "TTL on another attribute",
			mutate: func(tmpl cfn) { asMap(mainProps(tmpl)["TimeToLiveSpecification"])["AttributeName"] = "ttl" },
			check:  tablesCheck, want: "TimeToLiveSpecification",
		},
		{
			name:   "sort key typed N",
			mutate: func(tmpl cfn) { asMap(asList(mainProps(tmpl)["AttributeDefinitions"])[1])["AttributeType"] = "N" },
			check:  tablesCheck, want: "AttributeDefinitions",
		},
		{
			name:   "route removed",
			mutate: func(tmpl cfn) { delete(asMap(paths(tmpl)["/api/v1/sessions/{id}"]), "patch") },
			check:  routesCheck, want: "PATCH /api/v1/sessions/{id} (function sessions) is in routes.All but not in the template",
		},
		{
			name:   "session transfer route removed",
			mutate: func(tmpl cfn) { delete(asMap(paths(tmpl)["/api/v1/sessions/{id}/transfer"]), "post") },
			check:  routesCheck, want: "POST /api/v1/sessions/{id}/transfer (function sessions) is in routes.All but not in the template",
		},
		{
			name: "team route with two path parameters removed",
			mutate: func(tmpl cfn) {
				delete(asMap(paths(tmpl)["/api/v1/teams/{teamId}/check-permission/{permission}"]), "get")
			},
			check: routesCheck, want: "GET /api/v1/teams/{teamId}/check-permission/{permission} (function teams) is in routes.All but not in the template",
		},
		{
			name: "sharing route on the sessions function",
			mutate: func(tmpl cfn) {
				integ := asMap(get(paths(tmpl), "/api/v1/invitations/{token}/accept", "post", "x-amazon-apigateway-integration"))
				integ["uri"] = cfn{"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${SessionsFunction.Arn}/invocations"}
			},
			check: routesCheck, want: "POST /api/v1/invitations/{token}/accept is served by SessionsFunction",
		},
		{
			name: "route added",
			mutate: func(tmpl cfn) {
				asMap(paths(tmpl)["/api/v1/sessions"])["put"] = get(paths(tmpl), "/api/v1/sessions", "post")
			},
			check: routesCheck, want: "PUT /api/v1/sessions (function SessionsFunction) is in the template but not in routes.All",
		},
		{
			name: "route on the wrong function",
			mutate: func(tmpl cfn) {
				integ := asMap(get(paths(tmpl), "/api/v1/users/me", "get", "x-amazon-apigateway-integration"))
				integ["uri"] = cfn{"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${SessionsFunction.Arn}/invocations"}
			},
			check: routesCheck, want: "GET /api/v1/users/me is served by SessionsFunction",
		},
		{
			name: "an authorizer put back in front of a route",
			mutate: func(tmpl cfn) {
				asMap(get(paths(tmpl), "/api/v1/sessions", "get"))["security"] = []any{cfn{"LambdaAuthorizer": []any{}}}
			},
			check: routesCheck, want: "GET /api/v1/sessions: the template puts [LambdaAuthorizer] in front of it",
		},
		{
			name: "an authorizer scheme on the HTTP API",
			mutate: func(tmpl cfn) {
				body := asMap(props(tmpl, httpAPIID)["Body"])
				body["components"] = cfn{"securitySchemes": cfn{"LambdaAuthorizer": cfn{"type": "apiKey"}}}
			},
			check: routesCheck, want: "the HTTP API must have none",
		},
		{
			name:   "WebSocket protocol typo",
			mutate: func(tmpl cfn) { props(tmpl, webSocketAPIID)["ProtocolType"] = "WEBSOCKETS" },
			check:  webSocketDiffs, want: "ProtocolType",
		},
		{
			name:   "WebSocket route key typo",
			mutate: func(tmpl cfn) { props(tmpl, "WebSocketDisconnectRoute")["RouteKey"] = "$disconnected" },
			check:  webSocketDiffs, want: `missing "$disconnect"`,
		},
		{
			name:   "IAM Action *",
			mutate: func(tmpl cfn) { asMap(roleStatements(tmpl, "UsersFunctionRole")[0])["Action"] = "*" },
			check:  iamFindings, want: `Action "*"`,
		},
		{
			name:   "IAM service wildcard",
			mutate: func(tmpl cfn) { asMap(roleStatements(tmpl, "UsersFunctionRole")[0])["Action"] = []any{"dynamodb:*"} },
			check:  iamFindings, want: `Action "dynamodb:*"`,
		},
		{
			name:   "IAM Resource *",
			mutate: func(tmpl cfn) { asMap(roleStatements(tmpl, "UsersFunctionRole")[0])["Resource"] = "*" },
			check:  iamFindings, want: `Resource "*"`,
		},
		{
			name: "IAM admin managed policy",
			mutate: func(tmpl cfn) {
				p := props(tmpl, "MetaFunctionRole")
				p["ManagedPolicyArns"] = append(asList(p["ManagedPolicyArns"]), "arn:aws:iam::aws:policy/AdministratorAccess")
			},
			check: iamFindings, want: "AdministratorAccess",
		},
		{
			name: "IAM stream policy on another role",
			mutate: func(tmpl cfn) {
				p := props(tmpl, "UsersFunctionRole")
				p["ManagedPolicyArns"] = append(asList(p["ManagedPolicyArns"]), "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")
			},
			check: iamFindings, want: "AWSLambdaDynamoDBExecutionRole is not allowed",
		},
		{
			name: "stream read widened to every table's streams",
			mutate: func(tmpl cfn) {
				statementBySid(tmpl, "NotifierFunctionRole", "ReadMainTableStream")["Resource"] =
					cfn{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*/stream/*"}
			},
			check: grantsOf(notifierFunction), want: `missing "dynamodb:stream MainTable/stream"`,
		},
		{
			name: "stream read on a function that is no consumer",
			mutate: func(tmpl cfn) {
				st := asMap(roleStatements(tmpl, "UsersFunctionRole")[0])
				st["Action"] = append(asList(st["Action"]), "dynamodb:GetRecords")
			},
			check: grantsOf("UsersFunction"), want: `unexpected "dynamodb:stream MainTable"`,
		},
		{
			name: "function granted a table it does not use",
			mutate: func(tmpl cfn) {
				st := asMap(roleStatements(tmpl, "UsersFunctionRole")[0])
				st["Resource"] = append(asList(st["Resource"]), cfn{"Fn::GetAtt": []any{ddb.ConnLogicalID, "Arn"}})
			},
			check: func(tmpl cfn) []string {
				return diffSets("grants", wantGrants["UsersFunction"], grants(tmpl, "UsersFunctionRole"))
			},
			want: `unexpected "dynamodb:PutItem ConnectionsTable"`,
		},
		{
			name:   "authorizer may delete from MainTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "AuthorizerFunctionRole", "dynamodb:DeleteItem", ddb.MainLogicalID) },
			check:  grantsOf(authorizerFunction), want: `unexpected "dynamodb:DeleteItem MainTable"`,
		},
		{
			name:   "authorizer may update MainTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "AuthorizerFunctionRole", "dynamodb:UpdateItem", ddb.MainLogicalID) },
			check:  grantsOf(authorizerFunction), want: `unexpected "dynamodb:UpdateItem MainTable"`,
		},
		{
			name:   "authorizer reads AuditTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "AuthorizerFunctionRole", "dynamodb:GetItem", ddb.AuditLogicalID) },
			check:  auditAccessDiffs, want: "AuthorizerFunction serves no authenticated route",
		},
		{
			name:   "public-only function writes AuditTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "MetaFunctionRole", "dynamodb:PutItem", ddb.AuditLogicalID) },
			check:  auditAccessDiffs, want: "MetaFunction serves no authenticated route",
		},
		{
			name:   "authenticated HTTP function without AuditTable",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "SessionsFunctionRole", ddb.AuditLogicalID) },
			check:  auditAccessDiffs, want: "SessionsFunction serves authenticated routes (API-key metering) but lacks dynamodb:UpdateItem AuditTable",
		},
		{
			name:   "sharing function without AuditTable",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "SharingFunctionRole", ddb.AuditLogicalID) },
			check:  auditAccessDiffs, want: "SharingFunction serves authenticated routes (API-key metering) but lacks dynamodb:PutItem AuditTable",
		},
		{
			name:   "teams without MainTable writes",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "TeamsFunctionRole", ddb.MainLogicalID) },
			check:  grantsOf("TeamsFunction"), want: `missing "dynamodb:UpdateItem MainTable"`,
		},
		{
			name:   "notifier may write MainTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "NotifierFunctionRole", "dynamodb:PutItem", ddb.MainLogicalID) },
			check:  grantsOf(notifierFunction), want: `unexpected "dynamodb:PutItem MainTable"`,
		},
		{
			name:   "websocket may write MainTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "WebsocketFunctionRole", "dynamodb:UpdateItem", ddb.MainLogicalID) },
			check:  grantsOf(websocketFunction), want: `unexpected "dynamodb:UpdateItem MainTable"`,
		},
		{
			name:   "apikeys without MainTable writes",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "ApikeysFunctionRole", ddb.MainLogicalID) },
			check:  grantsOf("ApikeysFunction"), want: `missing "dynamodb:PutItem MainTable"`,
		},
		{
			name:   "activity route removed",
			mutate: func(tmpl cfn) { delete(asMap(paths(tmpl)["/api/v1/sessions/{id}/activity/timeline"]), "get") },
			check:  routesCheck, want: "GET /api/v1/sessions/{id}/activity/timeline (function activity) is in routes.All but not in the template",
		},
		{
			name: "activity route on the sessions function",
			mutate: func(tmpl cfn) {
				asMap(get(paths(tmpl), "/api/v1/activity/stats", "get", "x-amazon-apigateway-integration"))["uri"] = lambdaURI("SessionsFunction")
			},
			check: routesCheck, want: "GET /api/v1/activity/stats is served by SessionsFunction",
		},
		{
			// Recording metadata is written item by item; batch writes are not part of it.
			name:   "activity may batch-write MainTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ActivityFunctionRole", "dynamodb:BatchWriteItem", ddb.MainLogicalID) },
			check:  grantsOf("ActivityFunction"), want: `unexpected "dynamodb:BatchWriteItem MainTable"`,
		},
		{
			name: "activity without MainTable writes (recording metadata)",
			mutate: func(tmpl cfn) {
				statementBySid(tmpl, "ActivityFunctionRole", "ManageRecordingMetadata")["Action"] = "dynamodb:Query"
			},
			check: actionsOf("ActivityFunction"), want: `missing "dynamodb:PutItem MainTable"`,
		},
		{
			name: "activity may Scan MainTable indexes",
			mutate: func(tmpl cfn) {
				statementBySid(tmpl, "ActivityFunctionRole", "MarkRateLimitedKeys")["Action"] = []any{"dynamodb:Query", "dynamodb:Scan"}
			},
			check: actionsOf("ActivityFunction"), want: `unexpected "dynamodb:Scan MainTable/index"`,
		},
		{
			// The grant summary folds reads together; the exact action list must notice.
			name:   "activity may Scan MainTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ActivityFunctionRole", "dynamodb:Scan", ddb.MainLogicalID) },
			check:  actionsOf("ActivityFunction"), want: `unexpected "dynamodb:Scan MainTable"`,
		},
		{
			name:   "activity without AuditTable",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "ActivityFunctionRole", ddb.AuditLogicalID) },
			check:  auditAccessDiffs, want: "ActivityFunction serves authenticated routes (API-key metering) but lacks dynamodb:PutItem AuditTable",
		},
		{
			name:   "notifier may write MainTable (feeds its own stream)",
			mutate: func(tmpl cfn) { addGrant(tmpl, "NotifierFunctionRole", "dynamodb:UpdateItem", ddb.MainLogicalID) },
			check:  streamConsumerDiffs, want: "NotifierFunction consumes MainTable's stream but may dynamodb:UpdateItem it",
		},
		{
			name:   "processor may put into ConnectionsTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ProcessorFunctionRole", "dynamodb:PutItem", ddb.ConnLogicalID) },
			check:  grantsOf(processorFunction), want: `unexpected "dynamodb:PutItem ConnectionsTable"`,
		},
		{
			name:   "processor reads ConnectionsTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ProcessorFunctionRole", "dynamodb:GetItem", ddb.ConnLogicalID) },
			check:  grantsOf(processorFunction), want: `unexpected "dynamodb:read ConnectionsTable"`,
		},
		{
			name:   "processor may delete activity records",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ProcessorFunctionRole", "dynamodb:DeleteItem", ddb.AuditLogicalID) },
			check:  grantsOf(processorFunction), want: `unexpected "dynamodb:DeleteItem AuditTable"`,
		},
		{
			name:   "processor may scan AuditTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ProcessorFunctionRole", "dynamodb:Scan", ddb.AuditLogicalID) },
			check:  actionsOf(processorFunction), want: `unexpected "dynamodb:Scan AuditTable"`,
		},
		{
			name:   "processor without AuditTable",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "ProcessorFunctionRole", ddb.AuditLogicalID) },
			check:  auditAccessDiffs, want: "ProcessorFunction writes activity records derived from the MainTable stream (its auditor step) but lacks dynamodb:PutItem AuditTable",
		},
		{
			name:   "processor may not park failed batches",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "ProcessorFunctionRole", processorDLQ) },
			check:  grantsOf(processorFunction), want: `missing "sqs:SendMessage ProcessorDeadLetterQueue"`,
		},
		{
			name:   "processor batch size differs",
			mutate: func(tmpl cfn) { streamMapping(tmpl, processorFunction)["BatchSize"] = float64(10) },
			check:  streamConsumerDiffs, want: "BatchSize = 10",
		},
		{
			name:   "notifier without bisection",
			mutate: func(tmpl cfn) { streamMapping(tmpl, notifierFunction)["BisectBatchOnFunctionError"] = false },
			check:  streamConsumerDiffs, want: "BisectBatchOnFunctionError",
		},
		{
			// A setting streamSettings does not name still has to match between the consumers.
			name:   "processor mapping with its own extra setting",
			mutate: func(tmpl cfn) { streamMapping(tmpl, processorFunction)["TumblingWindowInSeconds"] = float64(60) },
			check:  streamConsumerDiffs, want: "stream mapping settings differ",
		},
		{
			name: "processor parks failures in the notifier's queue",
			mutate: func(tmpl cfn) {
				asMap(get(streamMapping(tmpl, processorFunction), "DestinationConfig", "OnFailure"))["Destination"] =
					cfn{"Fn::GetAtt": []any{notifierDLQ, "Arn"}}
			},
			check: streamConsumerDiffs, want: "want ProcessorDeadLetterQueue (its own queue)",
		},
		{
			name:   "processor DLQ unencrypted",
			mutate: func(tmpl cfn) { delete(props(tmpl, processorDLQ), "SqsManagedSseEnabled") },
			check:  streamConsumerDiffs, want: "ProcessorDeadLetterQueue must be encrypted",
		},
		{
			name:   "processor without its stream mapping",
			mutate: func(tmpl cfn) { delete(resources(tmpl), mappingsOf(tmpl, processorFunction)[0]) },
			check:  streamConsumerDiffs, want: `MainTable stream consumers: missing "ProcessorFunction"`,
		},
		{
			name: "third MainTable stream consumer",
			mutate: func(tmpl cfn) {
				p := cfn{}
				for k, v := range streamMapping(tmpl, notifierFunction) {
					p[k] = v
				}
				p["FunctionName"] = cfn{"Ref": "SessionsFunction"}
				resources(tmpl)["SessionsFunctionMainTableStream"] = cfn{"Type": "AWS::Lambda::EventSourceMapping", "Properties": p}
			},
			check: streamConsumerDiffs, want: `MainTable stream consumers: unexpected "SessionsFunction"`,
		},
		{
			// Issue 14: whatever the consumer list says, a third reader of the stream fails.
			name: "third reader of the MainTable stream",
			mutate: func(tmpl cfn) {
				p := cfn{}
				for k, v := range streamMapping(tmpl, processorFunction) {
					p[k] = v
				}
				p["FunctionName"] = cfn{"Ref": "SchedulerFunction"}
				resources(tmpl)["SchedulerFunctionMainTableStream"] = cfn{"Type": "AWS::Lambda::EventSourceMapping", "Properties": p}
			},
			check: streamReaderDiffs, want: "3 event source mappings read MainTable's stream",
		},
		{
			name: "IAM stream policy on the activity role",
			mutate: func(tmpl cfn) {
				p := props(tmpl, "ActivityFunctionRole")
				p["ManagedPolicyArns"] = append(asList(p["ManagedPolicyArns"]), "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole")
			},
			check: iamFindings, want: "ActivityFunctionRole: AWS managed policy service-role/AWSLambdaDynamoDBExecutionRole is not allowed",
		},
		{
			name: "recordings bucket public access block off",
			mutate: func(tmpl cfn) {
				asMap(bucketProps(tmpl)["PublicAccessBlockConfiguration"])["RestrictPublicBuckets"] = false
			},
			check: recordingsBucketDiffs, want: "PublicAccessBlockConfiguration.RestrictPublicBuckets must be true",
		},
		{
			name:   "recordings bucket without public access block",
			mutate: func(tmpl cfn) { delete(bucketProps(tmpl), "PublicAccessBlockConfiguration") },
			check:  recordingsBucketDiffs, want: "PublicAccessBlockConfiguration.BlockPublicPolicy must be true",
		},
		{
			name:   "recordings bucket public-read ACL",
			mutate: func(tmpl cfn) { bucketProps(tmpl)["AccessControl"] = "PublicRead" },
			check:  recordingsBucketDiffs, want: "AccessControl",
		},
		{
			name: "recordings bucket with ACLs enabled",
			mutate: func(tmpl cfn) {
				asMap(asList(get(bucketProps(tmpl), "OwnershipControls", "Rules"))[0])["ObjectOwnership"] = "ObjectWriter"
			},
			check: recordingsBucketDiffs, want: "BucketOwnerEnforced",
		},
		{
			name:   "recordings bucket without encryption",
			mutate: func(tmpl cfn) { delete(bucketProps(tmpl), "BucketEncryption") },
			check:  recordingsBucketDiffs, want: "must set default encryption",
		},
		{
			name: "recordings bucket with a customer-managed KMS key",
			mutate: func(tmpl cfn) {
				def := asMap(get(asList(get(bucketProps(tmpl), "BucketEncryption", "ServerSideEncryptionConfiguration"))[0], "ServerSideEncryptionByDefault"))
				def["SSEAlgorithm"] = "aws:kms"
				def["KMSMasterKeyID"] = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
			},
			check: recordingsBucketDiffs, want: "KMSMasterKeyID",
		},
		{
			name:   "recordings bucket deleted with the stack",
			mutate: func(tmpl cfn) { asMap(resources(tmpl)[recordingsBucket])["DeletionPolicy"] = "Delete" },
			check:  recordingsBucketDiffs, want: "RecordingsBucket: DeletionPolicy",
		},
		{
			name:   "recordings bucket without lifecycle",
			mutate: func(tmpl cfn) { delete(bucketProps(tmpl), "LifecycleConfiguration") },
			check:  recordingsBucketDiffs, want: "no LifecycleConfiguration",
		},
		{
			name:   "recordings expire after a fixed number of days",
			mutate: func(tmpl cfn) { lifecycleRule(tmpl)["ExpirationInDays"] = float64(30) },
			check:  recordingsBucketDiffs, want: "ExpirationInDays {Ref: RecordingsMaxRetentionDays}",
		},
		{
			name:   "recordings lifecycle rule disabled",
			mutate: func(tmpl cfn) { lifecycleRule(tmpl)["Status"] = "Disabled" },
			check:  recordingsBucketDiffs, want: "ExpirationInDays {Ref: RecordingsMaxRetentionDays}",
		},
		{
			name:   "recordings lifecycle only under a prefix",
			mutate: func(tmpl cfn) { lifecycleRule(tmpl)["Prefix"] = "tmp/" },
			check:  recordingsBucketDiffs, want: "no enabled whole-bucket lifecycle rule",
		},
		{
			name:   "incomplete uploads kept",
			mutate: func(tmpl cfn) { delete(lifecycleRule(tmpl), "AbortIncompleteMultipartUpload") },
			check:  recordingsBucketDiffs, want: "AbortIncompleteMultipartUpload.DaysAfterInitiation 1",
		},
		{
			name:   "recordings bucket versioned without noncurrent expiration",
			mutate: func(tmpl cfn) { bucketProps(tmpl)["VersioningConfiguration"] = cfn{"Status": "Enabled"} },
			check:  recordingsBucketDiffs, want: "NoncurrentVersionExpiration",
		},
		{
			name: "recordings CORS allows DELETE",
			mutate: func(tmpl cfn) {
				rule := asMap(asList(get(bucketProps(tmpl), "CorsConfiguration", "CorsRules"))[0])
				rule["AllowedMethods"] = append(asList(rule["AllowedMethods"]), "DELETE")
			},
			check: recordingsBucketDiffs, want: `unexpected "DELETE"`,
		},
		{
			name: "recordings CORS open to any origin",
			mutate: func(tmpl cfn) {
				asMap(asList(get(bucketProps(tmpl), "CorsConfiguration", "CorsRules"))[0])["AllowedOrigins"] = []any{"*"}
			},
			check: recordingsBucketDiffs, want: "want {Ref: CorsAllowedOrigins}",
		},
		{
			name:   "recordings bucket without CORS",
			mutate: func(tmpl cfn) { delete(bucketProps(tmpl), "CorsConfiguration") },
			check:  recordingsBucketDiffs, want: `missing "PUT"`,
		},
		{
			name:   "recordings bucket policy removed (plain HTTP allowed)",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "RecordingsBucketPolicy") },
			check:  recordingsBucketDiffs, want: "aws:SecureTransport is false",
		},
		{
			name: "recordings bucket policy covers the bucket, not its objects",
			mutate: func(tmpl cfn) {
				st := statementsOf(get(props(tmpl, "RecordingsBucketPolicy"), "PolicyDocument"))[0]
				st["Resource"] = cfn{"Fn::GetAtt": []any{recordingsBucket, "Arn"}}
			},
			check: recordingsBucketDiffs, want: "aws:SecureTransport is false",
		},
		{
			name:   "activity allowed s3:*",
			mutate: func(tmpl cfn) { recordingObjects(tmpl)["Action"] = "s3:*" },
			check:  s3AccessDiffs, want: `ActivityFunction S3 access: unexpected "s3:* ${RecordingsBucket.Arn}/recordings/*"`,
		},
		{
			name:   "activity allowed s3:* (least privilege)",
			mutate: func(tmpl cfn) { recordingObjects(tmpl)["Action"] = []any{"s3:*"} },
			check:  iamFindings, want: `Action "s3:*"`,
		},
		{
			name:   "activity allowed s3:Get*",
			mutate: func(tmpl cfn) { recordingObjects(tmpl)["Action"] = []any{"s3:Get*", "s3:PutObject", "s3:DeleteObject"} },
			check:  s3AccessDiffs, want: `unexpected "s3:Get* ${RecordingsBucket.Arn}/recordings/*"`,
		},
		{
			name:   "activity allowed the whole bucket",
			mutate: func(tmpl cfn) { recordingObjects(tmpl)["Resource"] = cfn{"Fn::Sub": "${RecordingsBucket.Arn}/*"} },
			check:  s3AccessDiffs, want: `unexpected "s3:GetObject ${RecordingsBucket.Arn}/*"`,
		},
		{
			name:   "activity allowed the bucket itself",
			mutate: func(tmpl cfn) { addGrant(tmpl, "ActivityFunctionRole", "s3:ListBucket", recordingsBucket) },
			check:  s3AccessDiffs, want: `unexpected "s3:ListBucket ${RecordingsBucket.Arn}"`,
		},
		{
			name:   "activity may not delete recordings",
			mutate: func(tmpl cfn) { recordingObjects(tmpl)["Action"] = []any{"s3:GetObject", "s3:PutObject"} },
			check:  s3AccessDiffs, want: `missing "s3:DeleteObject ${RecordingsBucket.Arn}/recordings/*"`,
		},
		{
			name:   "sessions function reaches the recordings bucket",
			mutate: func(tmpl cfn) { addGrant(tmpl, "SessionsFunctionRole", "s3:GetObject", recordingsBucket) },
			check:  s3AccessDiffs, want: `SessionsFunction S3 access: unexpected "s3:GetObject ${RecordingsBucket.Arn}"`,
		},
		{
			name:   "RECORDINGS_BUCKET missing from the activity function",
			mutate: func(tmpl cfn) { delete(envVars(tmpl, "ActivityFunction"), "RECORDINGS_BUCKET") },
			check:  func(tmpl cfn) []string { return functionEnvDiffs(tmpl, "ActivityFunction") },
			want:   "environment lacks RECORDINGS_BUCKET",
		},
		{
			name:   "RecordingsMaxRetentionDays unbounded",
			mutate: func(tmpl cfn) { delete(asMap(get(tmpl, "Parameters", recordingsRetentionParam)), "MaxValue") },
			check:  parameterDiffs, want: "parameter RecordingsMaxRetentionDays: MaxValue",
		},
		{
			name:   "ACTIVITY_RETENTION_DAYS missing from the activity function",
			mutate: func(tmpl cfn) { delete(envVars(tmpl, "ActivityFunction"), "ACTIVITY_RETENTION_DAYS") },
			check:  envOf("ActivityFunction"), want: "environment lacks ACTIVITY_RETENTION_DAYS",
		},
		{
			name: "auditor's ACTIVITY_RETENTION_DAYS from the usage parameter",
			mutate: func(tmpl cfn) {
				envVars(tmpl, processorFunction)["ACTIVITY_RETENTION_DAYS"] = cfn{"Ref": "UsageRetentionDays"}
			},
			check: envOf(processorFunction), want: "ACTIVITY_RETENTION_DAYS",
		},
		{
			name:   "ActivityRetentionDays unbounded",
			mutate: func(tmpl cfn) { delete(asMap(get(tmpl, "Parameters", "ActivityRetentionDays")), "MaxValue") },
			check:  parameterDiffs, want: "parameter ActivityRetentionDays: MaxValue",
		},
		{
			name:   "AUDIT_TABLE_NAME missing",
			mutate: func(tmpl cfn) { delete(envVars(tmpl, "ApikeysFunction"), "AUDIT_TABLE_NAME") },
			check:  envOf("ApikeysFunction"), want: "environment lacks AUDIT_TABLE_NAME",
		},
		{
			name:   "AUDIT_TABLE_NAME names the main table",
			mutate: func(tmpl cfn) { envVars(tmpl, "UsersFunction")["AUDIT_TABLE_NAME"] = cfn{"Ref": ddb.MainLogicalID} },
			check:  envOf("UsersFunction"), want: "AUDIT_TABLE_NAME",
		},
		{
			name: "MainTable without GSI4 (the scheduler's due sessions)",
			mutate: func(tmpl cfn) {
				p := mainProps(tmpl)
				var keep []any
				for _, g := range asList(p["GlobalSecondaryIndexes"]) {
					if str(get(g, "IndexName")) != ddb.GSI4 {
						keep = append(keep, g)
					}
				}
				p["GlobalSecondaryIndexes"] = keep
			},
			check: tablesCheck, want: `GlobalSecondaryIndexes: missing "GSI4 GSI4PK:HASH GSI4SK:RANGE projection=ALL"`,
		},
		{
			name:   "scheduler every 5 minutes",
			mutate: func(tmpl cfn) { schedulerRule(tmpl)["ScheduleExpression"] = "rate(5 minutes)" },
			check:  scheduleDiffs, want: `ScheduleExpression = "rate(5 minutes)", want "rate(1 minute)"`,
		},
		{
			name:   "scheduler rule disabled",
			mutate: func(tmpl cfn) { schedulerRule(tmpl)["State"] = "DISABLED" },
			check:  scheduleDiffs, want: `State = "DISABLED", want ENABLED`,
		},
		{
			name: "scheduler on two schedules",
			mutate: func(tmpl cfn) {
				p := cfn{}
				for k, v := range schedulerRule(tmpl) {
					p[k] = v
				}
				p["ScheduleExpression"] = "rate(5 minutes)"
				resources(tmpl)["SchedulerFunctionSecondTick"] = cfn{"Type": "AWS::Events::Rule", "Properties": p}
			},
			check: scheduleDiffs, want: "SchedulerFunction has schedule rules [SchedulerFunctionEveryMinute SchedulerFunctionSecondTick], want exactly one",
		},
		{
			name:   "scheduler without its schedule",
			mutate: func(tmpl cfn) { delete(resources(tmpl), scheduleRulesOf(tmpl, schedulerFunction)[0]) },
			check:  scheduleDiffs, want: "SchedulerFunction has schedule rules [], want exactly one",
		},
		{
			name: "scheduler rule may not invoke the function",
			mutate: func(tmpl cfn) {
				rule := scheduleRulesOf(tmpl, schedulerFunction)[0]
				for _, id := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
					if slices.Contains(referencedResources(props(tmpl, id)["SourceArn"]), rule) {
						delete(resources(tmpl), id)
					}
				}
			},
			check: scheduleDiffs, want: "no AWS::Lambda::Permission lets events.amazonaws.com invoke SchedulerFunction",
		},
		{
			name: "sessions function on the scheduler's rule",
			mutate: func(tmpl cfn) {
				r := schedulerRule(tmpl)
				r["Targets"] = append(asList(r["Targets"]), cfn{"Arn": cfn{"Fn::GetAtt": []any{"SessionsFunction", "Arn"}}, "Id": "Sessions"})
			},
			check: scheduleDiffs, want: "invokes SessionsFunction, which is not in scheduledFunctions",
		},
		{
			name: "scheduler tick retried",
			mutate: func(tmpl cfn) {
				props(tmpl, "SchedulerFunctionEventInvokeConfig")["MaximumRetryAttempts"] = float64(2)
			},
			check: scheduleDiffs, want: "MaximumRetryAttempts = 2",
		},
		{
			name:   "scheduler may write AuditTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "SchedulerFunctionRole", "dynamodb:PutItem", ddb.AuditLogicalID) },
			check:  grantsOf(schedulerFunction), want: `unexpected "dynamodb:PutItem AuditTable"`,
		},
		{
			name:   "scheduler reads ConnectionsTable",
			mutate: func(tmpl cfn) { addGrant(tmpl, "SchedulerFunctionRole", "dynamodb:Query", ddb.ConnLogicalID) },
			check:  grantsOf(schedulerFunction), want: `unexpected "dynamodb:read ConnectionsTable"`,
		},
		{
			name:   "scheduler without MainTable writes",
			mutate: func(tmpl cfn) { dropTableGrants(tmpl, "SchedulerFunctionRole", ddb.MainLogicalID) },
			check:  grantsOf(schedulerFunction), want: `missing "dynamodb:UpdateItem MainTable"`,
		},
		{
			name:   "AUTO_HIBERNATE missing from the scheduler",
			mutate: func(tmpl cfn) { delete(envVars(tmpl, schedulerFunction), "AUTO_HIBERNATE") },
			check:  func(tmpl cfn) []string { return functionEnvDiffs(tmpl, schedulerFunction) },
			want:   "environment lacks AUTO_HIBERNATE",
		},
		{
			name:   "AutoHibernateIdleSessions accepts any string",
			mutate: func(tmpl cfn) { delete(asMap(get(tmpl, "Parameters", autoHibernateParam)), "AllowedValues") },
			check:  parameterDiffs, want: "parameter AutoHibernateIdleSessions: AllowedValues",
		},
		{
			name:   "Errors alarm of the sessions function removed",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "SessionsFunctionErrorsAlarm") },
			check:  alarmDiffs, want: "SessionsFunction has Errors alarms [], want exactly one",
		},
		{
			name:   "Throttles alarm of the scheduler removed",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "SchedulerFunctionThrottlesAlarm") },
			check:  alarmDiffs, want: "SchedulerFunction has Throttles alarms [], want exactly one",
		},
		{
			name:   "notifier IteratorAge alarm removed",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "NotifierFunctionIteratorAgeAlarm") },
			check:  alarmDiffs, want: "NotifierFunction has IteratorAge alarms [], want exactly one",
		},
		{
			name:   "processor DLQ alarm missing",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "ProcessorDeadLetterQueueAlarm") },
			check:  alarmDiffs, want: "ProcessorDeadLetterQueue has ApproximateNumberOfMessagesVisible alarms [], want exactly one",
		},
		{
			name: "DLQ alarm watching the other queue",
			mutate: func(tmpl cfn) {
				asMap(asList(props(tmpl, "NotifierDeadLetterQueueAlarm")["Dimensions"])[0])["Value"] =
					cfn{"Fn::GetAtt": []any{processorDLQ, "QueueName"}}
			},
			check: alarmDiffs, want: "NotifierDeadLetterQueue has ApproximateNumberOfMessagesVisible alarms [], want exactly one",
		},
		{
			name:   "alarm without actions",
			mutate: func(tmpl cfn) { delete(props(tmpl, "MetaFunctionErrorsAlarm"), "AlarmActions") },
			check:  alarmDiffs, want: "alarm MetaFunctionErrorsAlarm: AlarmActions",
		},
		{
			name:   "alarm treats missing data as breaching",
			mutate: func(tmpl cfn) { props(tmpl, "UsersFunctionThrottlesAlarm")["TreatMissingData"] = "breaching" },
			check:  alarmDiffs, want: "alarm UsersFunctionThrottlesAlarm: TreatMissingData",
		},
		{
			name:   "IteratorAge threshold 5 minutes",
			mutate: func(tmpl cfn) { props(tmpl, "ProcessorFunctionIteratorAgeAlarm")["Threshold"] = float64(300000) },
			check:  alarmDiffs, want: "alarm ProcessorFunctionIteratorAgeAlarm: GreaterThanThreshold 300000",
		},
		{
			name:   "alarm topic unencrypted",
			mutate: func(tmpl cfn) { delete(props(tmpl, "AlarmTopic"), "KmsMasterKeyId") },
			check:  alarmDiffs, want: "AlarmTopic: KmsMasterKeyId",
		},
		{
			name:   "alarm e-mail subscription unconditional",
			mutate: func(tmpl cfn) { delete(asMap(resources(tmpl)["AlarmEmailSubscription"]), "Condition") },
			check:  alarmDiffs, want: "subscription AlarmEmailSubscription: Condition",
		},
		{
			name:   "JWT_ISSUER ignores the user pool",
			mutate: func(tmpl cfn) { envVars(tmpl, "TeamsFunction")["JWT_ISSUER"] = cfn{"Ref": "JwtIssuer"} },
			check:  envOf("TeamsFunction"), want: "TeamsFunction: environment JWT_ISSUER",
		},
		{
			name: "JWT_AUDIENCE is the pool id",
			mutate: func(tmpl cfn) {
				asList(get(envVars(tmpl, authorizerFunction)["JWT_AUDIENCE"], "Fn::If"))[1] = cfn{"Ref": "UserPool"}
			},
			check: envOf(authorizerFunction), want: "AuthorizerFunction: environment JWT_AUDIENCE",
		},
		{
			name:   "user pool without the operator group",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "UserPoolOperatorGroup") },
			check:  cognitoDiffs, want: `user pool groups (platform roles): missing "operator"`,
		},
		{
			name:   "user pool created unconditionally",
			mutate: func(tmpl cfn) { delete(asMap(resources(tmpl)["UserPool"]), "Condition") },
			check:  cognitoDiffs, want: "UserPool (AWS::Cognito::UserPool) must have Condition CreateUserPool",
		},
		{
			name:   "user pool client with a secret",
			mutate: func(tmpl cfn) { props(tmpl, "UserPoolClient")["GenerateSecret"] = true },
			check:  cognitoDiffs, want: "GenerateSecret must be false",
		},
		{
			name: "user pool password of 8 characters",
			mutate: func(tmpl cfn) {
				asMap(get(props(tmpl, "UserPool"), "Policies", "PasswordPolicy"))["MinimumLength"] = float64(8)
			},
			check: cognitoDiffs, want: "PasswordPolicy.MinimumLength = 8",
		},
		{
			name: "authorizer errors alarm counting refused credentials (deploy finding 10)",
			mutate: func(tmpl cfn) {
				p := props(tmpl, "AuthorizerFunctionErrorsAlarm")
				for _, m := range asList(p["Metrics"]) {
					if get(m, "ReturnData") == true {
						asMap(m)["Expression"] = "errors"
					}
				}
			},
			check: alarmDiffs, want: "AuthorizerFunctionErrorsAlarm: want metric math errors - FILL(expected, 0)",
		},
		{
			name:   "task events retries not counted (deploy finding 10)",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "TaskEventsRetriesMetricFilter") },
			check:  alarmDiffs, want: "TaskEventsFunction: want one metric filter on TaskEventsLogGroup",
		},
		{
			name:   "self sign-up without the domain check (SEC-05)",
			mutate: func(tmpl cfn) { delete(props(tmpl, "UserPool"), "LambdaConfig") },
			check:  cognitoDiffs, want: "UserPool: LambdaConfig",
		},
		{
			name: "self sign-up without an allow-list (SEC-05)",
			mutate: func(tmpl cfn) {
				asMap(get(tmpl, "Conditions"))["AllowSelfSignUp"] = cfn{"Condition": "CreateUserPool"}
			},
			check: cognitoDiffs, want: "condition AllowSelfSignUp",
		},
		{
			name:   "notifier may put connection items (deploy finding 14)",
			mutate: func(tmpl cfn) { addGrant(tmpl, "NotifierFunctionRole", "dynamodb:PutItem", ddb.ConnLogicalID) },
			check:  actionsOf(notifierFunction), want: `unexpected "dynamodb:PutItem ConnectionsTable"`,
		},
		{
			name:   "an index left without auto scaling",
			mutate: func(tmpl cfn) { delete(resources(tmpl), "MainTableGSI3WriteCapacity") },
			check:  capacityDiffs, want: "no scalable target MainTableGSI3WriteCapacity",
		},
		{
			name: "scaling at 90% utilisation",
			mutate: func(tmpl cfn) {
				asMap(get(props(tmpl, "AuditTableReadCapacityScaling"), "TargetTrackingScalingPolicyConfiguration"))["TargetValue"] = 90
			},
			check: capacityDiffs, want: "AuditTableReadCapacity: want a target-tracking policy at 70%",
		},
		{
			name: "self-registered users run sessions ungranted (SEC-05)",
			mutate: func(tmpl cfn) {
				asMap(get(props(tmpl, "SessionsFunction"), "Environment", "Variables"))["REQUIRE_ROLE_GRANT"] = "false"
			},
			check: cognitoDiffs, want: "SessionsFunction: REQUIRE_ROLE_GRANT",
		},
		{
			name:   "user pool open to public self sign-up (SEC-05)",
			mutate: func(tmpl cfn) { delete(props(tmpl, "UserPool"), "AdminCreateUserConfig") },
			check:  cognitoDiffs, want: "AllowAdminCreateUserOnly = <nil>",
		},
		{
			name:   "CreateUserPool accepts any string",
			mutate: func(tmpl cfn) { delete(asMap(get(tmpl, "Parameters", "CreateUserPool")), "AllowedValues") },
			check:  parameterDiffs, want: "parameter CreateUserPool: AllowedValues",
		},
	}

	runDrift(t, cases)
}

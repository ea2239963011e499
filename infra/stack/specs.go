package stack

import (
	"maps"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"

	"streamspace/internal/ddb"
)

// functions are the product's Lambdas with their grants (the same as template.yaml's Policies,
// statement for statement; the comments there say why each is needed).
func (r *refs) functions() []*function {
	mainArn, connsArn, auditArn := r.main.TableArn(), r.conns.TableArn(), r.audit.TableArn()
	crud := func(arn *string) []awsiam.PolicyStatement { return tableAccess(dynamoCrudActions, arn) }
	read := func(arn *string) []awsiam.PolicyStatement { return tableAccess(dynamoReadActions, arn) }
	// httpArea: the authenticated HTTP areas own their data in MainTable and meter API-key
	// callers (rate counters, usage log) in AuditTable.
	httpArea := func(name, description string) *function {
		return &function{name: name, description: description, policies: [][]awsiam.PolicyStatement{crud(mainArn), crud(auditArn)}}
	}
	// The per-user quota: enforced by the sessions function, shown by the users function
	// (GET /users/me/quota). With self sign-up, a user runs no sessions until an admin grants a
	// role (SEC-05).
	quota := func() map[string]*string {
		return map[string]*string{
			"USER_MAX_SESSIONS":   r.params.UserMaxSessions.ValueAsString(),
			"USER_MAX_CPU_MILLIS": r.params.UserMaxCpuMillis.ValueAsString(),
			"USER_MAX_MEMORY_MIB": r.params.UserMaxMemoryMiB.ValueAsString(),
			"REQUIRE_ROLE_GRANT":  awscdk.Fn_ConditionIf(jsii.String("AllowSelfSignUp"), jsii.String("true"), jsii.String("false")).ToString(),
		}
	}
	users := httpArea("users", "Users area of the HTTP API")
	users.env = quota()
	sessions := httpArea("sessions", "Sessions and templates areas of the HTTP API")
	sessions.env = quota()
	maps.Copy(sessions.env, map[string]*string{
		// Connect signs stream tickets for the gateway and answers its viewer page's URL:
		// absolute with PublicDomainName, else relative to the origin the caller used (naming the
		// distribution would be a cycle: Distribution → HttpApi → this function).
		"GATEWAY_URL":            ifCondition("HasPublicDomain", awscdk.Fn_Sub(jsii.String("https://${PublicDomainName}/gateway"), nil), jsii.String("/gateway")),
		"TICKET_KEYS_SECRET_ARN": r.gateway.ticketKeys.Ref(),
	})
	// The stream tickets' keyring (connect signs with its signing key).
	sessions.policies = append(sessions.policies, []awsiam.PolicyStatement{
		allow("ReadTicketKeys", []string{"secretsmanager:GetSecretValue"}, r.gateway.ticketKeys.Ref()),
	})
	manageConnections := func(method string) *string {
		return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${StageName}/"+method+"/@connections/*"), nil)
	}
	return []*function{
		{name: "meta", description: "Public meta routes (health, version)"},
		users,
		httpArea("apikeys", "API keys area of the HTTP API (tokens only; keys cannot manage keys)"),
		sessions,
		httpArea("teams", "Teams area of the HTTP API (teams, members, roles, permissions, team sessions and quota)"),
		httpArea("sharing", "Sharing area of the HTTP API (session shares, invitations, collaborators, shared sessions)"),
		{
			name:        "activity",
			description: "Activity area of the HTTP API (session activity log, timeline, statistics, recordings)",
			env: map[string]*string{
				"RECORDINGS_BUCKET":             r.bucket.Ref(),
				"RECORDINGS_MAX_RETENTION_DAYS": r.params.RecordingsMaxRetentionDays.ValueAsString(),
			},
			policies: [][]awsiam.PolicyStatement{
				{
					allow("ReadMainTableForAccessDecisions", []string{"dynamodb:GetItem", "dynamodb:BatchGetItem"}, mainArn),
					allow("MarkRateLimitedKeys", []string{"dynamodb:Query"}, jsii.String(*mainArn+"/index/GSI1")),
					allow("ManageRecordingMetadata", []string{"dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, mainArn),
				},
				crud(auditArn),
				{allow("RecordingObjects", []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}, jsii.String(*r.bucket.AttrArn()+"/recordings/*"))},
			},
		},
		{
			name:        "authorizer",
			description: "Lambda REQUEST authorizer of the WebSocket API's $connect route",
			policies: [][]awsiam.PolicyStatement{
				read(mainArn),
				// Only user items (partition USER#<id>; SEC-20).
				{onlyLeadingKeys(allow("RecordUsersOnFirstSight", []string{"dynamodb:PutItem"}, mainArn), ddb.UserPK("*"))},
			},
		},
		{
			name:        "websocket",
			description: "WebSocket $connect, $disconnect and $default (subscribe, unsubscribe, ping)",
			policies:    [][]awsiam.PolicyStatement{crud(connsArn), read(mainArn)},
		},
		{
			name:        "notifier",
			description: "Derives events from the main table's stream and posts them to WebSocket connections",
			memory:      512, timeout: 60,
			reserved: r.params.StreamConsumerReservedConcurrency.ValueAsNumber(),
			env:      map[string]*string{"DEAD_LETTER_BUCKET": r.deadLetters.Ref()},
			policies: [][]awsiam.PolicyStatement{
				r.readMainStream(r.notifierDLQ.AttrArn()),
				r.parkDeadLetters(true, "notifier"),
				// Listeners (Query on GSI1) and pruning (Query, then BatchWriteItem deletes) only.
				{
					allow("FindAndPruneConnections", []string{"dynamodb:Query", "dynamodb:BatchWriteItem"}, connsArn),
					allow("FindListeners", []string{"dynamodb:Query"}, jsii.String(*connsArn+"/index/GSI1")),
				},
				read(mainArn),
				{allow("ManageWebSocketConnections", []string{"execute-api:ManageConnections"},
					manageConnections("POST"), manageConnections("GET"), manageConnections("DELETE"))},
			},
		},
		{
			name:        "scheduler",
			description: "Marks idle sessions (optionally hibernating them) and terminates sessions past their maximum duration",
			// Ends before the next tick, one run at a time (deploy finding 15).
			timeout:  50,
			reserved: 1,
			env:      map[string]*string{"AUTO_HIBERNATE": r.params.AutoHibernateIdleSessions.ValueAsString()},
			// A failed tick is not retried, and a throttled one is dropped after a minute: the next
			// tick finds the same sessions due.
			async:    &awslambda.CfnEventInvokeConfigProps{MaximumRetryAttempts: jsii.Number(0), MaximumEventAgeInSeconds: jsii.Number(60)},
			policies: [][]awsiam.PolicyStatement{crud(mainArn)},
		},
		r.processorFunction(),
		r.taskEventsFunction(),
		{
			// Self sign-up's e-mail domain check (SEC-05); reads its event only.
			name:        "presignup",
			description: "User pool PreSignUp trigger (self sign-up only with an e-mail address in SelfSignUpEmailDomains)",
			env:         map[string]*string{"SELF_SIGN_UP_EMAIL_DOMAINS": r.params.SelfSignUpEmailDomains.ValueAsString()},
			condition:   r.params.AllowSelfSignUp,
			fixedName:   "${AWS::StackName}-presignup",
		},
	}
}

// onlyLeadingKeys limits a DynamoDB statement to items whose partition key matches pattern.
func onlyLeadingKeys(st awsiam.PolicyStatement, pattern string) awsiam.PolicyStatement {
	st.AddCondition(jsii.String("ForAllValues:StringLike"), map[string]any{"dynamodb:LeadingKeys": []string{pattern}})
	return st
}

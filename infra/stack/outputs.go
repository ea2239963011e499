package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// newOutputs: the stack's outputs, named as in template.yaml (docs/deploy.md lists them).
func newOutputs(s awscdk.Stack, r *refs) {
	out := func(id, description string, value *string, condition awscdk.CfnCondition) {
		awscdk.NewCfnOutput(s, jsii.String(id), &awscdk.CfnOutputProps{
			Description: jsii.String(description), Value: value, Condition: condition,
		})
	}
	sub := func(text string) *string { return awscdk.Fn_Sub(jsii.String(text), nil) }
	out("HttpApiUrl", "Base URL of the HTTP API (routes start with /api/v1)", sub("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"), nil)
	out("WebSocketUrl", "WebSocket URL (connect with ?token=...)", sub("wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"), nil)
	out("MainTableName", "Main DynamoDB table", r.main.TableName(), nil)
	out("ConnectionsTableName", "WebSocket connections table", r.conns.TableName(), nil)
	out("AuditTableName", "Audit DynamoDB table (API-key usage logs and counters, session activity)", r.audit.TableName(), nil)
	out("DeadLetterBucketName", "Stream records the notifier or a processor step gave up on, whole (dead-letters/<consumer or step>/<sequence>.json); redrive with streamspace redrive",
		r.deadLetters.Ref(), nil)
	out("NotifierDeadLetterQueueUrl", "Dead-letter queue of stream records the notifier could not process", r.notifierDLQ.Ref(), nil)
	out("ProcessorDeadLetterQueueUrl", "Dead-letter queue of stream records the processor could not process", r.processorDLQ.Ref(), nil)
	out("RecordingsBucketName", "S3 bucket of session recordings (objects under recordings/)", r.bucket.Ref(), nil)
	out("AlarmTopicArn", "SNS topic every CloudWatch alarm of the stack notifies", r.alarmTopic.Ref(), nil)
	out("UserPoolId", "Cognito user pool (groups admin and operator carry the platform roles)", r.userPool.Pool.Ref(), r.params.CreateUserPoolCond)
	out("UserPoolClientId", "Cognito app client id (the JWT audience)", r.userPool.Client.Ref(), r.params.CreateUserPoolCond)
	rt := r.runtime
	out("TaskEventsDeadLetterQueueUrl", "Dead-letter queue of ECS task state events that were not recorded", rt.taskEventsDLQ.Ref(), nil)
	out("SessionClusterArn", "ECS cluster of the session tasks", rt.cluster.AttrArn(), nil)
	out("SessionSecurityGroupId", "Security group of the session tasks (ingress on 5900 from the gateway's tasks only)", rt.securityGroup.Ref(), nil)
	out("SessionFileSystemId", "EFS file system of persistent homes (retained when the stack is deleted)", rt.fileSystem.Ref(), nil)
	out("SessionLogGroupName", "CloudWatch log group of the session containers", rt.logGroup.Ref(), nil)
	out("SessionEnvBucketName", "S3 bucket of the per-session environment files (session-env/, expire after a day)", rt.envBucket.Ref(), nil)
	g := r.gateway
	out("ConsoleUrl", "The web console, and the one origin of everything (/api/*, the WebSocket at /<StageName>, /gateway/*); open it after make deploy-console",
		ifCondition("HasPublicDomain", sub("https://${PublicDomainName}/"), sub("https://${Distribution.DomainName}/")), nil)
	out("ConsoleBucketName", "Private S3 bucket of the console's files (make deploy-console syncs .cache/console/dist into it)", awscdk.Fn_Ref(jsii.String("ConsoleBucket")), nil)
	out("ConsoleConfig", "The console's config.json (internal/local/console Config), written into ConsoleBucket by make deploy-console",
		consoleConfig(), nil)
	out("GatewayUrl", "Public base of the streaming gateway (GATEWAY_URL; viewer pages are <GatewayUrl>/s/<session id>)", gatewayURL(), nil)
	out("DistributionDomainName", "The stack's CloudFront name (the DNS target of PublicDomainName, if set)", g.distribution.AttrDomainName(), nil)
	out("DistributionId", "The CloudFront distribution of the console, the APIs and the gateway (invalidations)", g.distribution.Ref(), nil)
	out("GatewayClusterArn", "ECS cluster of the streaming gateway", g.cluster.AttrArn(), nil)
	out("GatewayServiceName", "ECS service of the streaming gateway", g.service.AttrName(), nil)
	out("GatewayLogGroupName", "CloudWatch log group of the streaming gateway", g.logGroup.Ref(), nil)
	out("TicketKeysSecretArn", "Secrets Manager secret of the stream tickets' keyring (rotate it as docs/deploy.md says)", g.ticketKeys.Ref(), nil)
}

// consoleConfig is the console's config.json in AWS (one shape with the local stack's, checked
// by internal/infratest).
func consoleConfig() *string {
	host := ifCondition("HasPublicDomain", awscdk.Fn_Ref(jsii.String("PublicDomainName")), awscdk.Fn_GetAtt(jsii.String("Distribution"), jsii.String("DomainName")).ToString())
	pool := func(yes, no *string) *string { return ifCondition("CreateUserPool", yes, no) }
	return awscdk.Fn_Sub(jsii.String(`{"signIn":"oidc","websocketUrl":"wss://${Host}/${StageName}","oidc":{"authority":"${Authority}","clientId":"${ClientId}","scope":"openid email profile","logoutUrl":"${LogoutUrl}"}}`),
		&map[string]*string{
			"Host":      host,
			"Authority": pool(awscdk.Fn_Sub(jsii.String("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"), nil), awscdk.Fn_Ref(jsii.String("JwtIssuer"))),
			"ClientId":  pool(awscdk.Fn_Ref(jsii.String("UserPoolClient")), awscdk.Fn_Ref(jsii.String("JwtAudience"))),
			// Cognito's discovery document has no end_session_endpoint: its hosted UI's logout.
			"LogoutUrl": pool(awscdk.Fn_Sub(jsii.String("https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/logout"), nil), jsii.String("")),
		})
}

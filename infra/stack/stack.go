// Package stack is the CDK definition of the StreamSpace control plane: the same resources as
// template.yaml (SAM), under the same logical ids, so that both templates can be compared
// (infra/parity) and either tool can deploy the product.
//
// Tables come from internal/ddb and HTTP routes from internal/routes, the definitions the Go
// code and the local stack use. (A module whose path is under streamspace/ may import
// streamspace/internal/...: Go's internal rule goes by import path.)
package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"streamspace/internal/ddb"
)

// Description is the template's description (the same as template.yaml's).
const Description = "StreamSpace Serverless control plane: HTTP API functions (meta, users, apikeys, sessions, teams, " +
	"sharing, activity), a Lambda REQUEST authorizer for WebSocket $connect, a WebSocket API for live notifications, the " +
	"DynamoDB tables, the session recordings bucket, the two readers of the main table's stream (the " +
	"notifier, and the processor: the activity log and the session runtime, which runs sessions as ECS " +
	"Fargate tasks with EFS homes, as steps), the once-a-minute session scheduler, the handler of the " +
	"session tasks' state changes, and the streaming gateway (an ECS Fargate service behind an internal load " +
	"balancer, reached over HTTPS through CloudFront). Routes mirror internal/routes/routes.go and " +
	"tables mirror internal/ddb/tables.go; internal/infratest checks both."

// Props configure the stack.
type Props struct {
	awscdk.StackProps
	// Root is the repository root (functions/<name> are built from there).
	Root string
	// Code says how the function code assets are made.
	Code CodeMode
}

// refs are the resources the parts of the stack refer to.
type refs struct {
	root   string
	code   CodeMode
	params *parameters

	main, conns, audit        awsdynamodb.Table
	bucket                    awss3.CfnBucket
	deadLetters               awss3.CfnBucket
	notifierDLQ, processorDLQ awssqs.CfnQueue
	userPool                  *userPool
	webSocketAPI              awsapigatewayv2.CfnApi
	alarmTopic                awssns.CfnTopic
	runtime                   *runtimeRefs
	gateway                   *gatewayRefs
	nfsSecurityGroup          awsec2.CfnSecurityGroup
	fns                       map[string]awslambda.Function  // by name ("sessions")
	fnOrder                   []string                       // names, in template order
	fnCondition               map[string]awscdk.CfnCondition // the conditional functions' conditions
}

// New defines the whole stack.
func New(scope constructs.Construct, id string, props *Props) awscdk.Stack {
	sp := props.StackProps
	// No AWS::CDK::Metadata resource: nothing in the product reads it, and it would be the one
	// resource without a SAM counterpart.
	sp.AnalyticsReporting = jsii.Bool(false)
	s := awscdk.NewStack(scope, jsii.String(id), &sp)
	s.TemplateOptions().SetTemplateFormatVersion(jsii.String("2010-09-09"))
	// Set on the template, not through StackProps.Description: the stack refuses descriptions
	// over 512 characters (its message says 1024 bytes, CloudFormation's real limit).
	s.TemplateOptions().SetDescription(jsii.String(Description))

	r := &refs{root: props.Root, code: props.Code, fns: map[string]awslambda.Function{}}
	if r.code == "" {
		r.code = CodeBuild
	}
	r.params = newParameters(s)
	r.main = newTable(s, ddb.Main)
	r.conns = newTable(s, ddb.Connections)
	r.audit = newTable(s, ddb.Audit)
	provisionable(s, r.params, r.main, ddb.Main)
	provisionable(s, r.params, r.audit, ddb.Audit)
	r.bucket = newRecordingsBucket(s, r.params)
	r.deadLetters = newDeadLetterBucket(s)
	r.notifierDLQ = newDeadLetterQueue(s, "NotifierDeadLetterQueue")
	r.processorDLQ = newDeadLetterQueue(s, "ProcessorDeadLetterQueue")
	r.userPool = newUserPool(s, r.params)
	r.webSocketAPI = newWebSocketAPI(s)
	r.runtime = newRuntimeResources(s, r)
	r.gateway = newGateway(s, r)
	newDistribution(s, r)

	r.fnCondition = map[string]awscdk.CfnCondition{}
	for _, f := range r.functions() {
		r.fns[f.name] = newFunction(s, r, f)
		r.fnOrder = append(r.fnOrder, f.name)
		if f.condition != nil {
			r.fnCondition[f.name] = f.condition
		}
	}
	// Cognito may invoke the PreSignUp trigger of this pool (self sign-up only).
	signUp := awslambda.NewCfnPermission(s, jsii.String("PresignupFunctionCognitoPermission"), &awslambda.CfnPermissionProps{
		Action: jsii.String("lambda:InvokeFunction"), FunctionName: r.fn("presignup").FunctionArn(),
		Principal: jsii.String("cognito-idp.amazonaws.com"), SourceArn: r.userPool.Pool.AttrArn(),
	})
	signUp.CfnOptions().SetCondition(r.params.AllowSelfSignUp)
	newHTTPAPI(s, r)
	newWebSocketRoutes(s, r)
	newStreamConsumers(s, r)
	newScheduler(s, r)
	newTaskStateChanges(s, r)
	newAlarms(s, r)
	newOutputs(s, r)
	return s
}

func (r *refs) fn(name string) awslambda.Function {
	f, ok := r.fns[name]
	if !ok {
		panic("no function " + name)
	}
	return f
}

// globalEnv is every function's environment (Globals.Function.Environment in template.yaml).
func (r *refs) globalEnv() map[string]*string {
	p := r.params
	ifPool := func(pool, otherwise *string) *string {
		return awscdk.Token_AsString(awscdk.Fn_ConditionIf(jsii.String("CreateUserPool"), pool, otherwise), nil)
	}
	return map[string]*string{
		"TABLE_NAME":              r.main.TableName(),
		"CONNECTIONS_TABLE_NAME":  r.conns.TableName(),
		"AUDIT_TABLE_NAME":        r.audit.TableName(),
		"USAGE_RETENTION_DAYS":    p.UsageRetentionDays.ValueAsString(),
		"ACTIVITY_RETENTION_DAYS": p.ActivityRetentionDays.ValueAsString(),
		// The stack's own user pool when CreateUserPool, else the JwtIssuer/JwtAudience/JwksUrl
		// parameters. The audience is the app client id (ID tokens carry it as "aud", access
		// tokens as "client_id").
		"JWT_ISSUER":   ifPool(awscdk.Fn_Sub(jsii.String("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"), nil), p.JwtIssuer.ValueAsString()),
		"JWT_AUDIENCE": ifPool(r.userPool.Client.Ref(), p.JwtAudience.ValueAsString()),
		"JWKS_URL": ifPool(awscdk.Fn_Sub(jsii.String("https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}/.well-known/jwks.json"), nil),
			p.JwksUrl.ValueAsString()),
		"JWT_ROLE_CLAIM":                p.JwtRoleClaim.ValueAsString(),
		"BOOTSTRAP_ADMINS":              p.BootstrapAdmins.ValueAsString(),
		"WEBSOCKET_MANAGEMENT_ENDPOINT": awscdk.Fn_Sub(jsii.String("https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"), nil),
		// Empty in AWS. Declared so `sam local invoke --env-vars` can point a function at
		// DynamoDB Local (kept here so both stacks set the same variables).
		"DYNAMODB_ENDPOINT": jsii.String(""),
	}
}

// overrideID gives an L2 construct's CloudFormation resource the logical id SAM uses.
func overrideID(c constructs.IConstruct, id string) {
	c.Node().DefaultChild().(awscdk.CfnResource).OverrideLogicalId(jsii.String(id))
}

package stack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// function is one Lambda of the product: the folder functions/<name> it is built from, what
// differs from the defaults (Globals.Function in template.yaml), and its IAM policies. Each
// inner slice of policies becomes one inline policy of the function's role, like one entry of
// a SAM function's Policies.
type function struct {
	name, description string
	memory, timeout   float64 // 0: the default (256 MB, 10 s)
	env               map[string]*string
	policies          [][]awsiam.PolicyStatement
	async             *awslambda.CfnEventInvokeConfigProps
	// reserved is the function's ReservedConcurrentExecutions when the ReserveConcurrency
	// condition holds (SEC-09, deploy finding 15); nil: none.
	reserved any
	// condition, if set, makes the function and its role, log group and alarms conditional;
	// fixedName gives it that FunctionName (a Sub template).
	condition awscdk.CfnCondition
	fixedName string
}

// logicalID is the function's logical id in both templates: "sessions" -> "SessionsFunction".
func logicalID(name string) string { return stem(name) + "Function" }

// stem is the start of the logical ids of a function's resources (SessionsFunction,
// SessionsLogGroup): the folder name with a capital, and TaskEvents for taskevents, as
// template.yaml names it (the Makefile lower-cases it back to the folder).
func stem(name string) string {
	if s, ok := stems[name]; ok {
		return s
	}
	return strings.ToUpper(name[:1]) + name[1:]
}

var stems = map[string]string{"taskevents": "TaskEvents"}

// The table statements of template.yaml: SAM's DynamoDBCrudPolicy and DynamoDBReadPolicy
// templates without dynamodb:Scan, which nothing calls (deploy finding 14), so that both stacks
// grant the same (the parity test compares them).
var (
	dynamoCrudActions = []string{"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem",
		"dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem",
		"dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"}
	dynamoReadActions = []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem",
		"dynamodb:DescribeTable"}
)

func allow(sid string, actions []string, resources ...*string) awsiam.PolicyStatement {
	p := &awsiam.PolicyStatementProps{Effect: awsiam.Effect_ALLOW, Actions: jsii.Strings(actions...), Resources: &resources}
	if sid != "" {
		p.Sid = jsii.String(sid)
	}
	return awsiam.NewPolicyStatement(p)
}

// tableAccess allows actions on a table and all its indexes (what SAM's table policy templates
// grant).
func tableAccess(actions []string, tableArn *string) []awsiam.PolicyStatement {
	return []awsiam.PolicyStatement{allow("", actions, tableArn, jsii.String(*tableArn+"/index/*"))}
}

// managedPolicies are the AWS managed policies SAM attaches to every function role (logs; X-Ray,
// since the Tracing parameter may turn it on). Stream consumers get none more: both templates
// declare their mappings and grant their one stream inline (readMainStream).
func managedPolicies(f *function) *[]awsiam.IManagedPolicy {
	names := []string{"service-role/AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"}
	out := make([]awsiam.IManagedPolicy, len(names))
	for i, n := range names {
		out[i] = awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String(n))
	}
	return &out
}

// newFunction creates a function, its role and its log group, under the logical ids SAM gives
// them (<Name>Function, <Name>FunctionRole, <Name>LogGroup).
func newFunction(s awscdk.Stack, r *refs, f *function) awslambda.Function {
	id := logicalID(f.name)
	inline := map[string]awsiam.PolicyDocument{}
	for i, statements := range f.policies {
		inline[fmt.Sprintf("%sRolePolicy%d", id, i)] = awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &statements})
	}
	role := awsiam.NewRole(s, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		ManagedPolicies: managedPolicies(f),
		InlinePolicies:  &inline,
	})
	overrideID(role, id+"Role")
	if f.condition != nil {
		role.Node().DefaultChild().(awsiam.CfnRole).CfnOptions().SetCondition(f.condition)
	}

	logs := awslogs.NewCfnLogGroup(s, jsii.String(stem(f.name)+"LogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName:    jsii.String(fmt.Sprintf("/aws/lambda/%s/%s", *awscdk.Aws_STACK_NAME(), f.name)),
		RetentionInDays: r.params.LogRetentionDays.ValueAsNumber(),
	})
	logs.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	if f.condition != nil {
		logs.CfnOptions().SetCondition(f.condition)
	}

	memory, timeout := f.memory, f.timeout
	if memory == 0 {
		memory = 256
	}
	if timeout == 0 {
		timeout = 10
	}
	env := r.globalEnv()
	for k, v := range f.env {
		env[k] = v
	}
	fn := awslambda.NewFunction(s, jsii.String(id), &awslambda.FunctionProps{
		Description:  jsii.String(f.description),
		Code:         functionCode(r.root, f.name, r.code),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		MemorySize:   jsii.Number(memory),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeout)),
		Tracing:      awslambda.Tracing_ACTIVE,
		Environment:  &env,
		// The L2 function takes an ILogGroup; the log group itself is L1 (its retention is a
		// parameter, which the L2 LogGroup's enum cannot take).
		LogGroup: awslogs.LogGroup_FromLogGroupName(s, jsii.String(id+"LogGroupRef"), logs.Ref()),
		// Every grant is declared above: an immutable view of the role keeps the L2 constructs
		// (tracing, event sources, integrations) from adding statements of their own.
		Role: role.WithoutPolicyUpdates(nil),
	})
	cfnFn := fn.Node().DefaultChild().(awslambda.CfnFunction)
	cfnFn.OverrideLogicalId(jsii.String(id))
	if f.condition != nil {
		cfnFn.CfnOptions().SetCondition(f.condition)
		// The global JWT settings choose on CreateUserPool; a condition that implies it makes
		// their other branch unreachable here, by design (template.yaml says the same).
		cfnFn.AddMetadata(jsii.String("cfn-lint"), map[string]any{"config": map[string]any{"ignore_checks": []string{"W1028"}}})
	}
	if f.fixedName != "" {
		cfnFn.AddPropertyOverride(jsii.String("FunctionName"), awscdk.Fn_Sub(jsii.String(f.fixedName), nil))
	}
	cfnFn.AddMetadata(jsii.String(SourceMetadataKey), jsii.String("functions/"+f.name))
	// The L2 function also depends on its role explicitly; Role's GetAtt already orders them
	// (cfn-lint W3005), and the role carries its policies inline.
	cfnFn.AddDeletionOverride(jsii.String("DependsOn"))
	// X-Ray per the Tracing parameter (PassThrough by default; deploy finding 7). The L2's
	// Tracing enum cannot take a parameter.
	cfnFn.AddPropertyOverride(jsii.String("TracingConfig.Mode"), r.params.Tracing.ValueAsString())
	// No START/END/REPORT lines (template.yaml's Globals say why).
	cfnFn.AddPropertyOverride(jsii.String("LoggingConfig.LogFormat"), jsii.String("JSON"))
	cfnFn.AddPropertyOverride(jsii.String("LoggingConfig.SystemLogLevel"), jsii.String("WARN"))
	if f.reserved != nil {
		cfnFn.AddPropertyOverride(jsii.String("ReservedConcurrentExecutions"),
			awscdk.Fn_ConditionIf(jsii.String("ReserveConcurrency"), f.reserved, awscdk.Aws_NO_VALUE()))
	}
	if f.async != nil {
		// L1: the L2 destinations would grant the queue to the role themselves (and this role
		// is immutable); the grant is in the function's policies.
		f.async.FunctionName = fn.FunctionName()
		f.async.Qualifier = jsii.String("$LATEST")
		awslambda.NewCfnEventInvokeConfig(s, jsii.String(id+"EventInvokeConfig"), f.async)
	}
	return fn
}

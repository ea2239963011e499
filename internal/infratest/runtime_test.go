package infratest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The session runtime (docs/runtime.md): its two functions and the AWS resources session tasks
// run on.
const (
	runtimeFunction      = processorFunction // the runtime is a step of the processor
	taskEventsFunction   = "TaskEventsFunction"
	taskEventsDLQ        = "TaskEventsDeadLetterQueue"
	taskStateChangeRule  = "TaskStateChangeRule"
	sessionCluster       = "SessionCluster"
	sessionExecutionRole = "SessionExecutionRole"
	sessionTaskRole      = "SessionTaskRole"
	sessionFileSystem    = "SessionFileSystem"
	sessionSG            = "SessionSecurityGroup"
	sessionFileSystemSG  = "SessionFileSystemSecurityGroup"
	sessionLogGroup      = "SessionLogGroup"
	createSessionNetwork = "CreateSessionNetwork" // the condition
	// The per-session environment files (session id, VNC password) and their key.
	sessionEnvBucket = "SessionEnvBucket"
	sessionEnvKey    = "SessionEnvKey"
	envFileObjects   = "${" + sessionEnvBucket + ".Arn}/session-env/*"
	viaS3            = `{"StringEquals":{"kms:ViaService":{"Fn::Sub":"s3.${AWS::Region}.amazonaws.com"}}}`
	viaAccessPoint   = `{"StringLike":{"elasticfilesystem:AccessPointArn":{"Fn::Sub":"arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:access-point/*"}}}`
)

// eventRuleFunctions are the functions an event-pattern rule (not a schedule) invokes.
var eventRuleFunctions = map[string]string{
	taskEventsFunction: "ECS task state changes of the session cluster",
}

// otherDLQs are the dead-letter queues besides the stream consumers' (alarmed the same way).
var otherDLQs = []string{taskEventsDLQ}

const (
	taskDefinitionPattern = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-*:*"
	clusterTasks          = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${SessionCluster}/*"
	clusterArn            = `{"ArnEquals":{"ecs:cluster":{"Fn::GetAtt":["SessionCluster","Arn"]}}}`
)

// wantRuntimeAccess is, per role, every statement outside DynamoDB as "<action> <resource>
// [<condition as JSON>]" (resources written as arnText does). It pins what the grant summary
// cannot see: the Resource "*" actions, the pattern resources and the conditions.
var wantRuntimeAccess = map[string][]string{
	"ProcessorFunctionRole": {
		// Only the stack's own task definition families, only on the session cluster.
		"ecs:RunTask " + taskDefinitionPattern + " " + clusterArn,
		"ecs:StopTask " + clusterTasks,
		// Tag-on-create only (RunTask and RegisterTaskDefinition carry tags).
		"ecs:TagResource " + clusterTasks + ` {"StringEquals":{"ecs:CreateAction":["RunTask","RegisterTaskDefinition"]}}`,
		"ecs:TagResource " + taskDefinitionPattern + ` {"StringEquals":{"ecs:CreateAction":["RunTask","RegisterTaskDefinition"]}}`,
		"ecs:DescribeTaskDefinition *",
		"ecs:RegisterTaskDefinition *",
		// Exactly the two session roles, and only to ECS tasks.
		`iam:PassRole ${SessionExecutionRole.Arn} {"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`,
		`iam:PassRole ${SessionTaskRole.Arn} {"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`,
		"elasticfilesystem:CreateAccessPoint ${SessionFileSystem.Arn}",
		"sqs:SendMessage ${ProcessorDeadLetterQueue.Arn}",
		// Writes and deletes the sessions' environment files; never reads one.
		"s3:PutObject " + envFileObjects,
		"s3:DeleteObject " + envFileObjects,
		"kms:GenerateDataKey ${SessionEnvKey.Arn} " + viaS3,
		// Stream records a step gives up on, whole, under the step's own prefix (SEC-10).
		"s3:PutObject ${DeadLetterBucket.Arn}/dead-letters/auditor/*",
		"s3:PutObject ${DeadLetterBucket.Arn}/dead-letters/runtime/*",
		// The auditor step: a removed recording's content (SEC-16).
		"s3:DeleteObject ${RecordingsBucket.Arn}/recordings/*",
	},
	// The event holds the task's private address: no EC2 lookup.
	"TaskEventsFunctionRole": {
		"sqs:SendMessage ${TaskEventsDeadLetterQueue.Arn}",
	},
	// ECS pulls the image (ECR: sign-in, then the account's repositories), writes the logs, and
	// reads the session's environment file (decrypting it through S3 only) when it starts the
	// container.
	sessionExecutionRole: {
		"ecr:GetAuthorizationToken *",
		"ecr:BatchCheckLayerAvailability arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*",
		"ecr:BatchGetImage arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*",
		"ecr:GetDownloadUrlForLayer arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*",
		"logs:CreateLogStream ${SessionLogGroup.Arn}",
		"logs:PutLogEvents ${SessionLogGroup.Arn}",
		"s3:GetObject " + envFileObjects,
		"s3:GetBucketLocation ${SessionEnvBucket.Arn}",
		"kms:Decrypt ${SessionEnvKey.Arn} " + viaS3,
	},
	// The person in the session controls the container: its role may only mount a home, and
	// only through an access point (the file system policy refuses the rest).
	sessionTaskRole: {
		"elasticfilesystem:ClientMount ${SessionFileSystem.Arn} " + viaAccessPoint,
		"elasticfilesystem:ClientWrite ${SessionFileSystem.Arn} " + viaAccessPoint,
	},
}

// runtimeAccess lists a role's statements outside DynamoDB as wantRuntimeAccess writes them.
func runtimeAccess(tmpl cfn, role string) []string {
	var out []string
	for _, st := range iamStatements(tmpl) {
		if st.role != role || str(st.stmt["Effect"]) != "Allow" {
			continue
		}
		cond := ""
		if c := st.stmt["Condition"]; c != nil {
			b, _ := json.Marshal(c)
			cond = " " + string(b)
		}
		for _, a := range stringsOf(st.stmt["Action"]) {
			if strings.HasPrefix(a, "dynamodb:") {
				continue
			}
			for _, r := range resourceList(st.stmt["Resource"]) {
				out = append(out, a+" "+arnText(r)+cond)
			}
		}
	}
	sort.Strings(out)
	return out
}

// runtimeAccessDiffs compares every role of wantRuntimeAccess; the task roles (sessions' and
// gateway's) carry no managed policy and trust only ECS tasks of this account.
func runtimeAccessDiffs(tmpl cfn) []string {
	var diffs []string
	for _, role := range keys(wantRuntimeAccess) {
		if str(get(resources(tmpl), role, "Type")) != "AWS::IAM::Role" {
			diffs = append(diffs, role+" is not an AWS::IAM::Role of the template")
			continue
		}
		diffs = append(diffs, diffSets(role+" access", wantRuntimeAccess[role], runtimeAccess(tmpl, role))...)
	}
	for _, role := range []string{sessionExecutionRole, sessionTaskRole, gatewayExecutionRole, gatewayTaskRole} {
		p := props(tmpl, role)
		if m := p["ManagedPolicyArns"]; m != nil {
			diffs = append(diffs, fmt.Sprintf("%s has managed policies %v; it gets only its inline grants", role, m))
		}
		// Only ECS tasks of this account may assume it.
		trust := statementsOf(p["AssumeRolePolicyDocument"])
		want := cfn{"Effect": "Allow", "Principal": cfn{"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole",
			"Condition": cfn{"StringEquals": cfn{"aws:SourceAccount": cfn{"Ref": "AWS::AccountId"}}}}
		if len(trust) != 1 || !reflect.DeepEqual(trust[0], want) {
			diffs = append(diffs, fmt.Sprintf("%s trust policy %v, want only %v", role, trust, want))
		}
	}
	for _, fn := range allFunctions() {
		for _, id := range []string{sessionExecutionRole, sessionTaskRole, gatewayExecutionRole, gatewayTaskRole} {
			if functionRole(tmpl, fn) == id {
				diffs = append(diffs, fmt.Sprintf("%s runs as the session role %s", fn, id))
			}
		}
	}
	return diffs
}

func TestRuntimeIAM(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "runtime IAM", runtimeAccessDiffs(transformed(t)))
}

// runtimeEnv is exactly the runtime configuration each function reads (internal/runtime/ecs
// ConfigFromEnv), as arnText writes the values.
var runtimeEnv = map[string]map[string]string{
	runtimeFunction: {
		"ECS_CLUSTER":            "${SessionCluster.Arn}",
		"ECS_SUBNETS":            `{"Fn::If":["CreateSessionNetwork",{"Fn::Sub":"${SessionSubnetA},${SessionSubnetB}"},{"Fn::Sub":"${SessionSubnetId1},${SessionSubnetId2}"}]}`,
		"ECS_SECURITY_GROUP":     "${SessionSecurityGroup}",
		"ECS_ASSIGN_PUBLIC_IP":   "${SessionAssignPublicIp}",
		"ECS_EXECUTION_ROLE_ARN": "${SessionExecutionRole.Arn}",
		"ECS_TASK_ROLE_ARN":      "${SessionTaskRole.Arn}",
		"ECS_LOG_GROUP":          "${SessionLogGroup}",
		"ECS_FAMILY_PREFIX":      "${AWS::StackName}", // patternResources: task-definition/${AWS::StackName}-*
		"ECS_CPU_ARCHITECTURE":   "${SessionCpuArchitecture}",
		"EFS_FILE_SYSTEM_ID":     "${SessionFileSystem}",
		"SESSION_ENV_BUCKET_ARN": "${SessionEnvBucket.Arn}",
		"ECS_IMAGE_REGISTRY":     "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}",
	},
	taskEventsFunction: {
		"ECS_CLUSTER": "${SessionCluster.Arn}",
	},
}

// runtimeParameters are the runtime's parameters whose values the Go code parses: exact enums
// (cfn-lint checks only that the default is allowed) and bounds.
var runtimeParameters = map[string]cfn{
	"SessionAssignPublicIp":        {"Type": "String", "Default": "ENABLED", "AllowedValues": []any{"ENABLED", "DISABLED"}},
	"SessionCpuArchitecture":       {"Type": "String", "Default": "X86_64", "AllowedValues": []any{"X86_64", "ARM64"}},
	"SessionVpcId":                 {"Type": "String", "Default": ""},
	"SessionSubnetId1":             {"Type": "String", "Default": ""},
	"SessionSubnetId2":             {"Type": "String", "Default": ""},
	"GatewayLoadBalancerSubnetId1": {"Type": "String", "Default": ""},
	"GatewayLoadBalancerSubnetId2": {"Type": "String", "Default": ""},
	// No default: the gateway runs the image `make images` pushed.
	"GatewayImageUri":        {"Type": "String", "Default": nil},
	"GatewayCpuArchitecture": {"Type": "String", "Default": "X86_64", "AllowedValues": []any{"X86_64", "ARM64"}},
	// At least the two tasks the service always runs.
	"GatewayMaxTasks":        {"Type": "Number", "Default": float64(10), "MinValue": float64(2), "MaxValue": float64(100)},
	"PublicDomainName":       {"Type": "String", "Default": ""},
	"PublicCertificateArn":   {"Type": "String", "Default": ""},
	"CloudFrontPrefixListId": {"Type": "String", "Default": ""},
}

// removedParameters were the direct stream's; nothing of the stack may offer them any more.
var removedParameters = []string{"StreamingPort", "StreamingIngressCidr"}

func runtimeConfigDiffs(tmpl cfn) []string {
	var diffs []string
	for _, fn := range keys(runtimeEnv) {
		vars := asMap(get(props(tmpl, fn), "Environment", "Variables"))
		for _, name := range keys(runtimeEnv[fn]) {
			v, ok := vars[name]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: environment lacks %s", fn, name))
			} else if got := arnText(v); got != runtimeEnv[fn][name] {
				diffs = append(diffs, fmt.Sprintf("%s: environment %s = %s, want %s", fn, name, got, runtimeEnv[fn][name]))
			}
		}
		for name := range vars {
			if strings.HasPrefix(name, "ECS_") || strings.HasPrefix(name, "EFS_") || strings.HasPrefix(name, "SESSION_") || name == "STREAMING_PORT" {
				if _, ok := runtimeEnv[fn][name]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: unexpected runtime variable %s", fn, name))
				}
			}
		}
	}
	for _, name := range removedParameters {
		if get(tmpl, "Parameters", name) != nil {
			diffs = append(diffs, "parameter "+name+" is back: sessions take no traffic but the gateway's")
		}
	}
	for _, name := range keys(runtimeParameters) {
		p := asMap(get(tmpl, "Parameters", name))
		for _, field := range keys(runtimeParameters[name]) {
			got := p[field]
			if s, ok := got.(string); ok && field != "Type" && field != "Default" {
				var n float64
				if json.Unmarshal([]byte(s), &n) == nil {
					got = n
				}
			}
			if s, ok := got.(string); ok && field == "Default" && runtimeParameters[name]["Type"] == "Number" {
				var n float64
				if json.Unmarshal([]byte(s), &n) == nil {
					got = n
				}
			}
			if !reflect.DeepEqual(got, runtimeParameters[name][field]) {
				diffs = append(diffs, fmt.Sprintf("parameter %s: %s = %#v, want %#v", name, field, got, runtimeParameters[name][field]))
			}
		}
	}
	return diffs
}

func TestRuntimeConfiguration(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "runtime configuration", runtimeConfigDiffs(transformed(t)))
}

// taskEventRuleDiffs: exactly one enabled rule sends this cluster's RUNNING and STOPPED task
// state changes to TaskEventsFunction, with retries and a dead-letter queue EventBridge may
// write to (from that rule only); the function retries failed events twice and parks them in
// the same encrypted 14-day queue; nothing else triggers it.
func taskEventRuleDiffs(tmpl cfn) []string {
	var diffs []string
	rules := scheduleRulesOf(tmpl, taskEventsFunction)
	if !slices.Equal(rules, []string{taskStateChangeRule}) {
		return []string{fmt.Sprintf("%s is the target of rules %v, want [%s]", taskEventsFunction, rules, taskStateChangeRule)}
	}
	p := props(tmpl, taskStateChangeRule)
	if str(p["State"]) != "ENABLED" || p["ScheduleExpression"] != nil {
		diffs = append(diffs, fmt.Sprintf("%s: State %v, ScheduleExpression %v; want an enabled event-pattern rule", taskStateChangeRule, p["State"], p["ScheduleExpression"]))
	}
	wantPattern := cfn{"source": []any{"aws.ecs"}, "detail-type": []any{"ECS Task State Change"},
		"detail": cfn{"clusterArn": []any{cfn{"Fn::GetAtt": []any{sessionCluster, "Arn"}}}, "lastStatus": []any{"RUNNING", "STOPPED"}}}
	if !reflect.DeepEqual(p["EventPattern"], wantPattern) {
		diffs = append(diffs, fmt.Sprintf("%s: EventPattern %v, want %v", taskStateChangeRule, p["EventPattern"], wantPattern))
	}
	targets := asList(p["Targets"])
	if len(targets) != 1 {
		diffs = append(diffs, fmt.Sprintf("%s has %d targets, want 1", taskStateChangeRule, len(targets)))
	} else {
		tg := targets[0]
		if !slices.Equal(referencedResources(get(tg, "DeadLetterConfig", "Arn")), []string{taskEventsDLQ}) {
			diffs = append(diffs, fmt.Sprintf("%s target: DeadLetterConfig %v, want %s", taskStateChangeRule, get(tg, "DeadLetterConfig"), taskEventsDLQ))
		}
		if n, _ := get(tg, "RetryPolicy", "MaximumRetryAttempts").(float64); n < 1 {
			diffs = append(diffs, fmt.Sprintf("%s target: RetryPolicy %v, want retries", taskStateChangeRule, get(tg, "RetryPolicy")))
		}
	}
	permitted := false
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
		pp := props(tmpl, id)
		if str(pp["Principal"]) == "events.amazonaws.com" && slices.Equal(referencedResources(pp["FunctionName"]), []string{taskEventsFunction}) &&
			slices.Equal(referencedResources(pp["SourceArn"]), []string{taskStateChangeRule}) {
			permitted = true
		}
	}
	if !permitted {
		diffs = append(diffs, "no AWS::Lambda::Permission lets events.amazonaws.com invoke "+taskEventsFunction+" from "+taskStateChangeRule)
	}
	// EventBridge writes undeliverable events into the queue: a queue policy for this rule only.
	allowed := false
	for _, id := range resourcesOfType(tmpl, "AWS::SQS::QueuePolicy") {
		qp := props(tmpl, id)
		if !slices.Equal(referencedResources(qp["Queues"]), []string{taskEventsDLQ}) {
			continue
		}
		for _, st := range statementsOf(qp["PolicyDocument"]) {
			if str(st["Effect"]) == "Allow" && reflect.DeepEqual(st["Principal"], cfn{"Service": "events.amazonaws.com"}) &&
				str(st["Action"]) == "sqs:SendMessage" &&
				slices.Equal(referencedResources(get(st, "Condition", "ArnEquals", "aws:SourceArn")), []string{taskStateChangeRule}) {
				allowed = true
			}
		}
	}
	if !allowed {
		diffs = append(diffs, taskEventsDLQ+": no queue policy lets events.amazonaws.com send from "+taskStateChangeRule+" only")
	}
	var configs []string
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventInvokeConfig") {
		if slices.Contains(referencedResources(props(tmpl, id)["FunctionName"]), taskEventsFunction) {
			configs = append(configs, id)
		}
	}
	if len(configs) != 1 {
		diffs = append(diffs, fmt.Sprintf("%s has event invoke configs %v, want one", taskEventsFunction, configs))
	} else {
		c := props(tmpl, configs[0])
		if c["MaximumRetryAttempts"] != float64(2) || !slices.Equal(referencedResources(get(c, "DestinationConfig", "OnFailure", "Destination")), []string{taskEventsDLQ}) {
			diffs = append(diffs, fmt.Sprintf("%s: retries %v, on failure %v; want 2 retries, then %s", configs[0], c["MaximumRetryAttempts"], get(c, "DestinationConfig"), taskEventsDLQ))
		}
	}
	q := props(tmpl, taskEventsDLQ)
	if q["SqsManagedSseEnabled"] != true || q["MessageRetentionPeriod"] != float64(1209600) {
		diffs = append(diffs, taskEventsDLQ+" must be encrypted and keep messages 14 days")
	}
	if m := mappingsOf(tmpl, taskEventsFunction); len(m) > 0 {
		diffs = append(diffs, fmt.Sprintf("%s has event source mappings %v", taskEventsFunction, m))
	}
	return diffs
}

func TestTaskEventRule(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "task state change rule", taskEventRuleDiffs(transformed(t)))
}

// ingressRules renders a security group's ingress as "<protocol> <from>-<to> <source>".
func ingressRules(tmpl cfn, sg string) []string {
	var out []string
	for _, r := range asList(props(tmpl, sg)["SecurityGroupIngress"]) {
		var src any
		for _, k := range []string{"CidrIp", "CidrIpv6", "SourceSecurityGroupId", "SourcePrefixListId"} {
			if v := get(r, k); v != nil && src == nil {
				src = v
			}
		}
		out = append(out, fmt.Sprintf("%v %s-%s %s", get(r, "IpProtocol"), arnText(get(r, "FromPort")), arnText(get(r, "ToPort")), arnText(src)))
	}
	for _, id := range resourcesOfType(tmpl, "AWS::EC2::SecurityGroupIngress") {
		if slices.Contains(referencedResources(props(tmpl, id)["GroupId"]), sg) {
			out = append(out, "separate ingress "+id)
		}
	}
	return out
}

// sessionNetworkDiffs: session tasks accept only the VNC port from the gateway's tasks (no
// public ingress at all); the homes' mount targets accept only NFS from session tasks; the
// homes are encrypted and retained; the stack's own network exists only under
// CreateSessionNetwork (SessionVpcId empty); the cluster's tasks log to a log group with
// retention.
func sessionNetworkDiffs(tmpl cfn) []string {
	var diffs []string
	diffs = append(diffs, diffSets(sessionSG+" ingress", []string{"tcp 5900-5900 ${" + gatewaySG + "}"}, ingressRules(tmpl, sessionSG))...)
	diffs = append(diffs, diffSets(sessionFileSystemSG+" ingress", []string{"tcp 2049-2049 ${" + sessionSG + "}"}, ingressRules(tmpl, sessionFileSystemSG))...)

	fs := props(tmpl, sessionFileSystem)
	if fs["Encrypted"] != true {
		diffs = append(diffs, sessionFileSystem+" must be Encrypted")
	}
	if r := asMap(resources(tmpl)[sessionFileSystem]); r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
		diffs = append(diffs, sessionFileSystem+": DeletionPolicy and UpdateReplacePolicy must be Retain (people's homes)")
	}
	var subnets []string
	for _, id := range resourcesOfType(tmpl, "AWS::EFS::MountTarget") {
		p := props(tmpl, id)
		if !isRef(p["FileSystemId"], sessionFileSystem) {
			continue
		}
		subnets = append(subnets, arnText(p["SubnetId"]))
		if !slices.Equal(referencedResources(p["SecurityGroups"]), []string{sessionFileSystemSG}) {
			diffs = append(diffs, fmt.Sprintf("mount target %s: SecurityGroups %v, want [%s]", id, p["SecurityGroups"], sessionFileSystemSG))
		}
	}
	if len(subnets) != 2 || subnets[0] == subnets[1] {
		diffs = append(diffs, fmt.Sprintf("%s mount targets in subnets %v, want two different ones", sessionFileSystem, subnets))
	}

	wantCond := cfn{"Fn::Equals": []any{cfn{"Ref": "SessionVpcId"}, ""}}
	if got := get(tmpl, "Conditions", createSessionNetwork); !reflect.DeepEqual(got, wantCond) {
		diffs = append(diffs, fmt.Sprintf("condition %s = %v, want %v", createSessionNetwork, got, wantCond))
	}
	for _, typ := range []string{"AWS::EC2::VPC", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::RouteTable",
		"AWS::EC2::Route", "AWS::EC2::Subnet", "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::NatGateway", "AWS::EC2::EIP"} {
		for _, id := range resourcesOfType(tmpl, typ) {
			if str(get(resources(tmpl), id, "Condition")) != createSessionNetwork {
				diffs = append(diffs, fmt.Sprintf("%s (%s) must have Condition %s", id, typ, createSessionNetwork))
			}
			if typ == "AWS::EC2::NatGateway" || typ == "AWS::EC2::EIP" {
				diffs = append(diffs, fmt.Sprintf("%s: the sessions' network has no NAT (tasks get public IPs)", id))
			}
		}
	}
	// Two public subnets for the tasks, two private ones for the gateway's load balancer.
	if len(resourcesOfType(tmpl, "AWS::EC2::Subnet")) != 4 {
		diffs = append(diffs, "the sessions' network must have exactly four subnets (tasks and load balancer, two availability zones each)")
	}
	if got := resourcesOfType(tmpl, "AWS::ECS::Cluster"); !slices.Equal(got, []string{gatewayCluster, sessionCluster}) {
		diffs = append(diffs, fmt.Sprintf("ECS clusters %v, want exactly %s and %s", got, gatewayCluster, sessionCluster))
	}
	if !isRef(props(tmpl, sessionLogGroup)["RetentionInDays"], "LogRetentionDays") {
		diffs = append(diffs, sessionLogGroup+": RetentionInDays must be {Ref: LogRetentionDays}")
	}
	return diffs
}

func TestSessionNetwork(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "session network", sessionNetworkDiffs(transformed(t)))
}

// TestRuntimeChecksDetectDrift breaks one runtime resource at a time in a copy of the template
// and expects the matching check to report it (the unbroken template passes first).
func TestRuntimeChecksDetectDrift(t *testing.T) {
	t.Parallel()
	envVars := func(tmpl cfn, fn string) cfn { return asMap(get(props(tmpl, fn), "Environment", "Variables")) }
	runtimeMapping := func(tmpl cfn) cfn { return props(tmpl, mappingsOf(tmpl, runtimeFunction)[0]) }
	grantsOf := func(fn string) func(cfn) []string {
		return func(tmpl cfn) []string {
			return diffSets("grants", wantGrants[fn], grants(tmpl, functionRole(tmpl, fn)))
		}
	}
	cases := []driftCase{
		{"RunTask on any cluster", func(tmpl cfn) { delete(statementBySid(tmpl, "ProcessorFunctionRole", "RunSessionTasks"), "Condition") },
			runtimeAccessDiffs, `unexpected "ecs:RunTask ` + taskDefinitionPattern + `"`},
		{"RunTask on every task definition", func(tmpl cfn) {
			statementBySid(tmpl, "ProcessorFunctionRole", "RunSessionTasks")["Resource"] = cfn{"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/*"}
		}, iamFindings, "names no resource of the template"},
		{"PassRole without the service condition", func(tmpl cfn) { delete(statementBySid(tmpl, "ProcessorFunctionRole", "PassSessionRoles"), "Condition") },
			runtimeAccessDiffs, `unexpected "iam:PassRole ${SessionExecutionRole.Arn}"`},
		{"PassRole on any role", func(tmpl cfn) { statementBySid(tmpl, "ProcessorFunctionRole", "PassSessionRoles")["Resource"] = "*" },
			iamFindings, `Resource "*" for [iam:PassRole]`},
		{"TagResource beyond creation", func(tmpl cfn) {
			delete(statementBySid(tmpl, "ProcessorFunctionRole", "TagSessionTasksOnCreate"), "Condition")
		},
			runtimeAccessDiffs, `unexpected "ecs:TagResource ` + clusterTasks + `"`},
		{"runtime may stop any task", func(tmpl cfn) {
			statementBySid(tmpl, "ProcessorFunctionRole", "StopSessionTasks")["Resource"] = cfn{"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/*"}
		}, iamFindings, "names no resource of the template"},
		{"runtime may delete access points", func(tmpl cfn) {
			statementBySid(tmpl, "ProcessorFunctionRole", "CreateHomeAccessPoints")["Action"] = []any{"elasticfilesystem:CreateAccessPoint", "elasticfilesystem:DeleteAccessPoint"}
		}, grantsOf(runtimeFunction), `unexpected "elasticfilesystem:DeleteAccessPoint SessionFileSystem"`},
		{"processor reads the connections table", func(tmpl cfn) {
			p := props(tmpl, "ProcessorFunctionRole")
			p["Policies"] = append(asList(p["Policies"]), cfn{"PolicyName": "Mutation", "PolicyDocument": cfn{"Statement": []any{cfn{
				"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": cfn{"Fn::GetAtt": []any{"ConnectionsTable", "Arn"}}}}}})
		}, grantsOf(runtimeFunction), `unexpected "dynamodb:read ConnectionsTable"`},
		{"session task role gains a permission", func(tmpl cfn) {
			props(tmpl, sessionTaskRole)["Policies"] = []any{cfn{"PolicyName": "Mutation", "PolicyDocument": cfn{"Statement": []any{cfn{
				"Effect": "Allow", "Action": "s3:GetObject", "Resource": cfn{"Fn::Sub": "${RecordingsBucket.Arn}/*"}}}}}}
		}, runtimeAccessDiffs, `SessionTaskRole access: unexpected "s3:GetObject ${RecordingsBucket.Arn}/*"`},
		{"execution role with a managed policy", func(tmpl cfn) {
			props(tmpl, sessionExecutionRole)["ManagedPolicyArns"] = []any{"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}
		}, runtimeAccessDiffs, "SessionExecutionRole has managed policies"},
		{"execution role assumable by Lambda", func(tmpl cfn) {
			st := statementsOf(props(tmpl, sessionExecutionRole)["AssumeRolePolicyDocument"])[0]
			st["Principal"] = cfn{"Service": "lambda.amazonaws.com"}
		}, runtimeAccessDiffs, "SessionExecutionRole trust policy"},
		{"task events look up addresses again", func(tmpl cfn) {
			p := props(tmpl, "TaskEventsFunctionRole")
			p["Policies"] = append(asList(p["Policies"]), cfn{"PolicyName": "Mutation", "PolicyDocument": cfn{"Statement": []any{cfn{
				"Effect": "Allow", "Action": "ec2:DescribeNetworkInterfaces", "Resource": "*"}}}})
		}, iamFindings, `Resource "*" for [ec2:DescribeNetworkInterfaces]`},
		{"runtime reads environment files", func(tmpl cfn) {
			statementBySid(tmpl, "ProcessorFunctionRole", "WriteSessionEnvironmentFiles")["Action"] = []any{"s3:PutObject", "s3:DeleteObject", "s3:GetObject"}
		}, runtimeAccessDiffs, `ProcessorFunctionRole access: unexpected "s3:GetObject ${SessionEnvBucket.Arn}/session-env/*"`},
		{"execution role reads the whole bucket", func(tmpl cfn) {
			statementBySid(tmpl, sessionExecutionRole, "ReadSessionEnvironmentFiles")["Resource"] = cfn{"Fn::Sub": "${SessionEnvBucket.Arn}/*"}
		}, runtimeAccessDiffs, `SessionExecutionRole access: unexpected "s3:GetObject ${SessionEnvBucket.Arn}/*"`},
		{"execution role decrypts outside S3", func(tmpl cfn) {
			delete(statementBySid(tmpl, sessionExecutionRole, "DecryptSessionEnvironmentFiles"), "Condition")
		},
			runtimeAccessDiffs, `SessionExecutionRole access: unexpected "kms:Decrypt ${SessionEnvKey.Arn}"`},
		{"session task role mounts without an access point", func(tmpl cfn) {
			delete(statementBySid(tmpl, sessionTaskRole, "MountHomesThroughAccessPoints"), "Condition")
		}, runtimeAccessDiffs, `SessionTaskRole access: unexpected "elasticfilesystem:ClientMount ${SessionFileSystem.Arn}"`},
		{"session task role gains root access", func(tmpl cfn) {
			addAction := statementBySid(tmpl, sessionTaskRole, "MountHomesThroughAccessPoints")
			addAction["Action"] = append(asList(addAction["Action"]), "elasticfilesystem:ClientRootAccess")
		}, runtimeAccessDiffs, `SessionTaskRole access: unexpected "elasticfilesystem:ClientRootAccess`},
		{"ECS_CLUSTER missing", func(tmpl cfn) { delete(envVars(tmpl, runtimeFunction), "ECS_CLUSTER") },
			runtimeConfigDiffs, "ProcessorFunction: environment lacks ECS_CLUSTER"},
		{"environment files in another bucket", func(tmpl cfn) {
			envVars(tmpl, runtimeFunction)["SESSION_ENV_BUCKET_ARN"] = cfn{"Fn::GetAtt": []any{recordingsBucket, "Arn"}}
		}, runtimeConfigDiffs, "ProcessorFunction: environment SESSION_ENV_BUCKET_ARN = ${RecordingsBucket.Arn}"},
		{"task events get a runtime variable", func(tmpl cfn) { envVars(tmpl, taskEventsFunction)["STREAMING_PORT"] = "3000" },
			runtimeConfigDiffs, "TaskEventsFunction: unexpected runtime variable STREAMING_PORT"},
		{"streaming ingress parameter back", func(tmpl cfn) {
			asMap(tmpl["Parameters"])["StreamingIngressCidr"] = cfn{"Type": "String", "Default": "0.0.0.0/0"}
		}, runtimeConfigDiffs, "parameter StreamingIngressCidr is back"},
		{"family prefix drifts from the IAM pattern", func(tmpl cfn) { envVars(tmpl, runtimeFunction)["ECS_FAMILY_PREFIX"] = "sessions" },
			runtimeConfigDiffs, "ECS_FAMILY_PREFIX"},
		{"public IP switch takes any string", func(tmpl cfn) {
			delete(asMap(get(tmpl, "Parameters", "SessionAssignPublicIp")), "AllowedValues")
		}, runtimeConfigDiffs, "parameter SessionAssignPublicIp: AllowedValues"},
		{"CPU architecture typo", func(tmpl cfn) {
			asMap(get(tmpl, "Parameters", "SessionCpuArchitecture"))["AllowedValues"] = []any{"X86_64", "ARM"}
		}, runtimeConfigDiffs, "parameter SessionCpuArchitecture: AllowedValues"},
		{"rule for every cluster", func(tmpl cfn) {
			delete(asMap(get(props(tmpl, taskStateChangeRule), "EventPattern", "detail")), "clusterArn")
		}, taskEventRuleDiffs, "EventPattern"},
		{"rule without dead letters", func(tmpl cfn) {
			delete(asMap(asList(props(tmpl, taskStateChangeRule)["Targets"])[0]), "DeadLetterConfig")
		}, taskEventRuleDiffs, "DeadLetterConfig"},
		{"queue policy for any sender", func(tmpl cfn) {
			delete(statementsOf(props(tmpl, "TaskEventsDeadLetterQueuePolicy")["PolicyDocument"])[0], "Condition")
		}, taskEventRuleDiffs, "no queue policy lets events.amazonaws.com send"},
		{"task events never retried", func(tmpl cfn) {
			props(tmpl, "TaskEventsFunctionEventInvokeConfig")["MaximumRetryAttempts"] = float64(0)
		}, taskEventRuleDiffs, "want 2 retries"},
		{"task events rule also on a schedule", func(tmpl cfn) {
			props(tmpl, taskStateChangeRule)["ScheduleExpression"] = "rate(1 minute)"
		}, taskEventRuleDiffs, "want an enabled event-pattern rule"},
		{"processor mapping filters out all but sessions (the auditor reads every record)", func(tmpl cfn) {
			runtimeMapping(tmpl)["FilterCriteria"] = cfn{"Filters": []any{cfn{"Pattern": `{"dynamodb":{"Keys":{"SK":{"S":["META"]}}}}`}}}
		}, streamConsumerDiffs, "stream mapping settings differ"},
		{"runtime mapping without bisection", func(tmpl cfn) { runtimeMapping(tmpl)["BisectBatchOnFunctionError"] = false },
			streamConsumerDiffs, "BisectBatchOnFunctionError"},
		{"task events DLQ alarm missing", func(tmpl cfn) { delete(resources(tmpl), "TaskEventsDeadLetterQueueAlarm") },
			alarmDiffs, "TaskEventsDeadLetterQueue has ApproximateNumberOfMessagesVisible alarms [], want exactly one"},
		{"processor IteratorAge alarm missing", func(tmpl cfn) { delete(resources(tmpl), "ProcessorFunctionIteratorAgeAlarm") },
			alarmDiffs, "ProcessorFunction has IteratorAge alarms [], want exactly one"},
		{"VNC open to the internet", func(tmpl cfn) {
			r := asMap(asList(props(tmpl, sessionSG)["SecurityGroupIngress"])[0])
			delete(r, "SourceSecurityGroupId")
			r["CidrIp"] = "0.0.0.0/0"
		}, sessionNetworkDiffs, `SessionSecurityGroup ingress: unexpected "tcp 5900-5900 0.0.0.0/0"`},
		{"VNC open to the load balancer", func(tmpl cfn) {
			asMap(asList(props(tmpl, sessionSG)["SecurityGroupIngress"])[0])["SourceSecurityGroupId"] = cfn{"Ref": gatewayLBSG}
		}, sessionNetworkDiffs, `SessionSecurityGroup ingress: unexpected "tcp 5900-5900 ${GatewayLoadBalancerSecurityGroup}"`},
		{"SSH opened on session tasks", func(tmpl cfn) {
			p := props(tmpl, sessionSG)
			p["SecurityGroupIngress"] = append(asList(p["SecurityGroupIngress"]), cfn{"IpProtocol": "tcp", "FromPort": float64(22), "ToPort": float64(22), "CidrIp": "0.0.0.0/0"})
		}, sessionNetworkDiffs, `unexpected "tcp 22-22 0.0.0.0/0"`},
		{"NFS open to the VPC", func(tmpl cfn) {
			r := asMap(asList(props(tmpl, sessionFileSystemSG)["SecurityGroupIngress"])[0])
			delete(r, "SourceSecurityGroupId")
			r["CidrIp"] = "10.80.0.0/16"
		}, sessionNetworkDiffs, `unexpected "tcp 2049-2049 10.80.0.0/16"`},
		{"homes unencrypted", func(tmpl cfn) { props(tmpl, sessionFileSystem)["Encrypted"] = false },
			sessionNetworkDiffs, "SessionFileSystem must be Encrypted"},
		{"homes deleted with the stack", func(tmpl cfn) { asMap(resources(tmpl)[sessionFileSystem])["DeletionPolicy"] = "Delete" },
			sessionNetworkDiffs, "SessionFileSystem: DeletionPolicy"},
		{"one mount target", func(tmpl cfn) { delete(resources(tmpl), "SessionMountTargetB") },
			sessionNetworkDiffs, "want two different ones"},
		{"VPC created even with SessionVpcId", func(tmpl cfn) { delete(asMap(resources(tmpl)["SessionVpc"]), "Condition") },
			sessionNetworkDiffs, "SessionVpc (AWS::EC2::VPC) must have Condition CreateSessionNetwork"},
		{"session log group kept forever", func(tmpl cfn) { delete(props(tmpl, sessionLogGroup), "RetentionInDays") },
			sessionNetworkDiffs, "SessionLogGroup: RetentionInDays"},
	}
	runDrift(t, cases)
}

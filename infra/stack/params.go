package stack

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// The template's parameters and conditions, under the names template.yaml uses: `cdk deploy
// --parameters Name=Value` and `sam deploy --parameter-overrides Name=Value` take the same
// settings. (Context values would be resolved at synth time; parameters keep the CDK template a
// deploy-time configurable artifact, like the SAM one.)

type parameters struct {
	StageName, CorsAllowedOrigins, CreateUserPool, JwtIssuer, JwtAudience, JwksUrl          awscdk.CfnParameter
	JwtRoleClaim, BootstrapAdmins, UserMaxSessions, UserMaxCpuMillis, UserMaxMemoryMiB      awscdk.CfnParameter
	UsageRetentionDays, ActivityRetentionDays, RecordingsMaxRetentionDays, LogRetentionDays awscdk.CfnParameter
	AutoHibernateIdleSessions, AlarmEmail                                                   awscdk.CfnParameter
	// Session runtime (ECS Fargate; docs/runtime.md)
	SessionVpcId, SessionSubnetId1, SessionSubnetId2, SessionAssignPublicIp, StreamingPort awscdk.CfnParameter
	StreamingIngressCidr, SessionCpuArchitecture                                           awscdk.CfnParameter

	CreateUserPoolCond, HasAlarmEmail awscdk.CfnCondition
}

// logRetentionDays are the values CloudWatch Logs accepts.
var logRetentionDays = []float64{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func newParameters(s awscdk.Stack) *parameters {
	str := func(id, def, desc string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(s, jsii.String(id), &awscdk.CfnParameterProps{
			Type: jsii.String("String"), Default: jsii.String(def), Description: jsii.String(desc)})
	}
	num := func(id string, def, min, max float64, desc string) awscdk.CfnParameter {
		p := &awscdk.CfnParameterProps{Type: jsii.String("Number"), Default: jsii.Number(def),
			MinValue: jsii.Number(min), Description: jsii.String(desc)}
		if max > 0 {
			p.MaxValue = jsii.Number(max)
		}
		return awscdk.NewCfnParameter(s, jsii.String(id), p)
	}
	boolean := func(id, desc string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(s, jsii.String(id), &awscdk.CfnParameterProps{
			Type: jsii.String("String"), Default: jsii.String("true"),
			AllowedValues: jsii.Strings("true", "false"), Description: jsii.String(desc)})
	}
	p := &parameters{}
	p.StageName = awscdk.NewCfnParameter(s, jsii.String("StageName"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: jsii.String("prod"), AllowedPattern: jsii.String("^[A-Za-z0-9_-]{1,64}$"),
		Description: jsii.String("Stage name of the WebSocket API (also part of its wss:// URL and management endpoint)."),
	})
	p.CorsAllowedOrigins = awscdk.NewCfnParameter(s, jsii.String("CorsAllowedOrigins"), &awscdk.CfnParameterProps{
		Type: jsii.String("CommaDelimitedList"), Default: jsii.String("*"),
		Description: jsii.String(`Origins allowed to call the HTTP API from a browser, comma separated (e.g. https://app.example.com,https://admin.example.com). "*" allows any origin; credentials travel in the Authorization / X-API-Key headers, never in cookies.`),
	})
	p.CreateUserPool = boolean("CreateUserPool", `Whether the stack creates its own Cognito user pool (groups admin and operator, one public app client) and points the functions' JWT settings at it. "false": bring your own OIDC provider through JwtIssuer, JwtAudience and JwksUrl.`)
	p.JwtIssuer = str("JwtIssuer", "", `Expected "iss" of OIDC tokens (e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>). Only used when CreateUserPool is "false".`)
	p.JwtAudience = str("JwtAudience", "", `Expected "aud" (or Cognito "client_id") of OIDC tokens. Only used when CreateUserPool is "false".`)
	p.JwksUrl = str("JwksUrl", "", `URL of the issuer's JWKS (e.g. <issuer>/.well-known/jwks.json). Only used when CreateUserPool is "false".`)
	p.JwtRoleClaim = str("JwtRoleClaim", "cognito:groups", "Token claim that carries the platform role (admin, operator, user).")
	p.BootstrapAdmins = str("BootstrapAdmins", "", "Comma-separated user ids (JWT sub) or e-mail addresses that are always admins.")
	p.UserMaxSessions = num("UserMaxSessions", 5, 1, 0, "Per-user limit of live sessions.")
	p.UserMaxCpuMillis = num("UserMaxCpuMillis", 16000, 1, 0, "Per-user limit of CPU over live sessions, in millicores.")
	p.UserMaxMemoryMiB = num("UserMaxMemoryMiB", 32768, 1, 0, "Per-user limit of memory over live sessions, in MiB.")
	p.UsageRetentionDays = num("UsageRetentionDays", 90, 1, 3650, "How long API-key usage records are kept (DynamoDB TTL), in days.")
	p.ActivityRetentionDays = num("ActivityRetentionDays", 90, 1, 3650, "How long session activity records are kept (DynamoDB TTL), in days.")
	p.RecordingsMaxRetentionDays = num("RecordingsMaxRetentionDays", 365, 1, 3650, "Longest a session recording object is kept in the recordings bucket, in days (S3 lifecycle expiration of every object in the bucket, whatever its metadata says).")
	retention := make([]*string, len(logRetentionDays))
	for i, d := range logRetentionDays {
		retention[i] = jsii.String(strconv.FormatFloat(d, 'f', -1, 64))
	}
	p.LogRetentionDays = awscdk.NewCfnParameter(s, jsii.String("LogRetentionDays"), &awscdk.CfnParameterProps{
		// The default as text, like the allowed values (CloudFormation passes parameters as text).
		Type: jsii.String("Number"), Default: jsii.String("30"), AllowedValues: &retention,
		Description: jsii.String("Retention of the functions' CloudWatch log groups, in days."),
	})
	p.AutoHibernateIdleSessions = boolean("AutoHibernateIdleSessions", `Whether the scheduler asks running sessions to hibernate once they turn idle ("false": it only marks them idle).`)
	p.AlarmEmail = str("AlarmEmail", "", "E-mail address subscribed to the alarm topic (AlarmTopic); empty for none. The address must confirm the subscription before it receives anything.")

	pattern := func(id, def, pat, desc string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(s, jsii.String(id), &awscdk.CfnParameterProps{
			Type: jsii.String("String"), Default: jsii.String(def), AllowedPattern: jsii.String(pat), Description: jsii.String(desc)})
	}
	oneOf := func(id, desc string, values ...string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(s, jsii.String(id), &awscdk.CfnParameterProps{
			Type: jsii.String("String"), Default: jsii.String(values[0]), AllowedValues: jsii.Strings(values...), Description: jsii.String(desc)})
	}
	p.SessionVpcId = pattern("SessionVpcId", "", "^(vpc-[0-9a-f]+)?$", "VPC of the session tasks. Empty (the default): the stack creates a small VPC of its own (two public subnets in two availability zones, an internet gateway, no NAT). Set it together with SessionSubnetId1 and SessionSubnetId2 to use a VPC you already have.")
	p.SessionSubnetId1 = pattern("SessionSubnetId1", "", "^(subnet-[0-9a-f]+)?$", "First subnet of SessionVpcId for session tasks (only used when SessionVpcId is set). SessionSubnetId1 and SessionSubnetId2 must be in two different availability zones: the homes' EFS file system gets one mount target in each. With SessionAssignPublicIp ENABLED they must route to an internet gateway; with DISABLED they need a NAT gateway (or VPC endpoints) to pull images.")
	p.SessionSubnetId2 = pattern("SessionSubnetId2", "", "^(subnet-[0-9a-f]+)?$", "Second subnet of SessionVpcId for session tasks (see SessionSubnetId1).")
	p.SessionAssignPublicIp = oneOf("SessionAssignPublicIp", "Whether each session task gets a public IPv4 address (its streaming URL then points at it). DISABLED: the URL uses the task's private address, reachable only from inside the VPC (a VPN, a peered network or your own load balancer).", "ENABLED", "DISABLED")
	p.StreamingPort = num("StreamingPort", 3000, 1024, 65535, "TCP port on which a session image serves its web client over HTTP (3000 is the LinuxServer.io images' default; the task also receives it as CUSTOM_PORT and STREAMSPACE_PORT).")
	p.StreamingIngressCidr = pattern("StreamingIngressCidr", "0.0.0.0/0", `^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$`, "IPv4 range allowed to reach the sessions' streaming port (the only port open on a session task). 0.0.0.0/0 lets any browser in, guarded by the session's streaming password; narrow it to your office or VPN range when you can.")
	p.SessionCpuArchitecture = oneOf("SessionCpuArchitecture", "CPU architecture of the session tasks. ARM64 (Graviton) costs about 20% less; every template image must then have an arm64 variant (the LinuxServer.io images do).", "X86_64", "ARM64")

	// An existing VPC needs its two subnets (the EFS mount targets and the tasks go there).
	notEmpty := func(param awscdk.CfnParameter) awscdk.ICfnConditionExpression {
		return awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(param.ValueAsString(), jsii.String("")))
	}
	awscdk.NewCfnRule(s, jsii.String("ExistingSessionNetwork"), &awscdk.CfnRuleProps{
		RuleCondition: notEmpty(p.SessionVpcId),
		Assertions: &[]*awscdk.CfnRuleAssertion{
			{Assert: notEmpty(p.SessionSubnetId1), AssertDescription: jsii.String("SessionSubnetId1 is required when SessionVpcId is set")},
			{Assert: notEmpty(p.SessionSubnetId2), AssertDescription: jsii.String("SessionSubnetId2 is required when SessionVpcId is set")},
		},
	})

	// Condition and parameter share the name CreateUserPool in template.yaml; construct ids must
	// differ, logical ids may not.
	p.CreateUserPoolCond = awscdk.NewCfnCondition(s, jsii.String("CreateUserPoolCondition"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(p.CreateUserPool.ValueAsString(), jsii.String("true")),
	})
	p.CreateUserPoolCond.OverrideLogicalId(jsii.String("CreateUserPool"))
	p.HasAlarmEmail = awscdk.NewCfnCondition(s, jsii.String("HasAlarmEmail"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.AlarmEmail.ValueAsString(), jsii.String(""))),
	})
	return p
}

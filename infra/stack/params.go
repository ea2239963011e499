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
	SelfSignUpEmailDomains                                                                  awscdk.CfnParameter
	UsageRetentionDays, ActivityRetentionDays, RecordingsMaxRetentionDays, LogRetentionDays awscdk.CfnParameter
	AutoHibernateIdleSessions, AlarmEmail                                                   awscdk.CfnParameter
	// Abuse limits (SEC-09) and tracing (deploy finding 7)
	HttpApiThrottlingRateLimit, HttpApiThrottlingBurstLimit, StreamConsumerReservedConcurrency, Tracing awscdk.CfnParameter
	TableCapacityMode, ProvisionedCapacityMin, ProvisionedCapacityMax                                   awscdk.CfnParameter
	// Session runtime (ECS Fargate; docs/runtime.md)
	SessionVpcId, SessionSubnetId1, SessionSubnetId2, SessionAssignPublicIp, SessionCpuArchitecture awscdk.CfnParameter
	GatewayLoadBalancerSubnetId1, GatewayLoadBalancerSubnetId2                                      awscdk.CfnParameter
	// Streaming gateway (ECS Fargate service behind CloudFront; docs/runtime.md)
	GatewayImageUri, GatewayCpuArchitecture, GatewayMaxTasks, GatewayConnectionsAlarmThreshold awscdk.CfnParameter
	PublicDomainName, PublicCertificateArn, CloudFrontPrefixListId                             awscdk.CfnParameter
	// The console's address for the user pool's sign-in redirects (without PublicDomainName)
	ConsoleHostName awscdk.CfnParameter

	CreateUserPoolCond, HasAlarmEmail, HasPublicDomain, HasCloudFrontPrefixListId, ReserveConcurrency awscdk.CfnCondition
	ProvisionedTables                                                                                 awscdk.CfnCondition
	AllowSelfSignUp, HasConsoleSignIn                                                                 awscdk.CfnCondition
	// PrefixListIds is CloudFrontOriginFacingPrefixList (region → PrefixListId).
	PrefixListIds awscdk.CfnMapping
}

// cloudFrontOriginFacing is the id of the managed prefix list
// com.amazonaws.global.cloudfront.origin-facing per region: CloudFormation cannot look a prefix
// list up by name, and the id differs per region (CloudFrontPrefixListId overrides).
var cloudFrontOriginFacing = []struct{ region, id string }{
	{"us-east-1", "pl-3b927c52"}, {"us-east-2", "pl-b6a144df"}, {"us-west-1", "pl-4ea04527"}, {"us-west-2", "pl-82a045eb"},
	{"eu-west-1", "pl-4fa04526"}, {"eu-west-2", "pl-93a247fa"}, {"eu-central-1", "pl-a3a144ca"},
	{"ap-southeast-1", "pl-31a34658"}, {"ap-southeast-2", "pl-b8a742d1"}, {"ap-northeast-1", "pl-58a04531"},
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
	p.SelfSignUpEmailDomains = awscdk.NewCfnParameter(s, jsii.String("SelfSignUpEmailDomains"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: jsii.String(""), AllowedPattern: jsii.String("^([A-Za-z0-9.-]+([, ]+[A-Za-z0-9.-]+)*)?$"),
		Description: jsii.String("Empty (the default): no self sign-up; administrators create the users of the stack's user pool. A comma-separated list of e-mail domains (e.g. example.com,example.org): anyone may sign up with an address in one of them (exactly that domain, not its subdomains), checked by the pool's PreSignUp trigger (PresignupFunction). Only with CreateUserPool."),
	})
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
	p.HttpApiThrottlingRateLimit = num("HttpApiThrottlingRateLimit", 100, 1, 0, "Steady-state requests per second the HTTP API stage admits over all clients (default route throttling, SEC-09); above it API Gateway answers 429 without invoking any function.")
	p.HttpApiThrottlingBurstLimit = num("HttpApiThrottlingBurstLimit", 200, 1, 0, "Burst of requests the HTTP API stage admits above HttpApiThrottlingRateLimit (token bucket size).")
	p.TableCapacityMode = awscdk.NewCfnParameter(s, jsii.String("TableCapacityMode"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: jsii.String("OnDemand"), AllowedValues: jsii.Strings("OnDemand", "Provisioned"),
		Description: jsii.String("How the Main and Audit tables pay for reads and writes. OnDemand: per request, nothing to plan (the default; right for small or spiky use). Provisioned: capacity per table and index, kept at 70% utilisation by auto scaling between ProvisionedCapacityMin and ProvisionedCapacityMax; about 60% cheaper per unit at steady traffic (docs/cost.md), but capacity costs while idle and a sudden burst may be throttled until scaling catches up. A table can switch mode once per 24 hours."),
	})
	p.ProvisionedCapacityMin = num("ProvisionedCapacityMin", 5, 1, 0, "With TableCapacityMode=Provisioned, the least read and write capacity units of each table and index.")
	p.ProvisionedCapacityMax = num("ProvisionedCapacityMax", 1000, 1, 0, "With TableCapacityMode=Provisioned, the most read and write capacity units auto scaling gives each table and index.")
	p.StreamConsumerReservedConcurrency = awscdk.NewCfnParameter(s, jsii.String("StreamConsumerReservedConcurrency"), &awscdk.CfnParameterProps{
		Type: jsii.String("Number"), Default: jsii.Number(5), MinValue: jsii.Number(0), MaxValue: jsii.Number(1000),
		Description: jsii.String("Concurrency reserved for each main-table stream reader (notifier, processor), so an HTTP flood can never starve them (SEC-09); the scheduler then gets 1, so its ticks never overlap. Lambda keeps at least 100 unreserved: the account's concurrency quota must be at least 100 + 2 x this + 1. 0: no reservations (a new account whose quota is still 10)."),
	})
	p.Tracing = awscdk.NewCfnParameter(s, jsii.String("Tracing"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), Default: jsii.String("PassThrough"), AllowedValues: jsii.Strings("PassThrough", "Active"),
		Description: jsii.String(`X-Ray tracing of the functions. Active traces about every request at low volume (Lambda samples 1 request per second plus 5 % of the rest) and is billed per trace (docs/deploy.md "Tracing"); PassThrough (the default) records none.`),
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
	p.SessionAssignPublicIp = oneOf("SessionAssignPublicIp", "Whether session and gateway tasks get a public IPv4 address, for their outbound traffic only (image pulls, AWS APIs, what a desktop browses): no security group admits anything from the internet. DISABLED: the subnets need a NAT gateway or VPC endpoints instead.", "ENABLED", "DISABLED")
	p.SessionCpuArchitecture = oneOf("SessionCpuArchitecture", "CPU architecture of the session tasks. ARM64 (Graviton) costs about 20% less; every template image must then have an arm64 variant (the LinuxServer.io images do).", "X86_64", "ARM64")
	p.GatewayLoadBalancerSubnetId1 = pattern("GatewayLoadBalancerSubnetId1", "", "^(subnet-[0-9a-f]+)?$", "First private subnet of SessionVpcId for the gateway's internal load balancer (only used when SessionVpcId is set; then both are required, in two availability zones CloudFront VPC origins support). Without SessionVpcId the stack creates two.")
	p.GatewayLoadBalancerSubnetId2 = pattern("GatewayLoadBalancerSubnetId2", "", "^(subnet-[0-9a-f]+)?$", "Second private subnet for the gateway's load balancer (see GatewayLoadBalancerSubnetId1).")

	// No default: the gateway runs the image `make images` pushed.
	p.GatewayImageUri = awscdk.NewCfnParameter(s, jsii.String("GatewayImageUri"), &awscdk.CfnParameterProps{
		Type: jsii.String("String"), AllowedPattern: jsii.String(`^[^\s]+$`),
		Description: jsii.String("Container image of the streaming gateway (cmd/gateway), e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/streamspace-gateway:<tag>, as `make images` pushes it. Push the images before deploying."),
	})
	p.GatewayCpuArchitecture = oneOf("GatewayCpuArchitecture", "CPU architecture of the gateway tasks; it must match the gateway image.", "X86_64", "ARM64")
	p.GatewayMaxTasks = num("GatewayMaxTasks", 10, 2, 100, "Most gateway tasks autoscaling may run (at least 2 always run, one per availability zone).")
	p.GatewayConnectionsAlarmThreshold = num("GatewayConnectionsAlarmThreshold", 4000, 1, 0, "Active TCP connections of the gateway's load balancer (viewer side and gateway side, so about two per open stream) above which an alarm fires.")
	p.PublicDomainName = pattern("PublicDomainName", "", `^(([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9])?$`, "Optional domain of the stack's one public origin (e.g. streamspace.example.com: the console, /api/*, the WebSocket and /gateway/*), an alias of its CloudFront distribution; needs PublicCertificateArn. Empty: the distribution's own *.cloudfront.net name and certificate.")
	p.PublicCertificateArn = pattern("PublicCertificateArn", "", "^(arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[0-9a-f-]+)?$", "ACM certificate for PublicDomainName, issued in us-east-1 (CloudFront's region for certificates). Only with PublicDomainName.")
	p.ConsoleHostName = pattern("ConsoleHostName", "", `^(([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9])?$`, "Without PublicDomainName: the console's host name for the user pool's sign-in redirects, the DistributionDomainName output of a first deploy (deploy again with it). The app client cannot name the distribution itself: the functions read the client's id, and the distribution routes to their API (a cycle). Empty with PublicDomainName, or with CreateUserPool \"false\".")
	p.CloudFrontPrefixListId = pattern("CloudFrontPrefixListId", "", "^(pl-[0-9a-f]+)?$", "Id of the managed prefix list com.amazonaws.global.cloudfront.origin-facing in this region (aws ec2 describe-managed-prefix-lists). Empty: the stack's own table of regions (CloudFrontOriginFacingPrefixList); required in a region that table lacks.")

	// An existing VPC needs its two subnets (the EFS mount targets and the tasks go there) and two
	// private ones for the gateway's load balancer.
	notEmpty := func(param awscdk.CfnParameter) awscdk.ICfnConditionExpression {
		return awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(param.ValueAsString(), jsii.String("")))
	}
	required := func(param awscdk.CfnParameter, name string) *awscdk.CfnRuleAssertion {
		return &awscdk.CfnRuleAssertion{Assert: notEmpty(param), AssertDescription: jsii.String(name + " is required when SessionVpcId is set")}
	}
	awscdk.NewCfnRule(s, jsii.String("ExistingSessionNetwork"), &awscdk.CfnRuleProps{
		RuleCondition: notEmpty(p.SessionVpcId),
		Assertions: &[]*awscdk.CfnRuleAssertion{
			required(p.SessionSubnetId1, "SessionSubnetId1"), required(p.SessionSubnetId2, "SessionSubnetId2"),
			required(p.GatewayLoadBalancerSubnetId1, "GatewayLoadBalancerSubnetId1"), required(p.GatewayLoadBalancerSubnetId2, "GatewayLoadBalancerSubnetId2"),
		},
	})
	// A custom domain needs its certificate, and a certificate is only used with its domain.
	awscdk.NewCfnRule(s, jsii.String("PublicDomain"), &awscdk.CfnRuleProps{
		RuleCondition: awscdk.Fn_ConditionOr(notEmpty(p.PublicDomainName), notEmpty(p.PublicCertificateArn)),
		Assertions: &[]*awscdk.CfnRuleAssertion{
			{Assert: notEmpty(p.PublicDomainName), AssertDescription: jsii.String("PublicCertificateArn is set but PublicDomainName is empty")},
			{Assert: notEmpty(p.PublicCertificateArn), AssertDescription: jsii.String("PublicDomainName needs PublicCertificateArn (an ACM certificate in us-east-1)")},
		},
	})
	// Without CloudFrontPrefixListId the region must be in CloudFrontOriginFacingPrefixList.
	mapping := map[string]*map[string]any{}
	regions := make([]*string, len(cloudFrontOriginFacing))
	for i, r := range cloudFrontOriginFacing {
		mapping[r.region] = &map[string]any{"PrefixListId": r.id}
		regions[i] = jsii.String(r.region)
	}
	awscdk.NewCfnRule(s, jsii.String("CloudFrontPrefixListKnown"), &awscdk.CfnRuleProps{
		RuleCondition: awscdk.Fn_ConditionEquals(p.CloudFrontPrefixListId.ValueAsString(), jsii.String("")),
		Assertions: &[]*awscdk.CfnRuleAssertion{{
			Assert:            awscdk.Fn_ConditionContains(&regions, awscdk.Aws_REGION()),
			AssertDescription: jsii.String("set CloudFrontPrefixListId to this region's com.amazonaws.global.cloudfront.origin-facing prefix list (aws ec2 describe-managed-prefix-lists)"),
		}},
	})
	p.PrefixListIds = awscdk.NewCfnMapping(s, jsii.String("CloudFrontOriginFacingPrefixList"), &awscdk.CfnMappingProps{Mapping: &mapping})

	// Condition and parameter share the name CreateUserPool in template.yaml; construct ids must
	// differ, logical ids may not.
	p.CreateUserPoolCond = awscdk.NewCfnCondition(s, jsii.String("CreateUserPoolCondition"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(p.CreateUserPool.ValueAsString(), jsii.String("true")),
	})
	p.CreateUserPoolCond.OverrideLogicalId(jsii.String("CreateUserPool"))
	p.HasAlarmEmail = awscdk.NewCfnCondition(s, jsii.String("HasAlarmEmail"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.AlarmEmail.ValueAsString(), jsii.String(""))),
	})
	p.HasPublicDomain = awscdk.NewCfnCondition(s, jsii.String("HasPublicDomain"), &awscdk.CfnConditionProps{Expression: notEmpty(p.PublicDomainName)})
	p.HasCloudFrontPrefixListId = awscdk.NewCfnCondition(s, jsii.String("HasCloudFrontPrefixListId"), &awscdk.CfnConditionProps{
		Expression: notEmpty(p.CloudFrontPrefixListId),
	})
	// Self sign-up only with the stack's pool and an allow-list of e-mail domains (SEC-05).
	p.AllowSelfSignUp = awscdk.NewCfnCondition(s, jsii.String("AllowSelfSignUp"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionAnd(p.CreateUserPoolCond,
			awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.SelfSignUpEmailDomains.ValueAsString(), jsii.String("")))),
	})
	// The Main and Audit tables on provisioned capacity with auto scaling (TableCapacityMode).
	p.ProvisionedTables = awscdk.NewCfnCondition(s, jsii.String("ProvisionedTables"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(p.TableCapacityMode.ValueAsString(), jsii.String("Provisioned")),
	})
	// The console signs in through the pool's hosted UI once its address is known.
	p.HasConsoleSignIn = awscdk.NewCfnCondition(s, jsii.String("HasConsoleSignIn"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionAnd(p.CreateUserPoolCond, awscdk.Fn_ConditionOr(p.HasPublicDomain, notEmpty(p.ConsoleHostName))),
	})
	p.ReserveConcurrency = awscdk.NewCfnCondition(s, jsii.String("ReserveConcurrency"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.StreamConsumerReservedConcurrency.ValueAsString(), jsii.String("0"))),
	})
	return p
}

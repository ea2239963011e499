package infratest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"streamspace/internal/tickets"
)

// The streaming gateway (docs/runtime.md, "The streaming gateway"): an ECS Fargate service behind
// an internal load balancer that CloudFront reaches through a VPC origin; the session secrets'
// environment files and the stream tickets' keyring.
const (
	gatewayService        = "GatewayService"
	gatewayCluster        = "GatewayCluster"
	gatewayTaskDefinition = "GatewayTaskDefinition"
	gatewayExecutionRole  = "GatewayExecutionRole"
	gatewayTaskRole       = "GatewayTaskRole"
	gatewayLogGroup       = "GatewayLogGroup"
	gatewaySG             = "GatewaySecurityGroup"
	gatewayLB             = "GatewayLoadBalancer"
	gatewayLBSG           = "GatewayLoadBalancerSecurityGroup"
	gatewayTargetGroup    = "GatewayTargetGroup"
	gatewayListener       = "GatewayListener"
	distributionID        = "Distribution"
	gatewayVpcOrigin      = "GatewayVpcOrigin"
	gatewayOriginPolicy   = "GatewayOriginRequestPolicy"
	gatewayScalableTarget = "GatewayScalableTarget"
	ticketKeysSecret      = "TicketKeysSecret"
	ticketKeySeed         = "TicketKeySeed"
	gatewayContainer      = "gateway"
	gatewayPort           = 8080

	// CloudFront's managed cache and origin request policies.
	cachingDisabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	cachingOptimized          = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	allViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

// gatewayURL is GATEWAY_URL wherever it is set: the custom domain if given, else the
// distribution's own name, with the gateway's path prefix.
var gatewayURL = cfn{"Fn::If": []any{"HasPublicDomain",
	cfn{"Fn::Sub": "https://${PublicDomainName}/gateway"},
	cfn{"Fn::Sub": "https://${Distribution.DomainName}/gateway"}}}

// sessionsGatewayURL is the sessions function's: relative to the origin the caller used unless
// the stack has a domain of its own.
var sessionsGatewayURL = cfn{"Fn::If": []any{"HasPublicDomain", cfn{"Fn::Sub": "https://${PublicDomainName}/gateway"}, "/gateway"}}

// wantGatewayEnv is the gateway container's environment (the contract in
// notes/gateway-contract.md; table names as ddb.NamesFromEnv reads them), as arnText writes
// the values. GATEWAY_ID is left to each task.
var wantGatewayEnv = map[string]string{
	"GATEWAY_ADDR":                  ":8080",
	"GATEWAY_URL":                   arnText(gatewayURL),
	"TABLE_NAME":                    "${MainTable}",
	"CONNECTIONS_TABLE_NAME":        "${ConnectionsTable}",
	"AUDIT_TABLE_NAME":              "${AuditTable}",
	"ACTIVITY_RETENTION_DAYS":       "${ActivityRetentionDays}",
	"TICKET_KEYS_SECRET_ARN":        "${TicketKeysSecret}",
	"RECORDINGS_BUCKET":             "${RecordingsBucket}",
	"RECORDINGS_MAX_RETENTION_DAYS": "${RecordingsMaxRetentionDays}",
	"NOVNC_DIR":                     "/opt/novnc",
	"BOOTSTRAP_ADMINS":              "${BootstrapAdmins}",
}

// wantRoleAccess is every statement of the gateway's roles, DynamoDB included, as
// "<action> <resource> [<condition>]" (arnText): least privilege for the new identities.
var wantRoleAccess = map[string][]string{
	// Access decisions and connection bookkeeping on MainTable (no Scan, no batch writes);
	// activity into AuditTable (PutItem only); the ticket keyring; recordings under
	// recordings/ only.
	gatewayTaskRole: {
		"dynamodb:BatchGetItem ${MainTable.Arn}", "dynamodb:ConditionCheckItem ${MainTable.Arn}",
		"dynamodb:DeleteItem ${MainTable.Arn}", "dynamodb:GetItem ${MainTable.Arn}", "dynamodb:PutItem ${MainTable.Arn}",
		"dynamodb:Query ${MainTable.Arn}", "dynamodb:UpdateItem ${MainTable.Arn}", "dynamodb:Query ${MainTable.Arn}/index/*",
		"dynamodb:PutItem ${AuditTable.Arn}",
		"secretsmanager:GetSecretValue ${TicketKeysSecret}",
		"s3:PutObject ${RecordingsBucket.Arn}/recordings/*", "s3:GetObject ${RecordingsBucket.Arn}/recordings/*",
		"s3:DeleteObject ${RecordingsBucket.Arn}/recordings/*", "s3:AbortMultipartUpload ${RecordingsBucket.Arn}/recordings/*",
	},
	// ECS pulls the gateway's image and writes its logs; nothing else.
	gatewayExecutionRole: {
		"ecr:GetAuthorizationToken *",
		"ecr:BatchCheckLayerAvailability arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*",
		"ecr:BatchGetImage arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*",
		"ecr:GetDownloadUrlForLayer arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*",
		"logs:CreateLogStream ${GatewayLogGroup.Arn}", "logs:PutLogEvents ${GatewayLogGroup.Arn}",
	},
}

// roleAccess lists every Allow statement of a role as wantRoleAccess writes them.
func roleAccess(tmpl cfn, role string) []string {
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
			for _, r := range resourceList(st.stmt["Resource"]) {
				out = append(out, a+" "+arnText(r)+cond)
			}
		}
	}
	sort.Strings(out)
	return out
}

// secretHolders are, per secret-bearing resource, the only (role, action) pairs any identity
// policy of the template may grant on it: the session environment files are written by the
// runtime and read by the session execution role alone (never a task role: the desktop's own
// identity); the ticket keyring is read by the two programs that sign and verify tickets.
var secretHolders = map[string][]string{
	sessionEnvBucket: {"ProcessorFunctionRole s3:DeleteObject", "ProcessorFunctionRole s3:PutObject",
		sessionExecutionRole + " s3:GetBucketLocation", sessionExecutionRole + " s3:GetObject"},
	sessionEnvKey:    {"ProcessorFunctionRole kms:GenerateDataKey", sessionExecutionRole + " kms:Decrypt"},
	ticketKeysSecret: {"SessionsFunctionRole secretsmanager:GetSecretValue", gatewayTaskRole + " secretsmanager:GetSecretValue"},
	ticketKeySeed:    nil, // only CloudFormation reads it, to build the keyring
}

// gatewayIAMDiffs: the gateway's roles grant exactly wantRoleAccess; only secretHolders reach
// the secrets.
func gatewayIAMDiffs(tmpl cfn) []string {
	var diffs []string
	for _, role := range keys(wantRoleAccess) {
		if str(get(resources(tmpl), role, "Type")) != "AWS::IAM::Role" {
			diffs = append(diffs, role+" is not an AWS::IAM::Role of the template")
			continue
		}
		diffs = append(diffs, diffSets(role+" access", wantRoleAccess[role], roleAccess(tmpl, role))...)
	}
	td := props(tmpl, gatewayTaskDefinition)
	if !slices.Equal(referencedResources(td["TaskRoleArn"]), []string{gatewayTaskRole}) ||
		!slices.Equal(referencedResources(td["ExecutionRoleArn"]), []string{gatewayExecutionRole}) {
		diffs = append(diffs, fmt.Sprintf("%s: roles %v / %v, want %s and %s", gatewayTaskDefinition, td["TaskRoleArn"], td["ExecutionRoleArn"],
			gatewayTaskRole, gatewayExecutionRole))
	}
	got := map[string][]string{}
	for _, st := range iamStatements(tmpl) {
		if str(st.stmt["Effect"]) != "Allow" {
			continue
		}
		for _, target := range referencedResources(st.stmt["Resource"]) {
			if _, watched := secretHolders[target]; !watched {
				continue
			}
			for _, a := range stringsOf(st.stmt["Action"]) {
				if g := st.role + " " + a; !slices.Contains(got[target], g) {
					got[target] = append(got[target], g)
				}
			}
		}
	}
	for _, target := range keys(secretHolders) {
		diffs = append(diffs, diffSets(target+" access", secretHolders[target], got[target])...)
	}
	return diffs
}

func TestGatewayIAM(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "gateway IAM", gatewayIAMDiffs(transformed(t)))
}

// containerEnv is a container definition's environment, values as arnText writes them.
func containerEnv(c any) map[string]string {
	out := map[string]string{}
	for _, kv := range asList(get(c, "Environment")) {
		out[str(get(kv, "Name"))] = arnText(get(kv, "Value"))
	}
	return out
}

// twoSubnets checks a subnet list written as the template does: under CreateSessionNetwork the
// two stack subnets given (which must be in two different zones), else two parameters.
func twoSubnets(tmpl cfn, what string, v any, stack [2]string) []string {
	branches := asList(get(v, "Fn::If"))
	if len(branches) != 3 || str(branches[0]) != createSessionNetwork {
		return []string{fmt.Sprintf("%s: subnets %v, want Fn::If %s", what, v, createSessionNetwork)}
	}
	var diffs []string
	own, other := asList(branches[1]), asList(branches[2])
	if len(own) != 2 || !isRef(own[0], stack[0]) || !isRef(own[1], stack[1]) {
		diffs = append(diffs, fmt.Sprintf("%s: the stack's subnets %v, want %v", what, own, stack))
	}
	if len(other) != 2 || arnText(other[0]) == arnText(other[1]) {
		diffs = append(diffs, fmt.Sprintf("%s: an existing VPC's subnets %v, want two different parameters", what, other))
	}
	zone := func(id string) string { return arnText(get(props(tmpl, id), "AvailabilityZone")) }
	if zone(stack[0]) == zone(stack[1]) {
		diffs = append(diffs, fmt.Sprintf("%s: %s and %s are in the same availability zone %s", what, stack[0], stack[1], zone(stack[0])))
	}
	return diffs
}

// gatewayServiceDiffs: the gateway runs as a Fargate service of at least two tasks in two
// subnets of two zones, on its own cluster, behind the internal load balancer's target group
// (health check /gateway/healthz), scaled by target tracking on CPU and memory; its task
// definition runs GatewayImageUri on 8080 with the contract's environment and logs with
// retention.
func gatewayServiceDiffs(tmpl cfn) []string {
	var diffs []string
	sv := props(tmpl, gatewayService)
	if sv == nil {
		return []string{"no " + gatewayService}
	}
	if str(sv["LaunchType"]) != "FARGATE" || !isRef(sv["Cluster"], gatewayCluster) || !isRef(sv["TaskDefinition"], gatewayTaskDefinition) {
		diffs = append(diffs, fmt.Sprintf("%s: launch type %v cluster %v task definition %v, want FARGATE on %s running %s", gatewayService,
			sv["LaunchType"], sv["Cluster"], sv["TaskDefinition"], gatewayCluster, gatewayTaskDefinition))
	}
	if n, _ := sv["DesiredCount"].(float64); n < 2 {
		diffs = append(diffs, fmt.Sprintf("%s: DesiredCount %v, want at least 2 (one per availability zone)", gatewayService, sv["DesiredCount"]))
	}
	vpc := get(sv, "NetworkConfiguration", "AwsvpcConfiguration")
	diffs = append(diffs, twoSubnets(tmpl, gatewayService, get(vpc, "Subnets"), [2]string{"SessionSubnetA", "SessionSubnetB"})...)
	if sgs := asList(get(vpc, "SecurityGroups")); len(sgs) != 1 || !isRef(sgs[0], gatewaySG) {
		diffs = append(diffs, fmt.Sprintf("%s: security groups %v, want [%s]", gatewayService, sgs, gatewaySG))
	}
	lbs := asList(sv["LoadBalancers"])
	if len(lbs) != 1 || str(get(lbs[0], "ContainerName")) != gatewayContainer || get(lbs[0], "ContainerPort") != float64(gatewayPort) ||
		!isRef(get(lbs[0], "TargetGroupArn"), gatewayTargetGroup) {
		diffs = append(diffs, fmt.Sprintf("%s: load balancers %v, want %s:%d in %s", gatewayService, lbs, gatewayContainer, gatewayPort, gatewayTargetGroup))
	}
	if gatewayCluster == sessionCluster || str(get(resources(tmpl), gatewayCluster, "Type")) != "AWS::ECS::Cluster" {
		diffs = append(diffs, "the gateway needs an ECS cluster of its own (the runtime may stop any session cluster task)")
	}

	td := props(tmpl, gatewayTaskDefinition)
	if !slices.Equal(stringsOf(td["RequiresCompatibilities"]), []string{"FARGATE"}) || str(td["NetworkMode"]) != "awsvpc" {
		diffs = append(diffs, fmt.Sprintf("%s: %v %v, want FARGATE and awsvpc", gatewayTaskDefinition, td["RequiresCompatibilities"], td["NetworkMode"]))
	}
	if fam := arnText(td["Family"]); strings.HasPrefix(fam, "${AWS::StackName}-") {
		diffs = append(diffs, fmt.Sprintf("%s: family %s is in the runtime's RunTask pattern (task-definition/${AWS::StackName}-*)", gatewayTaskDefinition, fam))
	}
	ctrs := asList(td["ContainerDefinitions"])
	if len(ctrs) != 1 {
		return append(diffs, fmt.Sprintf("%s: %d containers, want 1", gatewayTaskDefinition, len(ctrs)))
	}
	ctr := ctrs[0]
	ports := asList(get(ctr, "PortMappings"))
	if str(get(ctr, "Name")) != gatewayContainer || !isRef(get(ctr, "Image"), "GatewayImageUri") || len(ports) != 1 ||
		get(ports[0], "ContainerPort") != float64(gatewayPort) {
		diffs = append(diffs, fmt.Sprintf("%s: container %v image %v ports %v, want %s from GatewayImageUri on %d", gatewayTaskDefinition,
			get(ctr, "Name"), get(ctr, "Image"), ports, gatewayContainer, gatewayPort))
	}
	env := containerEnv(ctr)
	for _, name := range keys(wantGatewayEnv) {
		if env[name] != wantGatewayEnv[name] {
			diffs = append(diffs, fmt.Sprintf("%s: environment %s = %q, want %q", gatewayTaskDefinition, name, env[name], wantGatewayEnv[name]))
		}
	}
	for name := range env {
		if _, ok := wantGatewayEnv[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected environment variable %s", gatewayTaskDefinition, name))
		}
	}
	if len(asList(get(ctr, "Secrets"))) > 0 || len(asList(get(ctr, "EnvironmentFiles"))) > 0 {
		diffs = append(diffs, gatewayTaskDefinition+": the gateway reads its keys from Secrets Manager itself (TICKET_KEYS_SECRET_ARN)")
	}
	logs := get(ctr, "LogConfiguration")
	if str(get(logs, "LogDriver")) != "awslogs" || !isRef(get(logs, "Options", "awslogs-group"), gatewayLogGroup) ||
		!isRef(get(props(tmpl, gatewayLogGroup), "RetentionInDays"), "LogRetentionDays") {
		diffs = append(diffs, fmt.Sprintf("%s: logs %v, want awslogs to %s with RetentionInDays LogRetentionDays", gatewayTaskDefinition, logs, gatewayLogGroup))
	}

	tg := props(tmpl, gatewayTargetGroup)
	if str(tg["TargetType"]) != "ip" || tg["Port"] != float64(gatewayPort) || str(tg["HealthCheckPath"]) != "/gateway/healthz" {
		diffs = append(diffs, fmt.Sprintf("%s: type %v port %v health check %v, want ip targets on %d checked at /gateway/healthz", gatewayTargetGroup,
			tg["TargetType"], tg["Port"], tg["HealthCheckPath"], gatewayPort))
	}

	st := props(tmpl, gatewayScalableTarget)
	if str(st["ServiceNamespace"]) != "ecs" || str(st["ScalableDimension"]) != "ecs:service:DesiredCount" ||
		!slices.Contains(referencedResources(st["ResourceId"]), gatewayService) || !isRef(st["MaxCapacity"], "GatewayMaxTasks") {
		diffs = append(diffs, fmt.Sprintf("%s: %v, want the desired count of %s up to GatewayMaxTasks", gatewayScalableTarget, st, gatewayService))
	}
	if n, _ := st["MinCapacity"].(float64); n < 2 {
		diffs = append(diffs, fmt.Sprintf("%s: MinCapacity %v, want at least 2", gatewayScalableTarget, st["MinCapacity"]))
	}
	var metrics []string
	for _, id := range resourcesOfType(tmpl, "AWS::ApplicationAutoScaling::ScalingPolicy") {
		p := props(tmpl, id)
		if !isRef(p["ScalingTargetId"], gatewayScalableTarget) {
			continue
		}
		if str(p["PolicyType"]) != "TargetTrackingScaling" {
			diffs = append(diffs, fmt.Sprintf("%s: %v, want TargetTrackingScaling", id, p["PolicyType"]))
		}
		metrics = append(metrics, str(get(p, "TargetTrackingScalingPolicyConfiguration", "PredefinedMetricSpecification", "PredefinedMetricType")))
	}
	diffs = append(diffs, diffSets(gatewayScalableTarget+" target tracking", []string{"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"}, metrics)...)
	return diffs
}

func TestGatewayService(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "gateway service", gatewayServiceDiffs(transformed(t)))
}

// gatewayNetworkDiffs: the load balancer is internal, in two private subnets of its own (no
// route out, not the tasks' subnets), admits HTTP from CloudFront's origin-facing prefix list
// only, forwards /gateway/* and answers 404 otherwise; the gateway's tasks admit the load
// balancer alone; no security group of the stack admits the internet.
func gatewayNetworkDiffs(tmpl cfn) []string {
	var diffs []string
	lb := props(tmpl, gatewayLB)
	if str(lb["Scheme"]) != "internal" || str(lb["Type"]) != "application" {
		diffs = append(diffs, fmt.Sprintf("%s: %v %v, want an internal application load balancer", gatewayLB, lb["Scheme"], lb["Type"]))
	}
	if sgs := asList(lb["SecurityGroups"]); len(sgs) != 1 || !isRef(sgs[0], gatewayLBSG) {
		diffs = append(diffs, fmt.Sprintf("%s: security groups %v, want [%s]", gatewayLB, sgs, gatewayLBSG))
	}
	lbSubnets := [2]string{"GatewayLoadBalancerSubnetA", "GatewayLoadBalancerSubnetB"}
	diffs = append(diffs, twoSubnets(tmpl, gatewayLB, lb["Subnets"], lbSubnets)...)
	for _, sn := range lbSubnets {
		for _, id := range resourcesOfType(tmpl, "AWS::EC2::SubnetRouteTableAssociation") {
			p := props(tmpl, id)
			if !isRef(p["SubnetId"], sn) {
				continue
			}
			for _, r := range resourcesOfType(tmpl, "AWS::EC2::Route") {
				if slices.Contains(referencedResources(props(tmpl, r)["RouteTableId"]), str(get(p, "RouteTableId", "Ref"))) {
					diffs = append(diffs, fmt.Sprintf("%s routes out through %s: the load balancer's subnets are private", sn, r))
				}
			}
		}
	}
	diffs = append(diffs, diffSets(gatewaySG+" ingress", []string{fmt.Sprintf("tcp %d-%d ${%s}", gatewayPort, gatewayPort, gatewayLBSG)}, ingressRules(tmpl, gatewaySG))...)
	prefixList := cfn{"Fn::If": []any{"HasCloudFrontPrefixListId", cfn{"Ref": "CloudFrontPrefixListId"},
		cfn{"Fn::FindInMap": []any{"CloudFrontOriginFacingPrefixList", cfn{"Ref": "AWS::Region"}, "PrefixListId"}}}}
	diffs = append(diffs, diffSets(gatewayLBSG+" ingress", []string{"tcp 80-80 " + arnText(prefixList)}, ingressRules(tmpl, gatewayLBSG))...)
	if id := str(get(tmpl, "Mappings", "CloudFrontOriginFacingPrefixList", "us-east-1", "PrefixListId")); id != "pl-3b927c52" {
		diffs = append(diffs, fmt.Sprintf("CloudFrontOriginFacingPrefixList us-east-1 = %q, want pl-3b927c52 (com.amazonaws.global.cloudfront.origin-facing)", id))
	}
	for _, sg := range resourcesOfType(tmpl, "AWS::EC2::SecurityGroup") {
		for _, r := range asList(props(tmpl, sg)["SecurityGroupIngress"]) {
			if c := str(get(r, "CidrIp")); c == "0.0.0.0/0" || str(get(r, "CidrIpv6")) == "::/0" {
				diffs = append(diffs, fmt.Sprintf("%s admits the whole internet (%v)", sg, r))
			}
		}
	}
	for _, id := range resourcesOfType(tmpl, "AWS::EC2::SecurityGroupIngress") {
		diffs = append(diffs, "separate ingress rule "+id+": keep every rule in its group, where the checks see it")
	}

	l := props(tmpl, gatewayListener)
	def := asList(l["DefaultActions"])
	if !isRef(l["LoadBalancerArn"], gatewayLB) || l["Port"] != float64(80) || str(l["Protocol"]) != "HTTP" || len(def) != 1 ||
		str(get(def[0], "Type")) != "fixed-response" || str(get(def[0], "FixedResponseConfig", "StatusCode")) != "404" {
		diffs = append(diffs, fmt.Sprintf("%s: %v, want HTTP 80 on %s answering 404 by default", gatewayListener, l, gatewayLB))
	}
	var forwards []string
	for _, id := range resourcesOfType(tmpl, "AWS::ElasticLoadBalancingV2::ListenerRule") {
		p := props(tmpl, id)
		if !isRef(p["ListenerArn"], gatewayListener) {
			continue
		}
		for _, c := range asList(p["Conditions"]) {
			for _, a := range asList(p["Actions"]) {
				forwards = append(forwards, fmt.Sprintf("%s %v → %s", str(get(c, "Field")), stringsOf(get(c, "PathPatternConfig", "Values")),
					strings.Join(referencedResources(get(a, "TargetGroupArn")), ",")))
			}
		}
	}
	diffs = append(diffs, diffSets(gatewayListener+" rules", []string{"path-pattern [/gateway/*] → " + gatewayTargetGroup}, forwards)...)
	return diffs
}

func TestGatewayNetwork(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "gateway network", gatewayNetworkDiffs(transformed(t)))
}

// cloudFrontDiffs: HTTPS without a domain of one's own (the default certificate unless
// PublicDomainName, then its ACM certificate and alias); one origin, the internal load balancer
// through the VPC origin; /gateway/ws never cached with the WebSocket handshake headers forwarded,
// /gateway/novnc/* cached, the rest of /gateway/* never cached; no plain HTTP to viewers.
func cloudFrontDiffs(tmpl cfn) []string {
	var diffs []string
	dc := get(props(tmpl, distributionID), "DistributionConfig")
	if dc == nil {
		return []string{"no " + distributionID}
	}
	origins := map[string]any{}
	for _, o := range asList(get(dc, "Origins")) {
		origins[str(get(o, "Id"))] = o
	}
	if o := origins["gateway"]; !slices.Equal(referencedResources(get(o, "DomainName")), []string{gatewayLB}) ||
		!slices.Equal(referencedResources(get(o, "VpcOriginConfig", "VpcOriginId")), []string{gatewayVpcOrigin}) ||
		get(o, "CustomOriginConfig") != nil {
		diffs = append(diffs, fmt.Sprintf("%s: origin gateway %v, want only %s through %s", distributionID, o, gatewayLB, gatewayVpcOrigin))
	}
	diffs = append(diffs, consoleOriginDiffs(tmpl, origins)...)
	vo := get(props(tmpl, gatewayVpcOrigin), "VpcOriginEndpointConfig")
	if !isRef(get(vo, "Arn"), gatewayLB) {
		diffs = append(diffs, fmt.Sprintf("%s: endpoint %v, want %s", gatewayVpcOrigin, get(vo, "Arn"), gatewayLB))
	}
	wantCert := cfn{"Fn::If": []any{"HasPublicDomain",
		cfn{"AcmCertificateArn": cfn{"Ref": "PublicCertificateArn"}, "SslSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"},
		cfn{"CloudFrontDefaultCertificate": true}}}
	if !reflect.DeepEqual(get(dc, "ViewerCertificate"), wantCert) {
		diffs = append(diffs, fmt.Sprintf("%s: ViewerCertificate %v, want %v", distributionID, get(dc, "ViewerCertificate"), wantCert))
	}
	wantAliases := cfn{"Fn::If": []any{"HasPublicDomain", []any{cfn{"Ref": "PublicDomainName"}}, cfn{"Ref": "AWS::NoValue"}}}
	if !reflect.DeepEqual(get(dc, "Aliases"), wantAliases) {
		diffs = append(diffs, fmt.Sprintf("%s: Aliases %v, want %v", distributionID, get(dc, "Aliases"), wantAliases))
	}

	type behavior struct{ origin, cache, policy, viewer string }
	got := map[string]behavior{}
	var order []string
	for _, b := range append([]any{get(dc, "DefaultCacheBehavior")}, asList(get(dc, "CacheBehaviors"))...) {
		path := arnText(get(b, "PathPattern"))
		if get(b, "PathPattern") == nil {
			path = "(default)"
		}
		order = append(order, path)
		policy := str(get(b, "OriginRequestPolicyId"))
		if refs := referencedResources(get(b, "OriginRequestPolicyId")); len(refs) > 0 {
			policy = strings.Join(refs, ",")
		}
		got[path] = behavior{str(get(b, "TargetOriginId")), str(get(b, "CachePolicyId")), policy, str(get(b, "ViewerProtocolPolicy"))}
		if get(b, "ForwardedValues") != nil || origins[str(get(b, "TargetOriginId"))] == nil {
			diffs = append(diffs, fmt.Sprintf("%s behavior %s: legacy ForwardedValues or an unknown origin", distributionID, path))
		}
		if v := str(get(b, "ViewerProtocolPolicy")); v != "https-only" && v != "redirect-to-https" {
			diffs = append(diffs, fmt.Sprintf("%s behavior %s: ViewerProtocolPolicy %q lets viewers use plain HTTP", distributionID, path, v))
		}
	}
	want := map[string]behavior{
		"/gateway/ws/*":    {"gateway", cachingDisabled, gatewayOriginPolicy, "https-only"},
		"/gateway/novnc/*": {"gateway", cachingOptimized, "", "redirect-to-https"},
		"/gateway/*":       {"gateway", cachingDisabled, gatewayOriginPolicy, "redirect-to-https"},
		// The API and the WebSocket: nothing cached, every header but Host (Authorization,
		// X-API-Key, If-Match, Idempotency-Key, the query string); never a redirect (a POST's body).
		"/api/*":        {"api", cachingDisabled, allViewerExceptHostHeader, "https-only"},
		"/${StageName}": {"websocket", cachingDisabled, allViewerExceptHostHeader, "https-only"},
		"(default)":     {"console", cachingOptimized, "", "redirect-to-https"},
	}
	for _, path := range keys(want) {
		if got[path] != want[path] {
			diffs = append(diffs, fmt.Sprintf("%s behavior %s: %+v, want %+v", distributionID, path, got[path], want[path]))
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected behavior %s", distributionID, path))
		}
	}
	if i, j := slices.Index(order, "/gateway/ws/*"), slices.Index(order, "/gateway/*"); i < 0 || j < i {
		diffs = append(diffs, fmt.Sprintf("%s: behaviors in order %v, /gateway/ws/* must come before /gateway/*", distributionID, order))
	}
	if i, j := slices.Index(order, "/gateway/novnc/*"), slices.Index(order, "/gateway/*"); i < 0 || j < i {
		diffs = append(diffs, fmt.Sprintf("%s: behaviors in order %v, /gateway/novnc/* must come before /gateway/*", distributionID, order))
	}
	for _, b := range asList(get(dc, "CacheBehaviors")) {
		if str(get(b, "PathPattern")) == "/api/*" && len(stringsOf(get(b, "AllowedMethods"))) != 7 {
			diffs = append(diffs, fmt.Sprintf("%s behavior /api/*: methods %v, want all seven", distributionID, get(b, "AllowedMethods")))
		}
	}

	orp := get(props(tmpl, gatewayOriginPolicy), "OriginRequestPolicyConfig")
	headers := stringsOf(get(orp, "HeadersConfig", "Headers"))
	if str(get(orp, "HeadersConfig", "HeaderBehavior")) != "whitelist" {
		diffs = append(diffs, fmt.Sprintf("%s: HeaderBehavior %v, want whitelist", gatewayOriginPolicy, get(orp, "HeadersConfig", "HeaderBehavior")))
	}
	// CloudFront forwards a WebSocket upgrade only with Key and Version; the ticket travels in
	// Sec-WebSocket-Protocol; the gateway checks Origin against Host.
	for _, h := range []string{"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Origin", "Host"} {
		if !slices.Contains(headers, h) {
			diffs = append(diffs, fmt.Sprintf("%s forwards %v, not %s", gatewayOriginPolicy, headers, h))
		}
	}
	if str(get(orp, "CookiesConfig", "CookieBehavior")) != "none" {
		diffs = append(diffs, gatewayOriginPolicy+": the gateway takes no cookies (CookieBehavior none)")
	}

	// One public base everywhere it is configured or shown; the sessions function's is relative
	// without a custom domain (the distribution routes /api/* to it: naming it would be a cycle).
	where := map[string]any{
		"TaskEventsFunction GATEWAY_URL": get(props(tmpl, taskEventsFunction), "Environment", "Variables", "GATEWAY_URL"),
		"output GatewayUrl":              get(tmpl, "Outputs", "GatewayUrl", "Value"),
	}
	for _, what := range keys(where) {
		if !reflect.DeepEqual(where[what], gatewayURL) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", what, where[what], gatewayURL))
		}
	}
	if got := get(props(tmpl, "SessionsFunction"), "Environment", "Variables", "GATEWAY_URL"); !reflect.DeepEqual(got, sessionsGatewayURL) {
		diffs = append(diffs, fmt.Sprintf("SessionsFunction GATEWAY_URL = %v, want %v", got, sessionsGatewayURL))
	}
	return diffs
}

func TestGatewayCloudFront(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "gateway CloudFront", cloudFrontDiffs(transformed(t)))
}

// sessionSecretsDiffs: the environment files' bucket is private, TLS-only, encrypted with the
// stack's key (rotated, administered by the account only) and expires every object after a day;
// the homes' file system policy allows nothing and denies mounts without TLS, without an
// access point, and root; the ticket keyring's value is the keyring internal/tickets reads,
// built from a generated key, and the sessions function is told where it is.
func sessionSecretsDiffs(tmpl cfn) []string {
	var diffs []string
	b := props(tmpl, sessionEnvBucket)
	sse := asList(get(b, "BucketEncryption", "ServerSideEncryptionConfiguration"))
	if len(sse) != 1 || str(get(sse[0], "ServerSideEncryptionByDefault", "SSEAlgorithm")) != "aws:kms" ||
		!slices.Equal(referencedResources(get(sse[0], "ServerSideEncryptionByDefault", "KMSMasterKeyID")), []string{sessionEnvKey}) {
		diffs = append(diffs, fmt.Sprintf("%s: encryption %v, want SSE-KMS with %s", sessionEnvBucket, sse, sessionEnvKey))
	}
	for _, f := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if get(b, "PublicAccessBlockConfiguration", f) != true {
			diffs = append(diffs, fmt.Sprintf("%s: PublicAccessBlockConfiguration.%s must be true", sessionEnvBucket, f))
		}
	}
	expires := false
	for _, rule := range asList(get(b, "LifecycleConfiguration", "Rules")) {
		if str(get(rule, "Status")) == "Enabled" && wholeBucketRule(rule) && get(rule, "ExpirationInDays") == float64(1) {
			expires = true
		}
	}
	if !expires {
		diffs = append(diffs, sessionEnvBucket+": no enabled whole-bucket lifecycle rule expiring objects after 1 day")
	}
	if !secureTransportEnforced(tmpl, sessionEnvBucket) {
		diffs = append(diffs, sessionEnvBucket+": no bucket policy refuses plain HTTP")
	}
	k := props(tmpl, sessionEnvKey)
	if k["EnableKeyRotation"] != true {
		diffs = append(diffs, sessionEnvKey+": EnableKeyRotation must be true")
	}
	for _, st := range statementsOf(k["KeyPolicy"]) {
		if p := arnText(get(st, "Principal", "AWS")); str(st["Effect"]) == "Allow" && p != "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" {
			diffs = append(diffs, fmt.Sprintf("%s: the key policy allows %v; the account's IAM policies decide (wantRuntimeAccess)", sessionEnvKey, st["Principal"]))
		}
	}

	fsp := get(props(tmpl, sessionFileSystem), "FileSystemPolicy")
	denies := map[string]bool{}
	for _, st := range statementsOf(fsp) {
		if str(st["Effect"]) == "Allow" {
			diffs = append(diffs, fmt.Sprintf("%s: the file system policy allows %v (anonymous clients must find nothing to allow them)", sessionFileSystem, st))
			continue
		}
		if !reflect.DeepEqual(st["Principal"], cfn{"AWS": "*"}) && st["Principal"] != "*" {
			continue
		}
		cond, _ := json.Marshal(st["Condition"])
		for _, a := range stringsOf(st["Action"]) {
			denies[a+" "+string(cond)] = true
		}
	}
	for _, want := range []string{
		`elasticfilesystem:ClientMount {"Bool":{"aws:SecureTransport":"false"}}`,
		`elasticfilesystem:ClientWrite {"Bool":{"aws:SecureTransport":"false"}}`,
		`elasticfilesystem:ClientMount {"Null":{"elasticfilesystem:AccessPointArn":"true"}}`,
		`elasticfilesystem:ClientWrite {"Null":{"elasticfilesystem:AccessPointArn":"true"}}`,
		`elasticfilesystem:ClientRootAccess null`,
	} {
		if !denies[want] {
			diffs = append(diffs, fmt.Sprintf("%s: the file system policy does not deny %s", sessionFileSystem, want))
		}
	}

	seed := get(props(tmpl, ticketKeySeed), "GenerateSecretString")
	if n, _ := get(seed, "PasswordLength").(float64); n < 43 || get(seed, "ExcludePunctuation") != true {
		diffs = append(diffs, fmt.Sprintf("%s: %v, want at least 43 letters and digits (base64 of 32 bytes or more)", ticketKeySeed, seed))
	}
	value := str(get(props(tmpl, ticketKeysSecret), "SecretString", "Fn::Sub"))
	const ref = "{{resolve:secretsmanager:${" + ticketKeySeed + "}:SecretString}}"
	if !strings.Contains(value, ref) {
		diffs = append(diffs, fmt.Sprintf("%s: SecretString %q does not take its key from %s", ticketKeysSecret, value, ticketKeySeed))
	} else {
		// What the keyring reads once CloudFormation put a generated value in.
		generated := strings.Repeat("Ab3", 14) + "xy" // 44 letters and digits, like the seed
		var ks tickets.KeySet
		if err := json.Unmarshal([]byte(strings.Replace(value, ref, generated, 1)), &ks); err != nil {
			diffs = append(diffs, fmt.Sprintf("%s: SecretString is not JSON: %v", ticketKeysSecret, err))
		} else if _, err := tickets.Static(ks); err != nil {
			diffs = append(diffs, fmt.Sprintf("%s: internal/tickets refuses the keyring: %v", ticketKeysSecret, err))
		}
	}
	for what, v := range map[string]any{
		"SessionsFunction TICKET_KEYS_SECRET_ARN": get(props(tmpl, "SessionsFunction"), "Environment", "Variables", "TICKET_KEYS_SECRET_ARN"),
		"output TicketKeysSecretArn":              get(tmpl, "Outputs", "TicketKeysSecretArn", "Value"),
	} {
		if !isRef(v, ticketKeysSecret) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want {Ref: %s}", what, v, ticketKeysSecret))
		}
	}
	return diffs
}

func TestSessionSecrets(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "session secrets", sessionSecretsDiffs(transformed(t)))
}

// gatewayAlarmDiffs: 5xx of the gateway and of its load balancer, unhealthy targets and the
// connection count each have one alarm on the load balancer (alarmDiffs checks that every
// alarm notifies AlarmTopic).
func gatewayAlarmDiffs(tmpl cfn) []string {
	var diffs []string
	want := map[string][]string{
		"HTTPCode_Target_5XX_Count": {gatewayLB},
		"HTTPCode_ELB_5XX_Count":    {gatewayLB},
		"UnHealthyHostCount":        {gatewayLB, gatewayTargetGroup},
		"ActiveConnectionCount":     {gatewayLB},
	}
	for _, metric := range keys(want) {
		var found []string
		for _, id := range resourcesOfType(tmpl, "AWS::CloudWatch::Alarm") {
			p := props(tmpl, id)
			if str(p["Namespace"]) != "AWS/ApplicationELB" || str(p["MetricName"]) != metric {
				continue
			}
			found = append(found, id)
			var targets []string
			for _, d := range asList(p["Dimensions"]) {
				targets = append(targets, referencedResources(get(d, "Value"))...)
			}
			sort.Strings(targets)
			w := slices.Sorted(slices.Values(want[metric]))
			if !slices.Equal(targets, w) {
				diffs = append(diffs, fmt.Sprintf("alarm %s on %v, want %v", id, targets, w))
			}
		}
		if len(found) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s alarms %v, want exactly one", metric, found))
		}
	}
	return diffs
}

func TestGatewayAlarms(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "gateway alarms", gatewayAlarmDiffs(transformed(t)))
}

// TestGatewayChecksDetectDrift breaks one thing of the gateway at a time and expects the
// matching check to report it (the unbroken template passes first).
func TestGatewayChecksDetectDrift(t *testing.T) {
	t.Parallel()
	addPolicy := func(tmpl cfn, role string, st cfn) {
		p := props(tmpl, role)
		p["Policies"] = append(asList(p["Policies"]), cfn{"PolicyName": "Mutation", "PolicyDocument": cfn{"Statement": []any{st}}})
	}
	container := func(tmpl cfn) cfn {
		return asMap(asList(props(tmpl, gatewayTaskDefinition)["ContainerDefinitions"])[0])
	}
	fsStatements := func(tmpl cfn) []any {
		return asList(get(props(tmpl, sessionFileSystem), "FileSystemPolicy", "Statement"))
	}
	cases := []driftCase{
		{"one gateway task", func(tmpl cfn) { props(tmpl, gatewayService)["DesiredCount"] = float64(1) },
			gatewayServiceDiffs, "DesiredCount 1, want at least 2"},
		{"gateway in one subnet", func(tmpl cfn) {
			vpc := asMap(get(props(tmpl, gatewayService), "NetworkConfiguration", "AwsvpcConfiguration"))
			vpc["Subnets"] = cfn{"Fn::If": []any{createSessionNetwork, []any{cfn{"Ref": "SessionSubnetA"}}, []any{cfn{"Ref": "SessionSubnetId1"}}}}
		}, gatewayServiceDiffs, "GatewayService: the stack's subnets"},
		{"both subnets in one zone", func(tmpl cfn) {
			props(tmpl, "SessionSubnetB")["AvailabilityZone"] = get(props(tmpl, "SessionSubnetA"), "AvailabilityZone")
		}, gatewayServiceDiffs, "are in the same availability zone"},
		{"gateway on the session cluster", func(tmpl cfn) { props(tmpl, gatewayService)["Cluster"] = cfn{"Ref": sessionCluster} },
			gatewayServiceDiffs, "want FARGATE on GatewayCluster"},
		{"scale-in below two", func(tmpl cfn) { props(tmpl, gatewayScalableTarget)["MinCapacity"] = float64(1) },
			gatewayServiceDiffs, "MinCapacity 1, want at least 2"},
		{"no CPU scaling", func(tmpl cfn) { delete(resources(tmpl), "GatewayCpuScalingPolicy") },
			gatewayServiceDiffs, `missing "ECSServiceAverageCPUUtilization"`},
		{"health check elsewhere", func(tmpl cfn) { props(tmpl, gatewayTargetGroup)["HealthCheckPath"] = "/" },
			gatewayServiceDiffs, "checked at /gateway/healthz"},
		{"table variable the functions do not read", func(tmpl cfn) {
			for _, kv := range asList(container(tmpl)["Environment"]) {
				if str(get(kv, "Name")) == "TABLE_NAME" {
					asMap(kv)["Name"] = "MAIN_TABLE_NAME"
				}
			}
		}, gatewayServiceDiffs, "unexpected environment variable MAIN_TABLE_NAME"},
		{"gateway family in the runtime's pattern", func(tmpl cfn) {
			props(tmpl, gatewayTaskDefinition)["Family"] = cfn{"Fn::Sub": "${AWS::StackName}-gateway"}
		}, gatewayServiceDiffs, "is in the runtime's RunTask pattern"},
		{"internet-facing load balancer", func(tmpl cfn) { props(tmpl, gatewayLB)["Scheme"] = "internet-facing" },
			gatewayNetworkDiffs, "want an internal application load balancer"},
		{"load balancer in the tasks' subnets", func(tmpl cfn) {
			props(tmpl, gatewayLB)["Subnets"] = cfn{"Fn::If": []any{createSessionNetwork,
				[]any{cfn{"Ref": "SessionSubnetA"}, cfn{"Ref": "SessionSubnetB"}}, []any{cfn{"Ref": "SessionSubnetId1"}, cfn{"Ref": "SessionSubnetId2"}}}}
		}, gatewayNetworkDiffs, "GatewayLoadBalancer: the stack's subnets"},
		{"load balancer subnets routed out", func(tmpl cfn) {
			resources(tmpl)["MutationRoute"] = cfn{"Type": "AWS::EC2::Route", "Properties": cfn{"RouteTableId": cfn{"Ref": "GatewayLoadBalancerRouteTable"},
				"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": cfn{"Ref": "SessionInternetGateway"}}}
		}, gatewayNetworkDiffs, "routes out through MutationRoute"},
		{"load balancer open to the internet", func(tmpl cfn) {
			r := asMap(asList(props(tmpl, gatewayLBSG)["SecurityGroupIngress"])[0])
			delete(r, "SourcePrefixListId")
			r["CidrIp"] = "0.0.0.0/0"
		}, gatewayNetworkDiffs, "GatewayLoadBalancerSecurityGroup admits the whole internet"},
		{"gateway tasks open to the VPC", func(tmpl cfn) {
			p := props(tmpl, gatewaySG)
			p["SecurityGroupIngress"] = append(asList(p["SecurityGroupIngress"]), cfn{"IpProtocol": "tcp", "FromPort": float64(8080), "ToPort": float64(8080), "CidrIp": "10.80.0.0/16"})
		}, gatewayNetworkDiffs, `GatewaySecurityGroup ingress: unexpected "tcp 8080-8080 10.80.0.0/16"`},
		{"ingress rule outside its group", func(tmpl cfn) {
			resources(tmpl)["MutationIngress"] = cfn{"Type": "AWS::EC2::SecurityGroupIngress", "Properties": cfn{"GroupId": cfn{"Ref": sessionSG},
				"IpProtocol": "tcp", "FromPort": float64(22), "ToPort": float64(22), "CidrIp": "0.0.0.0/0"}}
		}, gatewayNetworkDiffs, "separate ingress rule MutationIngress"},
		{"everything forwarded", func(tmpl cfn) {
			asMap(asList(props(tmpl, "GatewayListenerRule")["Conditions"])[0])["PathPatternConfig"] = cfn{"Values": []any{"/*"}}
		}, gatewayNetworkDiffs, `unexpected "path-pattern [/*] → GatewayTargetGroup"`},
		{"WebSocket cached", func(tmpl cfn) { behavior(tmpl, "/gateway/ws/*")["CachePolicyId"] = cachingOptimized },
			cloudFrontDiffs, "behavior /gateway/ws/*"},
		{"ticket header not forwarded", func(tmpl cfn) {
			hc := asMap(get(props(tmpl, gatewayOriginPolicy), "OriginRequestPolicyConfig", "HeadersConfig"))
			hc["Headers"] = slices.DeleteFunc(asList(hc["Headers"]), func(h any) bool { return h == "Sec-WebSocket-Protocol" })
		}, cloudFrontDiffs, "not Sec-WebSocket-Protocol"},
		{"plain HTTP to viewers", func(tmpl cfn) { behavior(tmpl, "/gateway/*")["ViewerProtocolPolicy"] = "allow-all" },
			cloudFrontDiffs, `ViewerProtocolPolicy "allow-all"`},
		{"WebSocket behavior after the catch-all", func(tmpl cfn) {
			dc := asMap(get(props(tmpl, distributionID), "DistributionConfig"))
			bs := asList(dc["CacheBehaviors"])
			dc["CacheBehaviors"] = append(bs[1:], bs[0])
		}, cloudFrontDiffs, "/gateway/ws/* must come before /gateway/*"},
		{"origin on the internet", func(tmpl cfn) {
			o := asMap(asList(get(props(tmpl, distributionID), "DistributionConfig", "Origins"))[3])
			delete(o, "VpcOriginConfig")
			o["CustomOriginConfig"] = cfn{"OriginProtocolPolicy": "http-only"}
		}, cloudFrontDiffs, "origin gateway"},
		{"custom domain without its certificate", func(tmpl cfn) {
			asMap(get(props(tmpl, distributionID), "DistributionConfig"))["ViewerCertificate"] = cfn{"CloudFrontDefaultCertificate": true}
		}, cloudFrontDiffs, "ViewerCertificate"},
		{"sessions told another gateway", func(tmpl cfn) {
			asMap(get(props(tmpl, "SessionsFunction"), "Environment", "Variables"))["GATEWAY_URL"] = "https://example.com/gateway"
		}, cloudFrontDiffs, "SessionsFunction GATEWAY_URL"},
		{"gateway scans MainTable", func(tmpl cfn) {
			st := statementBySid(tmpl, gatewayTaskRole, "SessionsAndConnections")
			st["Action"] = append(asList(st["Action"]), "dynamodb:Scan")
		}, gatewayIAMDiffs, `GatewayTaskRole access: unexpected "dynamodb:Scan ${MainTable.Arn}"`},
		{"gateway reads every recording object", func(tmpl cfn) {
			statementBySid(tmpl, gatewayTaskRole, "WriteRecordings")["Resource"] = cfn{"Fn::Sub": "${RecordingsBucket.Arn}/*"}
		}, gatewayIAMDiffs, `unexpected "s3:GetObject ${RecordingsBucket.Arn}/*"`},
		{"gateway reads environment files", func(tmpl cfn) {
			addPolicy(tmpl, gatewayTaskRole, cfn{"Effect": "Allow", "Action": "s3:GetObject", "Resource": cfn{"Fn::Sub": "${SessionEnvBucket.Arn}/session-env/*"}})
		}, gatewayIAMDiffs, `SessionEnvBucket access: unexpected "GatewayTaskRole s3:GetObject"`},
		{"session task role reads environment files", func(tmpl cfn) {
			addPolicy(tmpl, sessionTaskRole, cfn{"Effect": "Allow", "Action": "s3:GetObject", "Resource": cfn{"Fn::Sub": "${SessionEnvBucket.Arn}/session-env/*"}})
		}, gatewayIAMDiffs, `SessionEnvBucket access: unexpected "SessionTaskRole s3:GetObject"`},
		{"another function reads the ticket keys", func(tmpl cfn) {
			addPolicy(tmpl, "TeamsFunctionRole", cfn{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": cfn{"Ref": ticketKeysSecret}})
		}, gatewayIAMDiffs, `TicketKeysSecret access: unexpected "TeamsFunctionRole secretsmanager:GetSecretValue"`},
		{"gateway execution role writes other logs", func(tmpl cfn) {
			statementBySid(tmpl, gatewayExecutionRole, "WriteGatewayLogs")["Resource"] = cfn{"Fn::GetAtt": []any{sessionLogGroup, "Arn"}}
		}, gatewayIAMDiffs, `GatewayExecutionRole access: unexpected "logs:CreateLogStream ${SessionLogGroup.Arn}"`},
		{"environment files kept a week", func(tmpl cfn) {
			asMap(asList(get(props(tmpl, sessionEnvBucket), "LifecycleConfiguration", "Rules"))[0])["ExpirationInDays"] = float64(7)
		}, sessionSecretsDiffs, "expiring objects after 1 day"},
		{"environment files with S3's key", func(tmpl cfn) {
			def := asMap(get(asList(get(props(tmpl, sessionEnvBucket), "BucketEncryption", "ServerSideEncryptionConfiguration"))[0], "ServerSideEncryptionByDefault"))
			def["SSEAlgorithm"] = "AES256"
			delete(def, "KMSMasterKeyID")
		}, sessionSecretsDiffs, "want SSE-KMS with SessionEnvKey"},
		{"key usable by anyone", func(tmpl cfn) {
			kp := asMap(props(tmpl, sessionEnvKey)["KeyPolicy"])
			kp["Statement"] = append(asList(kp["Statement"]), cfn{"Effect": "Allow", "Principal": cfn{"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*"})
		}, sessionSecretsDiffs, "the key policy allows"},
		{"homes mountable without an access point", func(tmpl cfn) {
			fsp := asMap(get(props(tmpl, sessionFileSystem), "FileSystemPolicy"))
			fsp["Statement"] = slices.DeleteFunc(fsStatements(tmpl), func(st any) bool { return str(get(st, "Sid")) == "DenyWithoutAccessPoint" })
		}, sessionSecretsDiffs, `does not deny elasticfilesystem:ClientMount {"Null"`},
		{"homes open to anonymous clients", func(tmpl cfn) {
			fsp := asMap(get(props(tmpl, sessionFileSystem), "FileSystemPolicy"))
			fsp["Statement"] = append(fsStatements(tmpl), cfn{"Effect": "Allow", "Principal": cfn{"AWS": "*"},
				"Action": []any{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}, "Resource": "*"})
		}, sessionSecretsDiffs, "the file system policy allows"},
		{"homes mountable as root", func(tmpl cfn) {
			fsp := asMap(get(props(tmpl, sessionFileSystem), "FileSystemPolicy"))
			fsp["Statement"] = slices.DeleteFunc(fsStatements(tmpl), func(st any) bool { return str(get(st, "Sid")) == "DenyRootAccess" })
		}, sessionSecretsDiffs, "does not deny elasticfilesystem:ClientRootAccess null"},
		{"keyring in another shape", func(tmpl cfn) {
			props(tmpl, ticketKeysSecret)["SecretString"] = cfn{"Fn::Sub": `{"k1":"{{resolve:secretsmanager:${TicketKeySeed}:SecretString}}"}`}
		}, sessionSecretsDiffs, "internal/tickets refuses the keyring"},
		{"short ticket key", func(tmpl cfn) {
			asMap(get(props(tmpl, ticketKeySeed), "GenerateSecretString"))["PasswordLength"] = float64(16)
		}, sessionSecretsDiffs, "want at least 43 letters and digits"},
		{"no unhealthy-target alarm", func(tmpl cfn) { delete(resources(tmpl), "GatewayUnhealthyTargetsAlarm") },
			gatewayAlarmDiffs, "UnHealthyHostCount alarms [], want exactly one"},
		{"5xx alarm on another load balancer", func(tmpl cfn) {
			asMap(asList(props(tmpl, "GatewayTarget5xxAlarm")["Dimensions"])[0])["Value"] = "app/other/123"
		}, gatewayAlarmDiffs, "alarm GatewayTarget5xxAlarm on []"},
	}
	runDrift(t, cases)
}

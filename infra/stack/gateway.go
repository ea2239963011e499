package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
)

// The streaming gateway (cmd/gateway; docs/runtime.md): an ECS Fargate service of its own
// cluster behind an internal load balancer, which the stack's distribution (distribution.go)
// reaches through a VPC origin; and
// the stream tickets' keyring it shares with the sessions function. L1 throughout, as in
// template.yaml: the L2 ApplicationLoadBalancedFargateService and Distribution add security
// groups, listeners, roles and policies of their own that the template decides itself.

type gatewayRefs struct {
	ticketKeys    awssecretsmanager.CfnSecret
	cluster       awsecs.CfnCluster
	logGroup      awslogs.CfnLogGroup
	service       awsecs.CfnService
	loadBalancer  awselasticloadbalancingv2.CfnLoadBalancer
	targetGroup   awselasticloadbalancingv2.CfnTargetGroup
	distribution  awscloudfront.CfnDistribution
	vpcOrigin     awscloudfront.CfnVpcOrigin
	originRequest awscloudfront.CfnOriginRequestPolicy
}

// anyList is a list (a list token, too) where an L1 property takes []any.
func anyList(l *[]*string) *[]any {
	out := make([]any, len(*l))
	for i, v := range *l {
		out[i] = v
	}
	return &out
}

func newGateway(s awscdk.Stack, r *refs) *gatewayRefs {
	p, rt := r.params, r.runtime
	g := &gatewayRefs{}

	// The first ticket key, random (44 letters and digits: base64 of 33 bytes). Secrets Manager
	// generates only flat strings; TicketKeysSecret wraps this one in the keyring's JSON.
	awssecretsmanager.NewCfnSecret(s, jsii.String("TicketKeySeed"), &awssecretsmanager.CfnSecretProps{
		Description: jsii.String("First stream-ticket key of the stack (wrapped by TicketKeysSecret; unused once rotated)"),
		GenerateSecretString: &awssecretsmanager.CfnSecret_GenerateSecretStringProperty{
			PasswordLength: jsii.Number(44), ExcludePunctuation: jsii.Bool(true),
		},
	})
	// The keyring read by the sessions function (signs) and the gateway (verifies); operators
	// rotate it in place (docs/deploy.md).
	g.ticketKeys = awssecretsmanager.NewCfnSecret(s, jsii.String("TicketKeysSecret"), &awssecretsmanager.CfnSecretProps{
		Description:  jsii.String("Stream-ticket keyring (internal/tickets KeySet) of the sessions function and the gateway"),
		SecretString: awscdk.Fn_Sub(jsii.String(`{"signing":"k1","keys":{"k1":"{{resolve:secretsmanager:${TicketKeySeed}:SecretString}}"}}`), nil),
	})

	// Its own cluster: the runtime may stop any task of the session cluster, and the task-events
	// rule listens to that cluster only.
	g.cluster = awsecs.NewCfnCluster(s, jsii.String("GatewayCluster"), &awsecs.CfnClusterProps{
		ClusterSettings: []any{&awsecs.CfnCluster_ClusterSettingsProperty{Name: jsii.String("containerInsights"), Value: jsii.String("disabled")}},
	})
	g.logGroup = awslogs.NewCfnLogGroup(s, jsii.String("GatewayLogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName:    awscdk.Fn_Sub(jsii.String("/ecs/${AWS::StackName}/gateway"), nil),
		RetentionInDays: p.LogRetentionDays.ValueAsNumber(),
	})
	g.logGroup.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)

	executionRole := awsiam.NewRole(s, jsii.String("GatewayExecutionRole"), &awsiam.RoleProps{
		Description: jsii.String("ECS task execution role of the streaming gateway (image pull and logs only)"),
		AssumedBy:   ecsTasksOfThisAccount(),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"PullImageWriteLogs": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
			Statements: &[]awsiam.PolicyStatement{
				allow("EcrSignIn", []string{"ecr:GetAuthorizationToken"}, jsii.String("*")),
				allow("PullAccountImages", []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}, accountRepositories()),
				allow("WriteGatewayLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, g.logGroup.AttrArn()),
			},
		})},
	})
	overrideID(executionRole, "GatewayExecutionRole")
	// Access decisions and connection bookkeeping in MainTable, activity in AuditTable, the ticket
	// keyring, recordings under recordings/ (template.yaml says why each).
	taskRole := awsiam.NewRole(s, jsii.String("GatewayTaskRole"), &awsiam.RoleProps{
		Description: jsii.String("Task role of the streaming gateway"),
		AssumedBy:   ecsTasksOfThisAccount(),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"GatewayAccess": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
			Statements: &[]awsiam.PolicyStatement{
				allow("SessionsAndConnections", []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem",
					"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}, r.main.TableArn()),
				allow("QueryMainTableIndexes", []string{"dynamodb:Query"}, awscdk.Fn_Sub(jsii.String("${MainTable.Arn}/index/*"), nil)),
				allow("WriteAuditRecords", []string{"dynamodb:PutItem"}, r.audit.TableArn()),
				allow("ReadTicketKeys", []string{"secretsmanager:GetSecretValue"}, g.ticketKeys.Ref()),
				// The recorder: multipart uploads, a checkpoint object it reads back on takeover and
				// deletes when done.
				allow("WriteRecordings", []string{"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
					awscdk.Fn_Sub(jsii.String("${RecordingsBucket.Arn}/recordings/*"), nil)),
			},
		})},
	})
	overrideID(taskRole, "GatewayTaskRole")

	env := func(name string, value *string) *awsecs.CfnTaskDefinition_KeyValuePairProperty {
		return &awsecs.CfnTaskDefinition_KeyValuePairProperty{Name: jsii.String(name), Value: value}
	}
	taskDefinition := awsecs.NewCfnTaskDefinition(s, jsii.String("GatewayTaskDefinition"), &awsecs.CfnTaskDefinitionProps{
		// Not <stack>-…: the runtime may run task definitions of <stack>-* (session templates).
		Family:                  awscdk.Fn_Sub(jsii.String("gateway-${AWS::StackName}"), nil),
		RequiresCompatibilities: jsii.Strings("FARGATE"),
		NetworkMode:             jsii.String("awsvpc"),
		Cpu:                     jsii.String("512"),
		Memory:                  jsii.String("1024"),
		RuntimePlatform: &awsecs.CfnTaskDefinition_RuntimePlatformProperty{
			OperatingSystemFamily: jsii.String("LINUX"), CpuArchitecture: p.GatewayCpuArchitecture.ValueAsString(),
		},
		ExecutionRoleArn: executionRole.RoleArn(),
		TaskRoleArn:      taskRole.RoleArn(),
		ContainerDefinitions: []any{&awsecs.CfnTaskDefinition_ContainerDefinitionProperty{
			Name:         jsii.String("gateway"),
			Image:        p.GatewayImageUri.ValueAsString(),
			Essential:    jsii.Bool(true),
			PortMappings: []any{&awsecs.CfnTaskDefinition_PortMappingProperty{ContainerPort: jsii.Number(8080), Protocol: jsii.String("tcp")}},
			// The contract's environment (GATEWAY_ID is left to the task: each names itself).
			Environment: []any{
				env("GATEWAY_ADDR", jsii.String(":8080")),
				env("GATEWAY_URL", gatewayURL()),
				env("TABLE_NAME", r.main.TableName()),
				env("CONNECTIONS_TABLE_NAME", r.conns.TableName()),
				env("AUDIT_TABLE_NAME", r.audit.TableName()),
				env("ACTIVITY_RETENTION_DAYS", p.ActivityRetentionDays.ValueAsString()),
				env("TICKET_KEYS_SECRET_ARN", g.ticketKeys.Ref()),
				env("RECORDINGS_BUCKET", r.bucket.Ref()),
				env("RECORDINGS_MAX_RETENTION_DAYS", p.RecordingsMaxRetentionDays.ValueAsString()),
				env("NOVNC_DIR", jsii.String("/opt/novnc")),
				env("BOOTSTRAP_ADMINS", p.BootstrapAdmins.ValueAsString()),
			},
			LogConfiguration: &awsecs.CfnTaskDefinition_LogConfigurationProperty{
				LogDriver: jsii.String("awslogs"),
				Options: map[string]any{
					"awslogs-group": g.logGroup.Ref(), "awslogs-region": awscdk.Aws_REGION(), "awslogs-stream-prefix": "gateway",
				},
			},
		}},
	})

	g.loadBalancer = awselasticloadbalancingv2.NewCfnLoadBalancer(s, jsii.String("GatewayLoadBalancer"), &awselasticloadbalancingv2.CfnLoadBalancerProps{
		Type: jsii.String("application"),
		// Internal: no public address. CloudFront reaches it through a VPC origin.
		Scheme:         jsii.String("internal"),
		Subnets:        anyList(subnets(rt.lbSubnetA, rt.lbSubnetB, "GatewayLoadBalancerSubnetId1", "GatewayLoadBalancerSubnetId2")),
		SecurityGroups: &[]any{rt.loadBalancerSG.Ref()},
		LoadBalancerAttributes: []any{
			// A viewer's WebSocket may carry nothing for a while (a still screen, a watcher).
			&awselasticloadbalancingv2.CfnLoadBalancer_LoadBalancerAttributeProperty{Key: jsii.String("idle_timeout.timeout_seconds"), Value: jsii.String("3600")},
			&awselasticloadbalancingv2.CfnLoadBalancer_LoadBalancerAttributeProperty{Key: jsii.String("routing.http.drop_invalid_header_fields.enabled"), Value: jsii.String("true")},
		},
	})
	acknowledgeSubnetParameters(g.loadBalancer)
	// The same: the two subnet parameters resolve to one empty default, so they look alike.
	awscdk.Validations_Of(g.loadBalancer).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::F3037"),
		Reason: jsii.String("two different subnets when SessionVpcId is set (the ExistingSessionNetwork rule requires both)"),
	})
	g.targetGroup = awselasticloadbalancingv2.NewCfnTargetGroup(s, jsii.String("GatewayTargetGroup"), &awselasticloadbalancingv2.CfnTargetGroupProps{
		TargetType:                 jsii.String("ip"),
		Protocol:                   jsii.String("HTTP"),
		Port:                       jsii.Number(8080),
		VpcId:                      rt.vpcID(p),
		HealthCheckProtocol:        jsii.String("HTTP"),
		HealthCheckPath:            jsii.String("/gateway/healthz"),
		HealthCheckIntervalSeconds: jsii.Number(15),
		HealthyThresholdCount:      jsii.Number(2),
		UnhealthyThresholdCount:    jsii.Number(3),
		Matcher:                    &awselasticloadbalancingv2.CfnTargetGroup_MatcherProperty{HttpCode: jsii.String("200")},
		TargetGroupAttributes: []any{
			// A task leaving (scale-in, deploy) keeps its streams this long; viewers then reconnect.
			&awselasticloadbalancingv2.CfnTargetGroup_TargetGroupAttributeProperty{Key: jsii.String("deregistration_delay.timeout_seconds"), Value: jsii.String("120")},
		},
	})
	// Only the gateway's paths are forwarded; anything else gets a 404 from the load balancer.
	listener := awselasticloadbalancingv2.NewCfnListener(s, jsii.String("GatewayListener"), &awselasticloadbalancingv2.CfnListenerProps{
		LoadBalancerArn: g.loadBalancer.Ref(),
		Protocol:        jsii.String("HTTP"),
		Port:            jsii.Number(80),
		DefaultActions: []any{&awselasticloadbalancingv2.CfnListener_ActionProperty{
			Type: jsii.String("fixed-response"),
			FixedResponseConfig: &awselasticloadbalancingv2.CfnListener_FixedResponseConfigProperty{
				StatusCode: jsii.String("404"), ContentType: jsii.String("text/plain"), MessageBody: jsii.String("not found"),
			},
		}},
	})
	rule := awselasticloadbalancingv2.NewCfnListenerRule(s, jsii.String("GatewayListenerRule"), &awselasticloadbalancingv2.CfnListenerRuleProps{
		ListenerArn: listener.Ref(),
		Priority:    jsii.Number(1),
		Conditions: []any{&awselasticloadbalancingv2.CfnListenerRule_RuleConditionProperty{
			Field:             jsii.String("path-pattern"),
			PathPatternConfig: &awselasticloadbalancingv2.CfnListenerRule_PathPatternConfigProperty{Values: jsii.Strings("/gateway/*")},
		}},
		Actions: []any{&awselasticloadbalancingv2.CfnListenerRule_ActionProperty{Type: jsii.String("forward"), TargetGroupArn: g.targetGroup.Ref()}},
	})

	// At least two tasks, one per availability zone of the two subnets; the public address only
	// serves the tasks' outbound traffic (SessionAssignPublicIp).
	g.service = awsecs.NewCfnService(s, jsii.String("GatewayService"), &awsecs.CfnServiceProps{
		Cluster:        g.cluster.Ref(),
		LaunchType:     jsii.String("FARGATE"),
		TaskDefinition: taskDefinition.Ref(),
		DesiredCount:   jsii.Number(2),
		NetworkConfiguration: &awsecs.CfnService_NetworkConfigurationProperty{AwsvpcConfiguration: &awsecs.CfnService_AwsVpcConfigurationProperty{
			Subnets:        subnets(rt.subnetA, rt.subnetB, "SessionSubnetId1", "SessionSubnetId2"),
			SecurityGroups: jsii.Strings(*rt.gatewaySG.Ref()),
			AssignPublicIp: p.SessionAssignPublicIp.ValueAsString(),
		}},
		LoadBalancers: []any{&awsecs.CfnService_LoadBalancerProperty{
			ContainerName: jsii.String("gateway"), ContainerPort: jsii.Number(8080), TargetGroupArn: g.targetGroup.Ref(),
		}},
		HealthCheckGracePeriodSeconds: jsii.Number(60),
		DeploymentConfiguration: &awsecs.CfnService_DeploymentConfigurationProperty{
			MinimumHealthyPercent: jsii.Number(100), MaximumPercent: jsii.Number(200),
			DeploymentCircuitBreaker: &awsecs.CfnService_DeploymentCircuitBreakerProperty{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		},
		PropagateTags:        jsii.String("SERVICE"),
		EnableEcsManagedTags: jsii.Bool(true),
	})
	// The target group must belong to a load balancer before a service registers into it.
	g.service.AddResourceDependency(rule, nil)
	acknowledgeSubnetParameters(g.service)

	// Between 2 and GatewayMaxTasks tasks, on CPU and on memory; Application Auto Scaling uses its
	// service-linked role.
	target := awsapplicationautoscaling.NewCfnScalableTarget(s, jsii.String("GatewayScalableTarget"), &awsapplicationautoscaling.CfnScalableTargetProps{
		ServiceNamespace:  jsii.String("ecs"),
		ScalableDimension: jsii.String("ecs:service:DesiredCount"),
		ResourceId:        awscdk.Fn_Sub(jsii.String("service/${GatewayCluster}/${GatewayService.Name}"), nil),
		MinCapacity:       jsii.Number(2),
		MaxCapacity:       p.GatewayMaxTasks.ValueAsNumber(),
	})
	for _, sp := range []struct{ id, name, metric string }{
		// Streaming frames and parsing viewer input is CPU work.
		{"GatewayCpuScalingPolicy", "cpu", "ECSServiceAverageCPUUtilization"},
		// Held connections (idle viewers included) are memory.
		{"GatewayMemoryScalingPolicy", "memory", "ECSServiceAverageMemoryUtilization"},
	} {
		value := 60.0
		if sp.name == "memory" {
			value = 70
		}
		awsapplicationautoscaling.NewCfnScalingPolicy(s, jsii.String(sp.id), &awsapplicationautoscaling.CfnScalingPolicyProps{
			PolicyName:      awscdk.Fn_Sub(jsii.String("${AWS::StackName}-gateway-"+sp.name), nil),
			PolicyType:      jsii.String("TargetTrackingScaling"),
			ScalingTargetId: target.Ref(),
			TargetTrackingScalingPolicyConfiguration: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingScalingPolicyConfigurationProperty{
				PredefinedMetricSpecification: &awsapplicationautoscaling.CfnScalingPolicy_PredefinedMetricSpecificationProperty{
					PredefinedMetricType: jsii.String(sp.metric),
				},
				TargetValue:      jsii.Number(value),
				ScaleOutCooldown: jsii.Number(60),
				// Scaling in ends the streams of the task that leaves: slowly.
				ScaleInCooldown: jsii.Number(900),
			},
		})
	}

	g.vpcOrigin, g.originRequest = newGatewayOrigin(s, g)
	return g
}

// gatewayAlarms: errors the gateway answers, errors of its load balancer, a task unhealthy for 5
// minutes, more held connections than planned for; to the alarm topic like every alarm.
func gatewayAlarms(s awscdk.Stack, r *refs, topic *string) {
	g := r.gateway
	lb := &awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("LoadBalancer"), Value: g.loadBalancer.AttrLoadBalancerFullName()}
	tg := &awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("TargetGroup"), Value: g.targetGroup.AttrTargetGroupFullName()}
	for _, a := range []struct {
		id, description, metric, statistic, comparison string
		dimensions                                     []any
		period, evaluations                            float64
		threshold                                      *float64
	}{
		{"GatewayTarget5xxAlarm", "The streaming gateway answered 5xx errors (HTTPCode_Target_5XX_Count >= 5 in 5 minutes)",
			"HTTPCode_Target_5XX_Count", "Sum", "GreaterThanOrEqualToThreshold", []any{lb}, 300, 1, jsii.Number(5)},
		{"GatewayLoadBalancer5xxAlarm", "The gateway's load balancer answered 5xx errors itself, e.g. no healthy task (HTTPCode_ELB_5XX_Count >= 5 in 5 minutes)",
			"HTTPCode_ELB_5XX_Count", "Sum", "GreaterThanOrEqualToThreshold", []any{lb}, 300, 1, jsii.Number(5)},
		// Minimum over 5 minutes: unhealthy throughout, not a task starting during a deploy.
		{"GatewayUnhealthyTargetsAlarm", "A streaming gateway task failed its health check for 5 minutes (UnHealthyHostCount >= 1 throughout)",
			"UnHealthyHostCount", "Minimum", "GreaterThanOrEqualToThreshold", []any{tg, lb}, 300, 1, jsii.Number(1)},
		// ActiveConnectionCount's Sum over one minute is the concurrent connections.
		{"GatewayActiveConnectionsAlarm", "The gateway's load balancer holds more connections than GatewayConnectionsAlarmThreshold for 5 minutes",
			"ActiveConnectionCount", "Sum", "GreaterThanThreshold", []any{lb}, 60, 5, r.params.GatewayConnectionsAlarmThreshold.ValueAsNumber()},
	} {
		awscloudwatch.NewCfnAlarm(s, jsii.String(a.id), &awscloudwatch.CfnAlarmProps{
			AlarmDescription:   jsii.String(a.description),
			Namespace:          jsii.String("AWS/ApplicationELB"),
			MetricName:         jsii.String(a.metric),
			Dimensions:         a.dimensions,
			Statistic:          jsii.String(a.statistic),
			Period:             jsii.Number(a.period),
			EvaluationPeriods:  jsii.Number(a.evaluations),
			Threshold:          a.threshold,
			ComparisonOperator: jsii.String(a.comparison),
			TreatMissingData:   jsii.String("notBreaching"),
			AlarmActions:       &[]any{topic},
		})
	}
}

// newGatewayOrigin: CloudFront reaches the internal load balancer over AWS's network (VPC
// origin), forwarding what the gateway needs of a viewer's request.
func newGatewayOrigin(s awscdk.Stack, g *gatewayRefs) (awscloudfront.CfnVpcOrigin, awscloudfront.CfnOriginRequestPolicy) {
	vpcOrigin := awscloudfront.NewCfnVpcOrigin(s, jsii.String("GatewayVpcOrigin"), &awscloudfront.CfnVpcOriginProps{
		VpcOriginEndpointConfig: &awscloudfront.CfnVpcOrigin_VpcOriginEndpointConfigProperty{
			// CloudFront is global: the region keeps two stacks of the same name apart.
			Name:                 awscdk.Fn_Sub(jsii.String("${AWS::StackName}-${AWS::Region}-gateway"), nil),
			Arn:                  g.loadBalancer.Ref(),
			HttpPort:             jsii.Number(80),
			HttpsPort:            jsii.Number(443),
			OriginProtocolPolicy: jsii.String("http-only"),
		},
	})
	// The WebSocket handshake headers (the ticket travels in Sec-WebSocket-Protocol), Origin and
	// Host (the gateway checks a WebSocket's origin against its own host), the user agent and
	// query strings. No cookies.
	originRequest := awscloudfront.NewCfnOriginRequestPolicy(s, jsii.String("GatewayOriginRequestPolicy"), &awscloudfront.CfnOriginRequestPolicyProps{
		OriginRequestPolicyConfig: &awscloudfront.CfnOriginRequestPolicy_OriginRequestPolicyConfigProperty{
			Name:    awscdk.Fn_Sub(jsii.String("${AWS::StackName}-${AWS::Region}-gateway"), nil),
			Comment: jsii.String("Streaming gateway (WebSocket handshake, Origin, Host)"),
			HeadersConfig: &awscloudfront.CfnOriginRequestPolicy_HeadersConfigProperty{
				HeaderBehavior: jsii.String("whitelist"),
				Headers: jsii.Strings("Host", "Origin", "User-Agent", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
					"Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"),
			},
			CookiesConfig:      &awscloudfront.CfnOriginRequestPolicy_CookiesConfigProperty{CookieBehavior: jsii.String("none")},
			QueryStringsConfig: &awscloudfront.CfnOriginRequestPolicy_QueryStringsConfigProperty{QueryStringBehavior: jsii.String("all")},
		},
	})
	return vpcOrigin, originRequest
}

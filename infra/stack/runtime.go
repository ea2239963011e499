package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// The session runtime (docs/runtime.md): the processor's runtime step (ProcessorFunction, the
// main table stream's second reader) runs one ECS Fargate task per running session; TaskEventsFunction turns the cluster's task state
// changes into observed session states. Then the tasks' network, cluster, roles, log group and
// the EFS file system of persistent homes. Mostly L1: the L2 Vpc, Cluster and FileSystem make
// subnets, NAT gateways, policies and security groups of their own, and template.yaml decides
// each of those itself (see the comments there for why).

type runtimeRefs struct {
	cluster                 awsecs.CfnCluster
	logGroup                awslogs.CfnLogGroup
	executionRole, taskRole awsiam.Role
	securityGroup           awsec2.CfnSecurityGroup
	fileSystem              awsefs.CfnFileSystem
	taskEventsDLQ           awssqs.CfnQueue
	createNetwork           awscdk.CfnCondition
	subnetA, subnetB, vpc   awscdk.CfnResource
	// The per-session environment files (session id, VNC password) and their key.
	envBucket awss3.CfnBucket
	envKey    awskms.CfnKey
	// The gateway's load balancer subnets (private) and security groups.
	lbSubnetA, lbSubnetB      awscdk.CfnResource
	gatewaySG, loadBalancerSG awsec2.CfnSecurityGroup
}

// vpcID is the sessions' VPC: the stack's own unless SessionVpcId names one.
func (rt *runtimeRefs) vpcID(p *parameters) *string {
	return ifCondition("CreateSessionNetwork", rt.vpc.Ref(), p.SessionVpcId.ValueAsString())
}

// subnets lists two subnets: the stack's own, or two parameters with an existing VPC (Fn::Sub,
// as template.yaml writes them).
func subnets(a, b awscdk.CfnResource, paramA, paramB string) *[]*string {
	return awscdk.Token_AsList(awscdk.Fn_ConditionIf(jsii.String("CreateSessionNetwork"),
		[]*string{a.Ref(), b.Ref()},
		[]*string{awscdk.Fn_Sub(jsii.String("${"+paramA+"}"), nil), awscdk.Fn_Sub(jsii.String("${"+paramB+"}"), nil)}), nil)
}

// gatewayURL is the gateway's public base (GATEWAY_URL): the custom domain if given, else the
// distribution's own name.
func gatewayURL() *string {
	return ifCondition("HasPublicDomain", awscdk.Fn_Sub(jsii.String("https://${PublicDomainName}/gateway"), nil),
		awscdk.Fn_Sub(jsii.String("https://${Distribution.DomainName}/gateway"), nil))
}

// envFileObjects are the environment files (session-env/<session id>.env).
func (rt *runtimeRefs) envFileObjects() *string {
	return jsii.String(*rt.envBucket.AttrArn() + "/session-env/*")
}

// viaS3 limits a key grant to what S3 asks of KMS on the caller's behalf.
func viaS3(st awsiam.PolicyStatement) awsiam.PolicyStatement {
	st.AddCondition(jsii.String("StringEquals"), map[string]any{"kms:ViaService": awscdk.Fn_Sub(jsii.String("s3.${AWS::Region}.amazonaws.com"), nil)})
	return st
}

func ifCondition(cond string, yes, no *string) *string {
	return awscdk.Token_AsString(awscdk.Fn_ConditionIf(jsii.String(cond), yes, no), nil)
}

// newRuntimeResources creates what the runtime functions refer to.
func newRuntimeResources(s awscdk.Stack, r *refs) *runtimeRefs {
	p := r.params
	rt := &runtimeRefs{}
	rt.taskEventsDLQ = newDeadLetterQueue(s, "TaskEventsDeadLetterQueue")
	rt.cluster = awsecs.NewCfnCluster(s, jsii.String("SessionCluster"), &awsecs.CfnClusterProps{
		ClusterSettings: []any{&awsecs.CfnCluster_ClusterSettingsProperty{Name: jsii.String("containerInsights"), Value: jsii.String("disabled")}},
	})
	rt.logGroup = awslogs.NewCfnLogGroup(s, jsii.String("SessionLogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName:    awscdk.Fn_Sub(jsii.String("/ecs/${AWS::StackName}/sessions"), nil),
		RetentionInDays: p.LogRetentionDays.ValueAsNumber(),
	})
	rt.logGroup.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	newSessionSecrets(s, rt)
	newSessionNetwork(s, r, rt)

	rt.fileSystem = awsefs.NewCfnFileSystem(s, jsii.String("SessionFileSystem"), &awsefs.CfnFileSystemProps{
		Encrypted:       jsii.Bool(true),
		PerformanceMode: jsii.String("generalPurpose"),
		ThroughputMode:  jsii.String("elastic"),
		LifecyclePolicies: []any{
			&awsefs.CfnFileSystem_LifecyclePolicyProperty{TransitionToIa: jsii.String("AFTER_30_DAYS")},
			&awsefs.CfnFileSystem_LifecyclePolicyProperty{TransitionToPrimaryStorageClass: jsii.String("AFTER_1_ACCESS")},
		},
		BackupPolicy: &awsefs.CfnFileSystem_BackupPolicyProperty{Status: jsii.String("ENABLED")},
		// No statement allows anything: anonymous (non-IAM) clients, which only a policy could
		// admit, are refused; IAM principals need their own grant (the session task role's), and
		// even then only over TLS, only through an access point, never as root.
		FileSystemPolicy: homesPolicy(),
		FileSystemTags: &[]*awsefs.CfnFileSystem_ElasticFileSystemTagProperty{{
			Key: jsii.String("Name"), Value: awscdk.Fn_Sub(jsii.String("${AWS::StackName}-homes"), nil),
		}},
	})
	// People's files: keep them if the stack goes away.
	rt.fileSystem.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
	for _, m := range []struct {
		id     string
		subnet awscdk.CfnResource
		param  string
	}{{"SessionMountTargetA", rt.subnetA, "SessionSubnetId1"}, {"SessionMountTargetB", rt.subnetB, "SessionSubnetId2"}} {
		mt := awsefs.NewCfnMountTarget(s, jsii.String(m.id), &awsefs.CfnMountTargetProps{
			FileSystemId:   rt.fileSystem.Ref(),
			SubnetId:       ifCondition("CreateSessionNetwork", m.subnet.Ref(), awscdk.Fn_Sub(jsii.String("${"+m.param+"}"), nil)),
			SecurityGroups: &[]any{r.nfsSecurityGroup.Ref()},
		})
		acknowledgeSubnetParameters(mt)
	}

	// What ECS itself uses to start a session task: pull its image, write its logs, read the
	// session's environment file (this role, not the task role: the desktop itself reads no file).
	rt.executionRole = awsiam.NewRole(s, jsii.String("SessionExecutionRole"), &awsiam.RoleProps{
		Description: jsii.String("ECS task execution role of session tasks (image pull and logs only)"),
		AssumedBy:   ecsTasksOfThisAccount(),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"PullImagesWriteLogs": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{
					allow("EcrSignIn", []string{"ecr:GetAuthorizationToken"}, jsii.String("*")),
					allow("PullAccountImages", []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}, accountRepositories()),
					allow("WriteSessionLogs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, rt.logGroup.AttrArn()),
				},
			}),
			"ReadSessionEnvironmentFiles": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{
					allow("ReadSessionEnvironmentFiles", []string{"s3:GetObject"}, rt.envFileObjects()),
					allow("LocateSessionEnvironmentBucket", []string{"s3:GetBucketLocation"}, rt.envBucket.AttrArn()),
					viaS3(allow("DecryptSessionEnvironmentFiles", []string{"kms:Decrypt"}, rt.envKey.AttrArn())),
				},
			}),
		},
	})
	overrideID(rt.executionRole, "SessionExecutionRole")
	// The session containers' own identity: the person in the session controls the container,
	// so it may only mount a home through an access point (IAM authorization on the volume).
	mount := allow("MountHomesThroughAccessPoints", []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}, rt.fileSystem.AttrArn())
	mount.AddCondition(jsii.String("StringLike"), map[string]any{"elasticfilesystem:AccessPointArn": awscdk.Fn_Sub(
		jsii.String("arn:${AWS::Partition}:elasticfilesystem:${AWS::Region}:${AWS::AccountId}:access-point/*"), nil)})
	rt.taskRole = awsiam.NewRole(s, jsii.String("SessionTaskRole"), &awsiam.RoleProps{
		Description: jsii.String("Task role of session containers (mount a home through its access point, nothing else)"),
		AssumedBy:   ecsTasksOfThisAccount(),
		InlinePolicies: &map[string]awsiam.PolicyDocument{"MountHomesThroughAccessPoints": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
			Statements: &[]awsiam.PolicyStatement{mount},
		})},
	})
	overrideID(rt.taskRole, "SessionTaskRole")
	return rt
}

// ecsTasksOfThisAccount is the trust of every task role of the stack: ECS tasks of this account.
func ecsTasksOfThisAccount() awsiam.IPrincipal {
	return awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil).WithConditions(&map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
	})
}

// accountRepositories are the ECR repositories of the account (template and gateway images).
func accountRepositories() *string {
	return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*"), nil)
}

// acknowledgeSubnetParameters: cfn-lint resolves the subnet parameters to their empty defaults,
// but that branch is only taken when SessionVpcId is set, and then the ExistingSessionNetwork
// rule requires them.
func acknowledgeSubnetParameters(res awscdk.CfnResource) {
	res.AddMetadata(jsii.String("cfn-lint"), map[string]any{"config": map[string]any{"ignore_checks": []string{"W1031"}}})
	// The same finding from CDK's own synth-time validation.
	awscdk.Validations_Of(res).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::W1031"),
		Reason: jsii.String("the subnet parameter is only used when SessionVpcId is set, and then the ExistingSessionNetwork rule requires it"),
	})
}

// homesPolicy is the homes' file system policy (template.yaml has the same, statement for
// statement).
func homesPolicy() map[string]any {
	clientActions := []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"}
	deny := func(sid string, action any, condition map[string]any) map[string]any {
		st := map[string]any{"Sid": sid, "Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Action": action, "Resource": "*"}
		if condition != nil {
			st["Condition"] = condition
		}
		return st
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []any{
		deny("DenyWithoutTls", clientActions, map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}),
		deny("DenyWithoutAccessPoint", clientActions, map[string]any{"Null": map[string]any{"elasticfilesystem:AccessPointArn": "true"}}),
		deny("DenyRootAccess", "elasticfilesystem:ClientRootAccess", nil),
	}}
}

// newSessionSecrets: the key and bucket of the per-session environment files.
func newSessionSecrets(s awscdk.Stack, rt *runtimeRefs) {
	rt.envKey = awskms.NewCfnKey(s, jsii.String("SessionEnvKey"), &awskms.CfnKeyProps{
		Description:       jsii.String("Encrypts the per-session environment files (VNC passwords) in SessionEnvBucket."),
		EnableKeyRotation: jsii.Bool(true),
		KeyPolicy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("AccountAdministersTheKey"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"), nil))},
				Actions:    jsii.Strings("kms:*"),
				Resources:  jsii.Strings("*"),
			}),
		}}),
	})
	// One small file per starting or running session; the runtime deletes it when the session
	// hibernates or ends, and anything left behind expires after a day.
	rt.envBucket = awss3.NewCfnBucket(s, jsii.String("SessionEnvBucket"), &awss3.CfnBucketProps{
		BucketEncryption: &awss3.CfnBucket_BucketEncryptionProperty{
			ServerSideEncryptionConfiguration: []any{&awss3.CfnBucket_ServerSideEncryptionRuleProperty{
				ServerSideEncryptionByDefault: &awss3.CfnBucket_ServerSideEncryptionByDefaultProperty{
					SseAlgorithm: jsii.String("aws:kms"), KmsMasterKeyId: rt.envKey.AttrArn(),
				},
				// One data key per bucket instead of a KMS call per object.
				BucketKeyEnabled: jsii.Bool(true),
			}},
		},
		PublicAccessBlockConfiguration: blockPublicAccess(),
		OwnershipControls:              ownerEnforced(),
		LifecycleConfiguration: &awss3.CfnBucket_LifecycleConfigurationProperty{
			Rules: []any{&awss3.CfnBucket_RuleProperty{
				Id: jsii.String("ExpireSessionEnvironmentFiles"), Status: jsii.String("Enabled"), ExpirationInDays: jsii.Number(1),
				AbortIncompleteMultipartUpload: &awss3.CfnBucket_AbortIncompleteMultipartUploadProperty{DaysAfterInitiation: jsii.Number(1)},
			}},
		},
	})
	rt.envBucket.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	denyInsecureTransport(s, "SessionEnvBucketPolicy", rt.envBucket)
}

// newSessionNetwork: a small public VPC (two subnets in two zones, an internet gateway, no NAT)
// unless SessionVpcId names one; the session and NFS security groups in either.
func newSessionNetwork(s awscdk.Stack, r *refs, rt *runtimeRefs) {
	p := r.params
	rt.createNetwork = awscdk.NewCfnCondition(s, jsii.String("CreateSessionNetwork"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionEquals(p.SessionVpcId.ValueAsString(), jsii.String("")),
	})
	conditional := func(res awscdk.CfnResource) awscdk.CfnResource {
		res.CfnOptions().SetCondition(rt.createNetwork)
		return res
	}
	nameTag := func(suffix string) *[]*awscdk.CfnTag {
		return &[]*awscdk.CfnTag{{Key: jsii.String("Name"), Value: awscdk.Fn_Sub(jsii.String("${AWS::StackName}-sessions"+suffix), nil)}}
	}
	vpc := awsec2.NewCfnVPC(s, jsii.String("SessionVpc"), &awsec2.CfnVPCProps{
		CidrBlock: jsii.String("10.80.0.0/16"), EnableDnsSupport: jsii.Bool(true), EnableDnsHostnames: jsii.Bool(true),
		Tags: nameTag(""),
	})
	rt.vpc = conditional(vpc)
	igw := conditional(awsec2.NewCfnInternetGateway(s, jsii.String("SessionInternetGateway"), &awsec2.CfnInternetGatewayProps{Tags: nameTag("")}))
	attachment := conditional(awsec2.NewCfnVPCGatewayAttachment(s, jsii.String("SessionGatewayAttachment"), &awsec2.CfnVPCGatewayAttachmentProps{
		VpcId: vpc.Ref(), InternetGatewayId: igw.Ref(),
	}))
	routes := conditional(awsec2.NewCfnRouteTable(s, jsii.String("SessionRouteTable"), &awsec2.CfnRouteTableProps{VpcId: vpc.Ref()}))
	internet := conditional(awsec2.NewCfnRoute(s, jsii.String("SessionInternetRoute"), &awsec2.CfnRouteProps{
		RouteTableId: routes.Ref(), DestinationCidrBlock: jsii.String("0.0.0.0/0"), GatewayId: igw.Ref(),
	}))
	internet.AddResourceDependency(attachment, nil)
	subnet := func(id, cidr string, zone float64, suffix string) awscdk.CfnResource {
		sn := conditional(awsec2.NewCfnSubnet(s, jsii.String(id), &awsec2.CfnSubnetProps{
			VpcId: vpc.Ref(), CidrBlock: jsii.String(cidr),
			AvailabilityZone: awscdk.Fn_Select(jsii.Number(zone), awscdk.Fn_GetAzs(jsii.String(""))),
			// ECS gives a task its public IP (SessionAssignPublicIp); nothing else runs here.
			MapPublicIpOnLaunch: jsii.Bool(false),
			Tags:                nameTag(suffix),
		}))
		conditional(awsec2.NewCfnSubnetRouteTableAssociation(s, jsii.String(id+"Routes"), &awsec2.CfnSubnetRouteTableAssociationProps{
			SubnetId: sn.Ref(), RouteTableId: routes.Ref(),
		}))
		return sn
	}
	rt.subnetA = subnet("SessionSubnetA", "10.80.0.0/20", 0, "-a")
	rt.subnetB = subnet("SessionSubnetB", "10.80.16.0/20", 1, "-b")

	// Private subnets of the gateway's internal load balancer: CloudFront reaches it through a
	// VPC origin, nothing routes here from the internet (a route table without routes).
	lbRoutes := conditional(awsec2.NewCfnRouteTable(s, jsii.String("GatewayLoadBalancerRouteTable"), &awsec2.CfnRouteTableProps{VpcId: vpc.Ref()}))
	lbSubnet := func(id, cidr string, zone float64, suffix string) awscdk.CfnResource {
		sn := conditional(awsec2.NewCfnSubnet(s, jsii.String(id), &awsec2.CfnSubnetProps{
			VpcId: vpc.Ref(), CidrBlock: jsii.String(cidr),
			AvailabilityZone:    awscdk.Fn_Select(jsii.Number(zone), awscdk.Fn_GetAzs(jsii.String(""))),
			MapPublicIpOnLaunch: jsii.Bool(false),
			Tags:                &[]*awscdk.CfnTag{{Key: jsii.String("Name"), Value: awscdk.Fn_Sub(jsii.String("${AWS::StackName}-gateway-lb"+suffix), nil)}},
		}))
		conditional(awsec2.NewCfnSubnetRouteTableAssociation(s, jsii.String(id+"Routes"), &awsec2.CfnSubnetRouteTableAssociationProps{
			SubnetId: sn.Ref(), RouteTableId: lbRoutes.Ref(),
		}))
		return sn
	}
	rt.lbSubnetA = lbSubnet("GatewayLoadBalancerSubnetA", "10.80.32.0/24", 0, "-a")
	rt.lbSubnetB = lbSubnet("GatewayLoadBalancerSubnetB", "10.80.33.0/24", 1, "-b")

	vpcID := rt.vpcID(p)
	// The internal load balancer: HTTP from CloudFront's origin-facing addresses only.
	rt.loadBalancerSG = awsec2.NewCfnSecurityGroup(s, jsii.String("GatewayLoadBalancerSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: jsii.String("StreamSpace gateway load balancer (HTTP from CloudFront only)"),
		VpcId:            vpcID,
		SecurityGroupIngress: []any{&awsec2.CfnSecurityGroup_IngressProperty{
			Description: jsii.String("CloudFront (VPC origin) reaches the load balancer"),
			IpProtocol:  jsii.String("tcp"),
			FromPort:    jsii.Number(80), ToPort: jsii.Number(80),
			SourcePrefixListId: ifCondition("HasCloudFrontPrefixListId", p.CloudFrontPrefixListId.ValueAsString(),
				p.PrefixListIds.FindInMap(awscdk.Aws_REGION(), jsii.String("PrefixListId"), nil)),
		}},
	})
	// Gateway tasks: in, only their HTTP port from the load balancer.
	rt.gatewaySG = awsec2.NewCfnSecurityGroup(s, jsii.String("GatewaySecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: jsii.String("StreamSpace streaming gateway tasks (HTTP from their load balancer only)"),
		VpcId:            vpcID,
		SecurityGroupIngress: []any{&awsec2.CfnSecurityGroup_IngressProperty{
			Description: jsii.String("The load balancer reaches the gateway"),
			IpProtocol:  jsii.String("tcp"),
			FromPort:    jsii.Number(8080), ToPort: jsii.Number(8080),
			SourceSecurityGroupId: rt.loadBalancerSG.Ref(),
		}},
	})
	// Session tasks: in, only the VNC port from the gateway's tasks (no public ingress at all).
	rt.securityGroup = awsec2.NewCfnSecurityGroup(s, jsii.String("SessionSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: jsii.String("StreamSpace session tasks (VNC from the streaming gateway only)"),
		VpcId:            vpcID,
		SecurityGroupIngress: []any{&awsec2.CfnSecurityGroup_IngressProperty{
			Description: jsii.String("The streaming gateway reaches the desktop's VNC server"),
			IpProtocol:  jsii.String("tcp"),
			FromPort:    jsii.Number(5900), ToPort: jsii.Number(5900),
			SourceSecurityGroupId: rt.gatewaySG.Ref(),
		}},
	})
	r.nfsSecurityGroup = awsec2.NewCfnSecurityGroup(s, jsii.String("SessionFileSystemSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: jsii.String("StreamSpace home file system (NFS from session tasks only)"),
		VpcId:            vpcID,
		SecurityGroupIngress: []any{&awsec2.CfnSecurityGroup_IngressProperty{
			Description: jsii.String("NFS from session tasks"),
			IpProtocol:  jsii.String("tcp"),
			FromPort:    jsii.Number(2049), ToPort: jsii.Number(2049),
			SourceSecurityGroupId: rt.securityGroup.Ref(),
		}},
	})
}

// processorFunction is the main table stream's second reader: the auditor and the runtime
// (sessions driven towards their desired state with ECS tasks) as steps, with the union of what
// the two need.
func (r *refs) processorFunction() *function {
	rt, p := r.runtime, r.params
	taskDefinitions := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-*:*"), nil)
	tasks := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task/${SessionCluster}/*"), nil)
	withCondition := func(st awsiam.PolicyStatement, op, key string, value any) awsiam.PolicyStatement {
		st.AddCondition(jsii.String(op), map[string]any{key: value})
		return st
	}
	return &function{
		name:        "processor",
		description: "Runs the auditor and the session runtime (ECS Fargate tasks) as steps over the main table's stream",
		timeout:     120,
		reserved:    p.StreamConsumerReservedConcurrency.ValueAsNumber(),
		env: map[string]*string{
			// Auditor step: a recording item's removal takes its object along (SEC-16).
			"RECORDINGS_BUCKET": r.bucket.Ref(),
			"ECS_CLUSTER":       rt.cluster.AttrArn(),
			"ECS_SUBNETS": ifCondition("CreateSessionNetwork",
				awscdk.Fn_Sub(jsii.String("${SessionSubnetA},${SessionSubnetB}"), nil),
				awscdk.Fn_Sub(jsii.String("${SessionSubnetId1},${SessionSubnetId2}"), nil)),
			"ECS_SECURITY_GROUP":     rt.securityGroup.Ref(),
			"ECS_ASSIGN_PUBLIC_IP":   p.SessionAssignPublicIp.ValueAsString(),
			"ECS_EXECUTION_ROLE_ARN": rt.executionRole.RoleArn(),
			"ECS_TASK_ROLE_ARN":      rt.taskRole.RoleArn(),
			"ECS_LOG_GROUP":          rt.logGroup.Ref(),
			// Task definition families are <stack>-<template> (and <stack>-<template>-home-<user
			// hash>); RunTask is allowed on exactly those.
			"ECS_FAMILY_PREFIX":    awscdk.Aws_STACK_NAME(),
			"ECS_CPU_ARCHITECTURE": p.SessionCpuArchitecture.ValueAsString(),
			"EFS_FILE_SYSTEM_ID":   rt.fileSystem.Ref(),
			// Each start's secrets go to a file here (session-env/<id>.env), not into RunTask.
			"SESSION_ENV_BUCKET_ARN": rt.envBucket.AttrArn(),
			// Our images (streamspace/<name>, make push-images) are pulled from this account's ECR.
			"ECS_IMAGE_REGISTRY": awscdk.Fn_Sub(jsii.String("${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}"), nil),
			"DEAD_LETTER_BUCKET": r.deadLetters.Ref(),
		},
		policies: [][]awsiam.PolicyStatement{
			r.readMainStream(r.processorDLQ.AttrArn()),
			r.parkDeadLetters(false, "auditor", "runtime"),
			{allow("WriteActivityRecords", []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, r.audit.TableArn()),
				allow("DeleteRemovedRecordings", []string{"s3:DeleteObject"}, awscdk.Fn_Sub(jsii.String("${RecordingsBucket.Arn}/recordings/*"), nil))},
			tableAccess(dynamoCrudActions, r.main.TableArn()),
			{
				withCondition(allow("RunSessionTasks", []string{"ecs:RunTask"}, taskDefinitions), "ArnEquals", "ecs:cluster", rt.cluster.AttrArn()),
				allow("StopSessionTasks", []string{"ecs:StopTask"}, tasks),
				withCondition(allow("TagSessionTasksOnCreate", []string{"ecs:TagResource"}, tasks, taskDefinitions),
					"StringEquals", "ecs:CreateAction", []string{"RunTask", "RegisterTaskDefinition"}),
				allow("SessionTaskDefinitions", []string{"ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"}, jsii.String("*")),
				withCondition(allow("PassSessionRoles", []string{"iam:PassRole"}, rt.executionRole.RoleArn(), rt.taskRole.RoleArn()),
					"StringEquals", "iam:PassedToService", "ecs-tasks.amazonaws.com"),
				allow("CreateHomeAccessPoints", []string{"elasticfilesystem:CreateAccessPoint"}, rt.fileSystem.AttrArn()),
				allow("WriteSessionEnvironmentFiles", []string{"s3:PutObject", "s3:DeleteObject"}, rt.envFileObjects()),
				viaS3(allow("EncryptSessionEnvironmentFiles", []string{"kms:GenerateDataKey"}, rt.envKey.AttrArn())),
			},
		},
	}
}

// taskEventsFunction records ECS task state changes of session tasks.
func (r *refs) taskEventsFunction() *function {
	rt := r.runtime
	return &function{
		name:        "taskevents",
		description: "Records ECS task state changes of session tasks as observed session states",
		env: map[string]*string{
			"ECS_CLUSTER": rt.cluster.AttrArn(),
			// A running session's url is its viewer page on the gateway.
			"GATEWAY_URL": gatewayURL(),
		},
		// An event that fails is retried by Lambda twice, then parked.
		async: &awslambda.CfnEventInvokeConfigProps{
			MaximumRetryAttempts:     jsii.Number(2),
			MaximumEventAgeInSeconds: jsii.Number(3600),
			DestinationConfig: &awslambda.CfnEventInvokeConfig_DestinationConfigProperty{
				OnFailure: &awslambda.CfnEventInvokeConfig_OnFailureProperty{Destination: rt.taskEventsDLQ.AttrArn()},
			},
		},
		policies: [][]awsiam.PolicyStatement{
			// SAM adds this one for the on-failure destination of asynchronous invocations.
			{allow("", []string{"sqs:SendMessage"}, rt.taskEventsDLQ.AttrArn())},
			tableAccess(dynamoCrudActions, r.main.TableArn()),
		},
	}
}

// newTaskStateChanges sends this cluster's tasks reaching RUNNING or STOPPED to
// TaskEventsFunction (EventBridge retries, then parks them in the dead-letter queue, which
// only this rule may write to).
func newTaskStateChanges(s awscdk.Stack, r *refs) {
	rt, fn := r.runtime, r.fn("taskevents")
	rule := awsevents.NewCfnRule(s, jsii.String("TaskStateChangeRule"), &awsevents.CfnRuleProps{
		Description: jsii.String("ECS task state changes of the session cluster, to TaskEventsFunction"),
		State:       jsii.String("ENABLED"),
		EventPattern: map[string]any{
			"source":      []string{"aws.ecs"},
			"detail-type": []string{"ECS Task State Change"},
			"detail": map[string]any{
				"clusterArn": []any{rt.cluster.AttrArn()},
				"lastStatus": []string{"RUNNING", "STOPPED"},
			},
		},
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Id:  jsii.String("TaskEventsFunction"),
			Arn: fn.FunctionArn(),
			RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
				MaximumRetryAttempts: jsii.Number(8), MaximumEventAgeInSeconds: jsii.Number(3600),
			},
			DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: rt.taskEventsDLQ.AttrArn()},
		}},
	})
	awslambda.NewCfnPermission(s, jsii.String("TaskEventsFunctionRulePermission"), &awslambda.CfnPermissionProps{
		Action: jsii.String("lambda:InvokeFunction"), FunctionName: fn.FunctionName(),
		Principal: jsii.String("events.amazonaws.com"), SourceArn: rule.AttrArn(),
	})
	awssqs.NewCfnQueuePolicy(s, jsii.String("TaskEventsDeadLetterQueuePolicy"), &awssqs.CfnQueuePolicyProps{
		Queues: jsii.Strings(*rt.taskEventsDLQ.Ref()),
		PolicyDocument: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("TaskStateChangeRuleDeadLetters"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
				Actions:    jsii.Strings("sqs:SendMessage"),
				Resources:  &[]*string{rt.taskEventsDLQ.AttrArn()},
				Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": rule.AttrArn()}},
			}),
		}}),
	})
}

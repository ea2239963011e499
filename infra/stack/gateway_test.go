package stack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// What the app promises about the streaming gateway and the session secrets, on the CDK
// template itself (parity_test.go then holds template.yaml to the same; internal/infratest checks
// the SAM side in more depth).

func TestGatewayService(t *testing.T) {
	must(t, "at least two Fargate tasks in the two task subnets, behind the target group", func() {
		synthed.HasResourceProperties(jsii.String("AWS::ECS::Service"), obj{
			"Cluster": obj{"Ref": "GatewayCluster"}, "LaunchType": "FARGATE", "DesiredCount": 2,
			"NetworkConfiguration": obj{"AwsvpcConfiguration": obj{
				"Subnets": obj{"Fn::If": []any{"CreateSessionNetwork",
					[]any{obj{"Ref": "SessionSubnetA"}, obj{"Ref": "SessionSubnetB"}},
					[]any{obj{"Fn::Sub": "${SessionSubnetId1}"}, obj{"Fn::Sub": "${SessionSubnetId2}"}}}},
				"SecurityGroups": []any{obj{"Ref": "GatewaySecurityGroup"}},
			}},
			"LoadBalancers": []any{obj{"ContainerName": "gateway", "ContainerPort": 8080, "TargetGroupArn": obj{"Ref": "GatewayTargetGroup"}}},
		})
	})
	must(t, "the two task subnets are in two zones", func() {
		for i, id := range []string{"SessionSubnetA", "SessionSubnetB"} {
			found := synthed.FindResources(jsii.String("AWS::EC2::Subnet"), obj{"Properties": assertions.Match_ObjectLike(&obj{
				"AvailabilityZone": obj{"Fn::Select": []any{i, obj{"Fn::GetAZs": ""}}}})})
			if _, ok := (*found)[id]; !ok {
				t.Errorf("%s is not in zone %d", id, i)
			}
		}
	})
	must(t, "the gateway image on 8080, health-checked at /gateway/healthz", func() {
		synthed.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), obj{
			"ContainerDefinitions": []any{assertions.Match_ObjectLike(&obj{
				"Name": "gateway", "Image": obj{"Ref": "GatewayImageUri"},
				"PortMappings": []any{obj{"ContainerPort": 8080, "Protocol": "tcp"}},
			})},
			"TaskRoleArn": obj{"Fn::GetAtt": []any{"GatewayTaskRole", "Arn"}},
		})
		synthed.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), obj{
			"HealthCheckPath": "/gateway/healthz", "Port": 8080, "TargetType": "ip"})
	})
	must(t, "between 2 and GatewayMaxTasks, target tracking on CPU and memory", func() {
		synthed.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), obj{
			"MinCapacity": 2, "MaxCapacity": obj{"Ref": "GatewayMaxTasks"}})
		for _, m := range []string{"ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"} {
			synthed.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalingPolicy"), obj{
				"PolicyType": "TargetTrackingScaling",
				"TargetTrackingScalingPolicyConfiguration": assertions.Match_ObjectLike(&obj{
					"PredefinedMetricSpecification": obj{"PredefinedMetricType": m}}),
			})
		}
	})
	must(t, "an internal load balancer", func() {
		synthed.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), obj{"Scheme": "internal"})
	})
}

// securityGroupIngress is each security group's inline ingress, as JSON.
func securityGroupIngress(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for id, r := range cdkTemplate(t)["Resources"].(map[string]any) {
		res := r.(map[string]any)
		switch res["Type"] {
		case "AWS::EC2::SecurityGroup":
			props, _ := res["Properties"].(map[string]any)
			ingress, _ := props["SecurityGroupIngress"].([]any)
			out[id] = []string{}
			for _, rule := range ingress {
				b, _ := json.Marshal(rule)
				out[id] = append(out[id], string(b))
			}
		case "AWS::EC2::SecurityGroupIngress":
			t.Errorf("separate ingress rule %s: keep every rule in its group", id)
		}
	}
	return out
}

func TestGatewayNetwork(t *testing.T) {
	ingress := securityGroupIngress(t)
	for sg, rules := range ingress {
		for _, r := range rules {
			if strings.Contains(r, `"0.0.0.0/0"`) || strings.Contains(r, `"::/0"`) {
				t.Errorf("%s admits the internet: %s", sg, r)
			}
		}
	}
	want := map[string]string{
		"SessionSecurityGroup": `"FromPort":5900,"IpProtocol":"tcp","SourceSecurityGroupId":{"Ref":"GatewaySecurityGroup"},"ToPort":5900}`,
		"GatewaySecurityGroup": `"FromPort":8080,"IpProtocol":"tcp","SourceSecurityGroupId":{"Ref":"GatewayLoadBalancerSecurityGroup"},"ToPort":8080}`,
		"GatewayLoadBalancerSecurityGroup": `"FromPort":80,"IpProtocol":"tcp","SourcePrefixListId":{"Fn::If":["HasCloudFrontPrefixListId",` +
			`{"Ref":"CloudFrontPrefixListId"},{"Fn::FindInMap":["CloudFrontOriginFacingPrefixList",{"Ref":"AWS::Region"},"PrefixListId"]}]},"ToPort":80}`,
	}
	for sg, rule := range want {
		if got := ingress[sg]; len(got) != 1 || !strings.HasSuffix(got[0], rule) {
			t.Errorf("%s ingress %v, want only …%s", sg, got, rule)
		}
	}
}

func TestGatewayCloudFront(t *testing.T) {
	must(t, "the WebSocket behavior: uncached, handshake headers forwarded", func() {
		synthed.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), obj{
			"DistributionConfig": assertions.Match_ObjectLike(&obj{
				"Origins": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&obj{
					"Id": "gateway", "VpcOriginConfig": obj{"VpcOriginId": obj{"Fn::GetAtt": []any{"GatewayVpcOrigin", "Id"}}}})}),
				"CacheBehaviors": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&obj{
					"PathPattern": "/gateway/ws/*", "CachePolicyId": cachingDisabled, "ViewerProtocolPolicy": "https-only",
					"OriginRequestPolicyId": obj{"Ref": "GatewayOriginRequestPolicy"},
				})}),
			}),
		})
		synthed.HasResourceProperties(jsii.String("AWS::CloudFront::OriginRequestPolicy"), obj{
			"OriginRequestPolicyConfig": assertions.Match_ObjectLike(&obj{"HeadersConfig": obj{
				"HeaderBehavior": "whitelist",
				"Headers":        assertions.Match_ArrayWith(&[]any{"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol"}),
			}}),
		})
	})
	must(t, "noVNC cached", func() {
		synthed.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), obj{
			"DistributionConfig": assertions.Match_ObjectLike(&obj{"CacheBehaviors": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&obj{"PathPattern": "/gateway/novnc/*", "CachePolicyId": cachingOptimized})})}),
		})
	})
}

// grantsOn lists "<role> <action>" for every identity-policy statement that names resource.
func grantsOn(t *testing.T, resource string) []string {
	var out []string
	for id, r := range cdkTemplate(t)["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::IAM::Role" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		policies, _ := props["Policies"].([]any)
		for _, pol := range policies {
			statements, _ := pol.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)
			for _, st := range statements {
				b, _ := json.Marshal(st.(map[string]any)["Resource"])
				if !strings.Contains(string(b), `"`+resource+`"`) && !strings.Contains(string(b), "${"+resource+".") {
					continue
				}
				actions := st.(map[string]any)["Action"]
				list, ok := actions.([]any)
				if !ok {
					list = []any{actions}
				}
				for _, a := range list {
					out = append(out, fmt.Sprintf("%s %s", id, a))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestSessionSecretsAccess: the environment files are read by the session execution role alone
// (the task role is the desktop's own identity), written by the runtime; the keyring is read by
// the sessions function and the gateway only.
func TestSessionSecretsAccess(t *testing.T) {
	for resource, want := range map[string][]string{
		"SessionEnvBucket": {"ProcessorFunctionRole s3:DeleteObject", "ProcessorFunctionRole s3:PutObject",
			"SessionExecutionRole s3:GetBucketLocation", "SessionExecutionRole s3:GetObject"},
		"SessionEnvKey":    {"ProcessorFunctionRole kms:GenerateDataKey", "SessionExecutionRole kms:Decrypt"},
		"TicketKeysSecret": {"GatewayTaskRole secretsmanager:GetSecretValue", "SessionsFunctionRole secretsmanager:GetSecretValue"},
	} {
		if got := grantsOn(t, resource); !slices.Equal(got, want) {
			t.Errorf("grants on %s: %v, want %v", resource, got, want)
		}
	}
	must(t, "the homes refuse mounts without TLS or an access point, and root", func() {
		synthed.HasResourceProperties(jsii.String("AWS::EFS::FileSystem"), obj{"FileSystemPolicy": assertions.Match_ObjectLike(&obj{
			"Statement": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&obj{"Sid": "DenyWithoutTls", "Effect": "Deny"}),
				assertions.Match_ObjectLike(&obj{"Sid": "DenyWithoutAccessPoint", "Effect": "Deny"}),
				assertions.Match_ObjectLike(&obj{"Sid": "DenyRootAccess", "Effect": "Deny"}),
			}),
		})})
	})
}

// The same distribution is the console's origin: its files from a private bucket through origin
// access control, client routes rewritten on that behaviour only, the HTTP API and the WebSocket
// API behind it uncached with every header but Host.
func TestConsoleHosting(t *testing.T) {
	must(t, "a private bucket read by this distribution only", func() {
		synthed.HasResourceProperties(jsii.String("AWS::S3::Bucket"), obj{
			"PublicAccessBlockConfiguration": obj{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
			"OwnershipControls":              obj{"Rules": []any{obj{"ObjectOwnership": "BucketOwnerEnforced"}}},
		})
		synthed.HasResourceProperties(jsii.String("AWS::S3::BucketPolicy"), obj{
			"Bucket": obj{"Ref": "ConsoleBucket"},
			"PolicyDocument": assertions.Match_ObjectLike(&obj{"Statement": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&obj{
				"Effect": "Allow", "Action": "s3:GetObject", "Principal": obj{"Service": "cloudfront.amazonaws.com"},
				"Condition": obj{"StringEquals": obj{"AWS:SourceArn": obj{"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}}},
			})})}),
		})
	})
	must(t, "the bucket behind origin access control, client routes on the default behaviour", func() {
		synthed.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), obj{
			"DistributionConfig": assertions.Match_ObjectLike(&obj{
				"Origins": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&obj{
					"Id": "console", "OriginAccessControlId": obj{"Fn::GetAtt": []any{"ConsoleOriginAccessControl", "Id"}}})}),
				"DefaultCacheBehavior": assertions.Match_ObjectLike(&obj{
					"TargetOriginId": "console",
					"FunctionAssociations": []any{obj{"EventType": "viewer-request",
						"FunctionARN": obj{"Fn::GetAtt": []any{"ConsoleRoutesFunction", "FunctionMetadata.FunctionARN"}}}},
				}),
			}),
		})
	})
	must(t, "/api/* and the WebSocket: uncached, every header but Host", func() {
		for _, b := range []obj{
			{"PathPattern": "/api/*", "TargetOriginId": "api"},
			{"PathPattern": obj{"Fn::Sub": "/${StageName}"}, "TargetOriginId": "websocket"},
		} {
			b["CachePolicyId"], b["OriginRequestPolicyId"], b["ViewerProtocolPolicy"] = cachingDisabled, allViewerExceptHostHeader, "https-only"
			synthed.HasResourceProperties(jsii.String("AWS::CloudFront::Distribution"), obj{
				"DistributionConfig": assertions.Match_ObjectLike(&obj{"CacheBehaviors": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&b)})}),
			})
		}
	})
}

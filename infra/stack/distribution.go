package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
)

// The stack's one public HTTPS origin (template.yaml says why each part): the web console's
// files from a private bucket (origin access control), /api/* to the HTTP API, /<StageName> to
// the WebSocket API and /gateway/* to the streaming gateway. L1 throughout: the L2 Distribution
// and S3 origins add bucket policies and names of their own that the template decides itself.

// CloudFront's managed cache and origin request policies.
const (
	cachingDisabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	cachingOptimized          = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	allViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

// consoleRoutesCode sends the console's own addresses (no file extension) to /index.html, on
// the bucket's behaviour only.
const consoleRoutesCode = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.lastIndexOf('.') <= uri.lastIndexOf('/')) {
    request.uri = '/index.html';
  }
  return request;
}
`

// consoleCSP is the page's Content-Security-Policy in AWS (internal/local/console's, with the
// sign-in issuer and the WebSocket API reachable over HTTPS).
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' https: wss:; " +
	"frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// newDistribution creates the console's bucket and the distribution in front of everything.
func newDistribution(s awscdk.Stack, r *refs) {
	g := r.gateway
	bucket := awss3.NewCfnBucket(s, jsii.String("ConsoleBucket"), &awss3.CfnBucketProps{
		BucketEncryption:               sseS3(),
		PublicAccessBlockConfiguration: blockPublicAccess(),
		OwnershipControls:              ownerEnforced(),
	})
	// Only the build output: deleted with the stack (emptied first, docs/deploy.md).
	bucket.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	// CloudFront reads objects for this distribution only; no s3:ListBucket.
	read := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudFrontReadsTheConsole"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudfront.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:GetObject"),
		Resources:  &[]*string{jsii.String(*bucket.AttrArn() + "/*")},
		Conditions: &map[string]any{"StringEquals": map[string]any{
			"AWS:SourceArn": awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"), nil)}},
	})
	denyInsecureTransport(s, "ConsoleBucketPolicy", bucket, read)

	oac := awscloudfront.NewCfnOriginAccessControl(s, jsii.String("ConsoleOriginAccessControl"), &awscloudfront.CfnOriginAccessControlProps{
		OriginAccessControlConfig: &awscloudfront.CfnOriginAccessControl_OriginAccessControlConfigProperty{
			Name:                          awscdk.Fn_Sub(jsii.String("${AWS::StackName}-${AWS::Region}-console"), nil),
			Description:                   jsii.String("CloudFront reads the console bucket (SigV4 on every request)"),
			OriginAccessControlOriginType: jsii.String("s3"),
			SigningBehavior:               jsii.String("always"),
			SigningProtocol:               jsii.String("sigv4"),
		},
	})
	routes := awscloudfront.NewCfnFunction(s, jsii.String("ConsoleRoutesFunction"), &awscloudfront.CfnFunctionProps{
		Name:        awscdk.Fn_Sub(jsii.String("${AWS::StackName}-${AWS::Region}-console-routes"), nil),
		AutoPublish: jsii.Bool(true),
		FunctionConfig: &awscloudfront.CfnFunction_FunctionConfigProperty{
			Comment: jsii.String("Console client routes (no file extension) to /index.html"), Runtime: jsii.String("cloudfront-js-2.0"),
		},
		FunctionCode: jsii.String(consoleRoutesCode),
	})
	headers := awscloudfront.NewCfnResponseHeadersPolicy(s, jsii.String("ConsoleResponseHeadersPolicy"), &awscloudfront.CfnResponseHeadersPolicyProps{
		ResponseHeadersPolicyConfig: &awscloudfront.CfnResponseHeadersPolicy_ResponseHeadersPolicyConfigProperty{
			Name:    awscdk.Fn_Sub(jsii.String("${AWS::StackName}-${AWS::Region}-console"), nil),
			Comment: jsii.String("Web console security headers"),
			SecurityHeadersConfig: &awscloudfront.CfnResponseHeadersPolicy_SecurityHeadersConfigProperty{
				ContentSecurityPolicy: &awscloudfront.CfnResponseHeadersPolicy_ContentSecurityPolicyProperty{
					ContentSecurityPolicy: jsii.String(consoleCSP), Override: jsii.Bool(true)},
				ContentTypeOptions: &awscloudfront.CfnResponseHeadersPolicy_ContentTypeOptionsProperty{Override: jsii.Bool(true)},
				FrameOptions: &awscloudfront.CfnResponseHeadersPolicy_FrameOptionsProperty{
					FrameOption: jsii.String("DENY"), Override: jsii.Bool(true)},
				ReferrerPolicy: &awscloudfront.CfnResponseHeadersPolicy_ReferrerPolicyProperty{
					ReferrerPolicy: jsii.String("no-referrer"), Override: jsii.Bool(true)},
				StrictTransportSecurity: &awscloudfront.CfnResponseHeadersPolicy_StrictTransportSecurityProperty{
					AccessControlMaxAgeSec: jsii.Number(31536000), IncludeSubdomains: jsii.Bool(false), Override: jsii.Bool(true)},
			},
		},
	})

	apiOrigin := func(id, api string) *awscloudfront.CfnDistribution_OriginProperty {
		return &awscloudfront.CfnDistribution_OriginProperty{
			Id:         jsii.String(id),
			DomainName: awscdk.Fn_Sub(jsii.String("${"+api+"}.execute-api.${AWS::Region}.${AWS::URLSuffix}"), nil),
			CustomOriginConfig: &awscloudfront.CfnDistribution_CustomOriginConfigProperty{
				OriginProtocolPolicy: jsii.String("https-only"), OriginSslProtocols: jsii.Strings("TLSv1.2"),
			},
		}
	}
	behavior := func(path *string, origin, viewer, cache string, request *string, compress bool) *awscloudfront.CfnDistribution_CacheBehaviorProperty {
		return &awscloudfront.CfnDistribution_CacheBehaviorProperty{
			PathPattern: path, TargetOriginId: jsii.String(origin), ViewerProtocolPolicy: jsii.String(viewer),
			AllowedMethods: jsii.Strings("GET", "HEAD"), CachePolicyId: jsii.String(cache), OriginRequestPolicyId: request,
			Compress: jsii.Bool(compress),
		}
	}
	api := behavior(jsii.String("/api/*"), "api", "https-only", cachingDisabled, jsii.String(allViewerExceptHostHeader), true)
	// Every method: a redirect to HTTPS would drop a POST's body, hence https-only.
	api.AllowedMethods = jsii.Strings("GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE")

	g.distribution = awscloudfront.NewCfnDistribution(s, jsii.String("Distribution"), &awscloudfront.CfnDistributionProps{
		DistributionConfig: &awscloudfront.CfnDistribution_DistributionConfigProperty{
			Comment:           awscdk.Fn_Sub(jsii.String("${AWS::StackName} console, API, WebSocket and streaming gateway"), nil),
			Enabled:           jsii.Bool(true),
			HttpVersion:       jsii.String("http2"),
			Ipv6Enabled:       jsii.Bool(true),
			PriceClass:        jsii.String("PriceClass_All"),
			DefaultRootObject: jsii.String("index.html"),
			Aliases: awscdk.Token_AsList(awscdk.Fn_ConditionIf(jsii.String("HasPublicDomain"),
				[]*string{awscdk.Fn_Ref(jsii.String("PublicDomainName"))}, awscdk.Aws_NO_VALUE()), nil),
			ViewerCertificate: awscdk.Fn_ConditionIf(jsii.String("HasPublicDomain"),
				map[string]any{"AcmCertificateArn": awscdk.Fn_Ref(jsii.String("PublicCertificateArn")), "SslSupportMethod": "sni-only",
					"MinimumProtocolVersion": "TLSv1.2_2021"},
				map[string]any{"CloudFrontDefaultCertificate": true}),
			Origins: []any{
				&awscloudfront.CfnDistribution_OriginProperty{
					Id:                    jsii.String("console"),
					DomainName:            bucket.AttrRegionalDomainName(),
					OriginAccessControlId: oac.AttrId(),
					S3OriginConfig:        &awscloudfront.CfnDistribution_S3OriginConfigProperty{OriginAccessIdentity: jsii.String("")},
				},
				apiOrigin("api", "HttpApi"),
				apiOrigin("websocket", "WebSocketApi"),
				&awscloudfront.CfnDistribution_OriginProperty{
					Id:              jsii.String("gateway"),
					DomainName:      g.loadBalancer.AttrDnsName(),
					VpcOriginConfig: &awscloudfront.CfnDistribution_VpcOriginConfigProperty{VpcOriginId: g.vpcOrigin.AttrId()},
				},
			},
			// The console's files, cached as they say; client routes to /index.html.
			DefaultCacheBehavior: &awscloudfront.CfnDistribution_DefaultCacheBehaviorProperty{
				TargetOriginId: jsii.String("console"), ViewerProtocolPolicy: jsii.String("redirect-to-https"),
				AllowedMethods: jsii.Strings("GET", "HEAD"), CachePolicyId: jsii.String(cachingOptimized),
				ResponseHeadersPolicyId: headers.Ref(), Compress: jsii.Bool(true),
				FunctionAssociations: []any{&awscloudfront.CfnDistribution_FunctionAssociationProperty{
					EventType: jsii.String("viewer-request"), FunctionArn: routes.AttrFunctionMetadataFunctionArn(),
				}},
			},
			CacheBehaviors: []any{
				// The viewer's WebSocket (wss:// only): never cached, handshake headers forwarded.
				behavior(jsii.String("/gateway/ws/*"), "gateway", "https-only", cachingDisabled, g.originRequest.Ref(), false),
				// noVNC, static and versioned with the gateway image: cached at the edge.
				behavior(jsii.String("/gateway/novnc/*"), "gateway", "redirect-to-https", cachingOptimized, nil, true),
				// Viewer pages and the health check: per session, never cached.
				behavior(jsii.String("/gateway/*"), "gateway", "redirect-to-https", cachingDisabled, g.originRequest.Ref(), true),
				// The HTTP API: never cached; every header but Host (API Gateway routes on its own
				// name), so Authorization, X-API-Key, If-Match, Idempotency-Key and the query string pass.
				api,
				// The WebSocket API at its stage's path (?token=… in the query string), never cached.
				behavior(awscdk.Fn_Sub(jsii.String("/${StageName}"), nil), "websocket", "https-only", cachingDisabled,
					jsii.String(allViewerExceptHostHeader), false),
			},
		},
	})
	// cfn-lint resolves PublicCertificateArn to its empty default, but that branch is only taken
	// with PublicDomainName, and then the PublicDomain rule requires the ARN.
	g.distribution.AddMetadata(jsii.String("cfn-lint"), map[string]any{"config": map[string]any{"ignore_checks": []string{"W1030"}}})
	awscdk.Validations_Of(g.distribution).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::W1030"),
		Reason: jsii.String("PublicCertificateArn is only used with PublicDomainName, and then the PublicDomain rule requires it"),
	})
	// CDK's validator reads both branches of the Fn::If as one certificate; each branch names one.
	awscdk.Validations_Of(g.distribution).Acknowledge(&awscdk.Acknowledgment{
		Id:     jsii.String("CloudFormation-Validate::F3014"),
		Reason: jsii.String("ViewerCertificate is an Fn::If whose branches each name exactly one certificate"),
	})
}

package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"streamspace/internal/routes"
)

// httpAccessLogFormat is the HTTP API's access log line (template.yaml HttpApi AccessLogSettings).
const httpAccessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","method":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status","responseLength":"$context.responseLength","latency":"$context.responseLatency","integrationError":"$context.integrationErrorMessage"}`

// newHTTPAPI is the HTTP API (payload format 2.0) with one route per entry of routes.All, the
// table the functions' routers and the local gateway read. SAM writes the same API as an
// OpenAPI body; here the L2 constructs write routes, integrations and the per-route invoke
// permissions as resources (the parity test compares the two forms). No authorizer: the
// functions authenticate their callers (template.yaml says why).
func newHTTPAPI(s awscdk.Stack, r *refs) {
	api := awsapigatewayv2.NewHttpApi(s, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:     awscdk.Aws_STACK_NAME(),
		Description: jsii.String("StreamSpace HTTP API (payload format 2.0)"),
		CorsPreflight: &awsapigatewayv2.CorsPreflightOptions{
			AllowOrigins: r.params.CorsAllowedOrigins.ValueAsList(),
			AllowMethods: &[]awsapigatewayv2.CorsHttpMethod{
				awsapigatewayv2.CorsHttpMethod_GET, awsapigatewayv2.CorsHttpMethod_POST,
				awsapigatewayv2.CorsHttpMethod_PUT, awsapigatewayv2.CorsHttpMethod_PATCH,
				awsapigatewayv2.CorsHttpMethod_DELETE, awsapigatewayv2.CorsHttpMethod_OPTIONS,
			},
			AllowHeaders:  jsii.Strings("authorization", "content-type", "x-api-key", "idempotency-key", "if-match"),
			ExposeHeaders: jsii.Strings("etag", "location", "idempotent-replayed", "retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),
			MaxAge:        awscdk.Duration_Seconds(jsii.Number(600)),
		},
	})
	overrideID(api, "HttpApi")
	overrideID(api.DefaultStage(), "HttpApiApiGatewayDefaultStage")

	// SEC-09: stage throttling over all clients, and an access log line per request.
	accessLogs := awslogs.NewCfnLogGroup(s, jsii.String("HttpApiAccessLogGroup"), &awslogs.CfnLogGroupProps{
		LogGroupName:    awscdk.Fn_Sub(jsii.String("/aws/apigateway/${AWS::StackName}/http-api"), nil),
		RetentionInDays: r.params.LogRetentionDays.ValueAsNumber(),
	})
	accessLogs.ApplyRemovalPolicy(awscdk.RemovalPolicy_DESTROY, nil)
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.AddPropertyOverride(jsii.String("DefaultRouteSettings"), map[string]any{
		"ThrottlingRateLimit":  r.params.HttpApiThrottlingRateLimit.ValueAsNumber(),
		"ThrottlingBurstLimit": r.params.HttpApiThrottlingBurstLimit.ValueAsNumber(),
	})
	stage.AddPropertyOverride(jsii.String("AccessLogSettings"), map[string]any{
		"DestinationArn": accessLogs.AttrArn(),
		"Format":         httpAccessLogFormat,
	})

	integrations := map[string]awsapigatewayv2integrations.HttpLambdaIntegration{}
	for _, route := range routes.All {
		integ, ok := integrations[route.Function]
		if !ok {
			integ = awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(logicalID(route.Function)+"Integration"), r.fn(route.Function),
				&awsapigatewayv2integrations.HttpLambdaIntegrationProps{PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0()})
			integrations[route.Function] = integ
		}
		opts := &awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(route.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod(route.Method)},
			Integration: integ,
		}
		api.AddRoutes(opts)
	}
}

package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
)

// The WebSocket API is written with L1 constructs, as template.yaml writes it with raw
// AWS::ApiGatewayV2 resources: the L2 WebSocketApi would name and wire things its own way
// (one integration per route, its own stage), and the two stacks would no longer be
// interchangeable.

func newWebSocketAPI(s awscdk.Stack) awsapigatewayv2.CfnApi {
	return awsapigatewayv2.NewCfnApi(s, jsii.String("WebSocketApi"), &awsapigatewayv2.CfnApiProps{
		Name:                     jsii.String(*awscdk.Aws_STACK_NAME() + "-websocket"),
		Description:              jsii.String("StreamSpace live notifications"),
		ProtocolType:             jsii.String("WEBSOCKET"),
		RouteSelectionExpression: jsii.String("$request.body.action"),
	})
}

// lambdaInvocationURI is the API Gateway integration URI of a function.
func lambdaInvocationURI(logicalID string) *string {
	return awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${"+logicalID+".Arn}/invocations"), nil)
}

func newWebSocketRoutes(s awscdk.Stack, r *refs) {
	api := r.webSocketAPI
	authorizer := awsapigatewayv2.NewCfnAuthorizer(s, jsii.String("WebSocketAuthorizer"), &awsapigatewayv2.CfnAuthorizerProps{
		ApiId:          api.Ref(),
		Name:           jsii.String("LambdaAuthorizer"),
		AuthorizerType: jsii.String("REQUEST"),
		AuthorizerUri:  lambdaInvocationURI(logicalID("authorizer")),
		IdentitySource: jsii.Strings("route.request.querystring.token"),
	})
	awsapigatewayv2.NewCfnIntegration(s, jsii.String("WebSocketIntegration"), &awsapigatewayv2.CfnIntegrationProps{
		ApiId:           api.Ref(),
		Description:     jsii.String("$connect, $disconnect and $default all go to WebsocketFunction"),
		IntegrationType: jsii.String("AWS_PROXY"),
		IntegrationUri:  lambdaInvocationURI(logicalID("websocket")),
	})
	target := awscdk.Fn_Sub(jsii.String("integrations/${WebSocketIntegration}"), nil)
	connect := awsapigatewayv2.NewCfnRoute(s, jsii.String("WebSocketConnectRoute"), &awsapigatewayv2.CfnRouteProps{
		ApiId: api.Ref(), RouteKey: jsii.String("$connect"), AuthorizationType: jsii.String("CUSTOM"),
		AuthorizerId: authorizer.Ref(), OperationName: jsii.String("Connect"), Target: target,
	})
	disconnect := awsapigatewayv2.NewCfnRoute(s, jsii.String("WebSocketDisconnectRoute"), &awsapigatewayv2.CfnRouteProps{
		ApiId: api.Ref(), RouteKey: jsii.String("$disconnect"), AuthorizationType: jsii.String("NONE"),
		OperationName: jsii.String("Disconnect"), Target: target,
	})
	def := awsapigatewayv2.NewCfnRoute(s, jsii.String("WebSocketDefaultRoute"), &awsapigatewayv2.CfnRouteProps{
		ApiId: api.Ref(), RouteKey: jsii.String("$default"), AuthorizationType: jsii.String("NONE"),
		OperationName: jsii.String("Default"),
		// Send the function's response body (e.g. the pong to a ping) back to the client.
		RouteResponseSelectionExpression: jsii.String("$default"),
		Target:                           target,
	})
	defResponse := awsapigatewayv2.NewCfnRouteResponse(s, jsii.String("WebSocketDefaultRouteResponse"), &awsapigatewayv2.CfnRouteResponseProps{
		ApiId: api.Ref(), RouteId: def.Ref(), RouteResponseKey: jsii.String("$default"),
	})
	stage := awsapigatewayv2.NewCfnStage(s, jsii.String("WebSocketStage"), &awsapigatewayv2.CfnStageProps{
		ApiId:      api.Ref(),
		StageName:  r.params.StageName.ValueAsString(),
		AutoDeploy: jsii.Bool(true),
		DefaultRouteSettings: &awsapigatewayv2.CfnStage_RouteSettingsProperty{
			ThrottlingBurstLimit: jsii.Number(500),
			ThrottlingRateLimit:  jsii.Number(1000),
		},
	})
	for _, dep := range []awscdk.CfnResource{connect, disconnect, def, defResponse} {
		stage.AddResourceDependency(dep, nil)
	}

	awslambda.NewCfnPermission(s, jsii.String("WebsocketFunctionInvokePermission"), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: r.fn("websocket").FunctionName(),
		Principal:    jsii.String("apigateway.amazonaws.com"),
		SourceArn:    awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/*"), nil),
	})
	awslambda.NewCfnPermission(s, jsii.String("AuthorizerFunctionWebSocketInvokePermission"), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: r.fn("authorizer").FunctionName(),
		Principal:    jsii.String("apigateway.amazonaws.com"),
		SourceArn:    awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/authorizers/${WebSocketAuthorizer}"), nil),
	})
}

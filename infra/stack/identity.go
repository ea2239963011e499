package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/jsii-runtime-go"
)

// userPool is the optional Cognito user pool (CreateUserPool): e-mail sign-in, role groups
// admin and operator (carried in cognito:groups, the default JwtRoleClaim), one public client.
// L1 because the whole set hangs on one condition, which the L2 constructs do not take.
type userPool struct {
	Pool   awscognito.CfnUserPool
	Client awscognito.CfnUserPoolClient
}

func newUserPool(s awscdk.Stack, p *parameters) *userPool {
	onCondition := func(r awscdk.CfnResource) { r.CfnOptions().SetCondition(p.CreateUserPoolCond) }
	pool := awscognito.NewCfnUserPool(s, jsii.String("UserPool"), &awscognito.CfnUserPoolProps{
		UserPoolName:           jsii.String(*awscdk.Aws_STACK_NAME() + "-users"),
		UsernameAttributes:     jsii.Strings("email"),
		UsernameConfiguration:  &awscognito.CfnUserPool_UsernameConfigurationProperty{CaseSensitive: jsii.Bool(false)},
		AutoVerifiedAttributes: jsii.Strings("email"),
		Schema: []any{&awscognito.CfnUserPool_SchemaAttributeProperty{
			Name: jsii.String("email"), AttributeDataType: jsii.String("String"),
			Required: jsii.Bool(true), Mutable: jsii.Bool(true),
		}},
		Policies: &awscognito.CfnUserPool_PoliciesProperty{
			PasswordPolicy: &awscognito.CfnUserPool_PasswordPolicyProperty{
				MinimumLength: jsii.Number(12), RequireUppercase: jsii.Bool(true), RequireLowercase: jsii.Bool(true),
				RequireNumbers: jsii.Bool(true), RequireSymbols: jsii.Bool(true),
				TemporaryPasswordValidityDays: jsii.Number(7),
			},
		},
		AccountRecoverySetting: &awscognito.CfnUserPool_AccountRecoverySettingProperty{
			RecoveryMechanisms: []any{&awscognito.CfnUserPool_RecoveryOptionProperty{
				Name: jsii.String("verified_email"), Priority: jsii.Number(1),
			}},
		},
		// No public sign-up (SEC-05): users are created by an administrator, unless
		// SelfSignUpEmailDomains lists domains; then PresignupFunction refuses other addresses.
		AdminCreateUserConfig: &awscognito.CfnUserPool_AdminCreateUserConfigProperty{
			AllowAdminCreateUserOnly: awscdk.Fn_ConditionIf(jsii.String("AllowSelfSignUp"), false, true),
		},
		// The trigger's ARN is written out: the function's environment names the pool, so a
		// reference back would be a cycle.
		LambdaConfig: awscdk.Fn_ConditionIf(jsii.String("AllowSelfSignUp"),
			map[string]any{"PreSignUp": awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-presignup"), nil)},
			awscdk.Aws_NO_VALUE()),
		DeletionProtection: jsii.String("ACTIVE"),
	})
	onCondition(pool)
	// User accounts: keep them if the stack goes away.
	pool.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)

	for _, g := range []struct {
		id, name, desc string
		precedence     float64
	}{
		{"UserPoolAdminGroup", "admin", "StreamSpace administrators", 0},
		{"UserPoolOperatorGroup", "operator", "StreamSpace operators", 1},
	} {
		onCondition(awscognito.NewCfnUserPoolGroup(s, jsii.String(g.id), &awscognito.CfnUserPoolGroupProps{
			UserPoolId: pool.Ref(), GroupName: jsii.String(g.name), Description: jsii.String(g.desc),
			Precedence: jsii.Number(g.precedence),
		}))
	}

	// A public client (the web console, the CLI): no secret; SRP sign-in and refresh, and the
	// hosted UI's authorization code flow with PKCE back to the console (HasConsoleSignIn).
	signIn := func(yes any) any {
		return awscdk.Fn_ConditionIf(jsii.String("HasConsoleSignIn"), yes, awscdk.Aws_NO_VALUE())
	}
	consoleURL := func(path string) any {
		return signIn([]any{awscdk.Fn_Sub(jsii.String("https://${Host}"+path), &map[string]*string{
			"Host": ifCondition("HasPublicDomain", awscdk.Fn_Ref(jsii.String("PublicDomainName")), awscdk.Fn_Ref(jsii.String("ConsoleHostName")))})})
	}
	client := awscognito.NewCfnUserPoolClient(s, jsii.String("UserPoolClient"), &awscognito.CfnUserPoolClientProps{
		UserPoolId:                      pool.Ref(),
		ClientName:                      jsii.String(*awscdk.Aws_STACK_NAME() + "-app"),
		GenerateSecret:                  jsii.Bool(false),
		ExplicitAuthFlows:               jsii.Strings("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"),
		SupportedIdentityProviders:      jsii.Strings("COGNITO"),
		AllowedOAuthFlowsUserPoolClient: awscdk.Fn_ConditionIf(jsii.String("HasConsoleSignIn"), true, false),
		AllowedOAuthFlows:               awscdk.Token_AsList(signIn([]string{"code"}), nil),
		AllowedOAuthScopes:              awscdk.Token_AsList(signIn([]string{"openid", "email", "profile"}), nil),
		CallbackUrLs:                    awscdk.Token_AsList(consoleURL("/auth/callback"), nil),
		LogoutUrLs:                      awscdk.Token_AsList(consoleURL("/"), nil),
		PreventUserExistenceErrors:      jsii.String("ENABLED"),
		EnableTokenRevocation:           jsii.Bool(true),
		AccessTokenValidity:             jsii.Number(60),
		IdTokenValidity:                 jsii.Number(60),
		RefreshTokenValidity:            jsii.Number(30),
		TokenValidityUnits: &awscognito.CfnUserPoolClient_TokenValidityUnitsProperty{
			AccessToken: jsii.String("minutes"), IdToken: jsii.String("minutes"), RefreshToken: jsii.String("days"),
		},
	})
	onCondition(client)
	// The hosted UI's domain (https://<prefix>.auth.<region>.amazoncognito.com): the stack's id
	// makes the prefix unique, lower case and free of the words Cognito refuses.
	onCondition(awscognito.NewCfnUserPoolDomain(s, jsii.String("UserPoolDomain"), &awscognito.CfnUserPoolDomainProps{
		UserPoolId: pool.Ref(),
		Domain: awscdk.Fn_Sub(jsii.String("streamspace-${Id}"), &map[string]*string{
			"Id": awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), nil))}),
	}))
	return &userPool{Pool: pool, Client: client}
}

package infratest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"streamspace/internal/ddb"
)

// Abuse limits and deploy-side hardening (SEC-05, SEC-09; deploy findings 7, 15, 18), checked
// on any template decoded from JSON: the SAM template after its transform (TestHardening) and
// the CDK app's synthesized template (infra/stack), so both stacks keep them.

// HardeningFindings applies the hardening rules to a template; nil means it follows them.
func HardeningFindings(tmpl map[string]any) []string { return hardeningDiffs(tmpl) }

// The functions that must never be starved by HTTP traffic: the main table's stream readers.
var reservedConsumers = []string{"NotifierFunction", "ProcessorFunction"}

// presignupArn is the PreSignUp trigger's ARN as UserPool names it (written out: the function's
// environment names the pool, so a reference back would be a cycle).
const presignupArn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-presignup"

// signUpDiffs (SEC-05): the user pool admits no public sign-up unless SelfSignUpEmailDomains
// lists domains (condition AllowSelfSignUp), and then only through the PreSignUp trigger that
// checks them.
func signUpDiffs(tmpl cfn) []string {
	up := props(tmpl, "UserPool")
	if up == nil {
		return nil
	}
	var diffs []string
	ifSelf := func(yes, no any) cfn { return cfn{"Fn::If": []any{"AllowSelfSignUp", yes, no}} }
	if got, want := get(up, "AdminCreateUserConfig", "AllowAdminCreateUserOnly"), ifSelf(false, true); !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("UserPool: AdminCreateUserConfig.AllowAdminCreateUserOnly = %v, want %v (no public self sign-up)", got, want))
	}
	if got, want := up["LambdaConfig"], ifSelf(cfn{"PreSignUp": cfn{"Fn::Sub": presignupArn}}, cfn{"Ref": "AWS::NoValue"}); !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("UserPool: LambdaConfig = %v, want %v (self sign-up checked by the PreSignUp trigger)", got, want))
	}
	wantCond := cfn{"Fn::And": []any{cfn{"Condition": "CreateUserPool"}, cfn{"Fn::Not": []any{cfn{"Fn::Equals": []any{cfn{"Ref": "SelfSignUpEmailDomains"}, ""}}}}}}
	if got := get(tmpl, "Conditions", "AllowSelfSignUp"); !reflect.DeepEqual(got, wantCond) {
		diffs = append(diffs, fmt.Sprintf("condition AllowSelfSignUp = %v, want %v (only with an allow-list of e-mail domains)", got, wantCond))
	}
	if got, want := get(props(tmpl, "SessionsFunction"), "Environment", "Variables", "REQUIRE_ROLE_GRANT"), ifSelf("true", "false"); !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("SessionsFunction: REQUIRE_ROLE_GRANT = %v, want %v (self-registered users run nothing until granted a role)", got, want))
	}
	fn := asMap(resources(tmpl)["PresignupFunction"])
	p := props(tmpl, "PresignupFunction")
	if str(fn["Condition"]) != "AllowSelfSignUp" || !reflect.DeepEqual(p["FunctionName"], cfn{"Fn::Sub": "${AWS::StackName}-presignup"}) ||
		!isRef(get(p, "Environment", "Variables", "SELF_SIGN_UP_EMAIL_DOMAINS"), "SelfSignUpEmailDomains") {
		diffs = append(diffs, "PresignupFunction: want Condition AllowSelfSignUp, FunctionName ${AWS::StackName}-presignup and SELF_SIGN_UP_EMAIL_DOMAINS from SelfSignUpEmailDomains")
	}
	invokable := false
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
		pp := props(tmpl, id)
		if slices.Equal(referencedResources(pp["FunctionName"]), []string{"PresignupFunction"}) && str(pp["Principal"]) == "cognito-idp.amazonaws.com" &&
			reflect.DeepEqual(pp["SourceArn"], cfn{"Fn::GetAtt": []any{"UserPool", "Arn"}}) {
			invokable = true
		}
	}
	if !invokable {
		diffs = append(diffs, "PresignupFunction: no permission for cognito-idp.amazonaws.com with SourceArn UserPool.Arn")
	}
	return diffs
}

func hardeningDiffs(tmpl cfn) []string {
	var diffs []string
	res := resources(tmpl)

	diffs = append(diffs, signUpDiffs(tmpl)...)

	// SEC-09: the HTTP API stage is throttled and logs every request to a log group with a retention.
	var httpStage cfn
	for _, id := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Stage") {
		if isRef(props(tmpl, id)["ApiId"], "HttpApi") {
			httpStage = props(tmpl, id)
		}
	}
	if httpStage == nil {
		diffs = append(diffs, "HttpApi has no stage")
	} else {
		for key, param := range map[string]string{"ThrottlingRateLimit": "HttpApiThrottlingRateLimit", "ThrottlingBurstLimit": "HttpApiThrottlingBurstLimit"} {
			if v := get(httpStage, "DefaultRouteSettings", key); !isRef(v, param) {
				diffs = append(diffs, fmt.Sprintf("HttpApi stage: DefaultRouteSettings.%s = %v, want {Ref: %s}", key, v, param))
			}
		}
		dest := referencedOfType(tmpl, get(httpStage, "AccessLogSettings", "DestinationArn"), "AWS::Logs::LogGroup")
		if len(dest) != 1 || str(get(httpStage, "AccessLogSettings", "Format")) == "" {
			diffs = append(diffs, "HttpApi stage: AccessLogSettings must send a Format to one of the stack's log groups")
		} else if props(tmpl, dest[0])["RetentionInDays"] == nil {
			diffs = append(diffs, fmt.Sprintf("HttpApi access log group %s has no RetentionInDays", dest[0]))
		}
	}
	if ws := props(tmpl, "WebSocketStage"); get(ws, "DefaultRouteSettings", "ThrottlingRateLimit") == nil || get(ws, "DefaultRouteSettings", "ThrottlingBurstLimit") == nil {
		diffs = append(diffs, "WebSocketStage: DefaultRouteSettings must set ThrottlingRateLimit and ThrottlingBurstLimit")
	}

	// SEC-09: reserved concurrency for the stream consumers; deploy finding 15: one scheduler run
	// at a time, shorter than its 1-minute period, and a throttled tick dropped within a minute.
	reserve := func(v any) cfn {
		return cfn{"Fn::If": []any{"ReserveConcurrency", v, cfn{"Ref": "AWS::NoValue"}}}
	}
	for _, fn := range reservedConsumers {
		if got, want := props(tmpl, fn)["ReservedConcurrentExecutions"], reserve(cfn{"Ref": "StreamConsumerReservedConcurrency"}); !reflect.DeepEqual(got, want) {
			diffs = append(diffs, fmt.Sprintf("%s: ReservedConcurrentExecutions = %v, want %v", fn, got, want))
		}
	}
	sched := props(tmpl, "SchedulerFunction")
	if got := sched["ReservedConcurrentExecutions"]; !reflect.DeepEqual(got, reserve(float64(1))) {
		diffs = append(diffs, fmt.Sprintf("SchedulerFunction: ReservedConcurrentExecutions = %v, want 1 when ReserveConcurrency", got))
	}
	if t, _ := sched["Timeout"].(float64); t <= 0 || t >= 60 {
		diffs = append(diffs, fmt.Sprintf("SchedulerFunction: Timeout = %v, want below the 60 s tick", sched["Timeout"]))
	}
	var invokeConfig cfn
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventInvokeConfig") {
		if isRef(props(tmpl, id)["FunctionName"], "SchedulerFunction") {
			invokeConfig = props(tmpl, id)
		}
	}
	if age, _ := invokeConfig["MaximumEventAgeInSeconds"].(float64); age <= 0 || age > 60 || invokeConfig["MaximumRetryAttempts"] != float64(0) {
		diffs = append(diffs, fmt.Sprintf("SchedulerFunction: event invoke config %v, want MaximumRetryAttempts 0 and MaximumEventAgeInSeconds at most 60", invokeConfig))
	}
	if cond := get(tmpl, "Conditions", "ReserveConcurrency"); !reflect.DeepEqual(cond,
		cfn{"Fn::Not": []any{cfn{"Fn::Equals": []any{cfn{"Ref": "StreamConsumerReservedConcurrency"}, "0"}}}}) {
		diffs = append(diffs, fmt.Sprintf("condition ReserveConcurrency = %v, want StreamConsumerReservedConcurrency != 0", cond))
	}

	// Deploy finding 5: a failed first create leaves the retained resources behind; the next
	// create must not collide with them, so none of them has a fixed, account-unique name (a
	// user pool's name is not unique and may stay).
	for id, r := range res {
		if str(get(r, "DeletionPolicy")) != "Retain" {
			continue
		}
		for _, key := range []string{"TableName", "BucketName", "QueueName", "LogGroupName", "FileSystemName", "KeyAlias", "Name"} {
			if v, ok := props(tmpl, id)[key]; ok {
				diffs = append(diffs, fmt.Sprintf("%s is retained but named (%s = %v): a failed first deploy would block the next one", id, key, v))
			}
		}
	}

	// SEC-20: the authorizer writes user items only (partition USER#<id>).
	authorizerPut := false
	for _, st := range iamStatements(tmpl) {
		if st.role == "AuthorizerFunctionRole" && slices.Contains(stringsOf(st.stmt["Action"]), "dynamodb:PutItem") {
			authorizerPut = true
			want := cfn{"ForAllValues:StringLike": cfn{"dynamodb:LeadingKeys": []any{ddb.UserPK("*")}}}
			if !reflect.DeepEqual(st.stmt["Condition"], want) {
				diffs = append(diffs, fmt.Sprintf("AuthorizerFunctionRole: PutItem with Condition %v, want %v (user items only)", st.stmt["Condition"], want))
			}
		}
	}
	if !authorizerPut {
		diffs = append(diffs, "AuthorizerFunctionRole: no PutItem statement (users are recorded on first sight)")
	}

	// Deploy finding 14: nothing scans a table, so no role may.
	for _, st := range iamStatements(tmpl) {
		for _, a := range stringsOf(st.stmt["Action"]) {
			if a == "dynamodb:Scan" || a == "dynamodb:*" {
				diffs = append(diffs, fmt.Sprintf("role %s may %s (nothing scans a table)", st.role, a))
			}
		}
	}

	// Deploy finding 7: X-Ray is a parameter, off by default. Finding 18: no hard-coded
	// amazonaws.com in the issuer and JWKS URLs (China partitions).
	if d := str(get(tmpl, "Parameters", "Tracing", "Default")); d != "PassThrough" {
		diffs = append(diffs, fmt.Sprintf("parameter Tracing: Default %q, want PassThrough (X-Ray off by default)", d))
	}
	for _, fn := range resourcesOfType(tmpl, "AWS::Lambda::Function") {
		if _, ours := res[fn]; !ours || !strings.HasSuffix(fn, "Function") {
			continue
		}
		p := props(tmpl, fn)
		if m := get(p, "TracingConfig", "Mode"); !isRef(m, "Tracing") {
			diffs = append(diffs, fmt.Sprintf("%s: TracingConfig.Mode = %v, want {Ref: Tracing}", fn, m))
		}
		// The cost model counts no platform log lines (cost.Documented.PlatformLogBytes).
		if f, l := str(get(p, "LoggingConfig", "LogFormat")), str(get(p, "LoggingConfig", "SystemLogLevel")); f != "JSON" || l != "WARN" {
			diffs = append(diffs, fmt.Sprintf("%s: LoggingConfig LogFormat %q, SystemLogLevel %q, want JSON and WARN (no START/END/REPORT lines)", fn, f, l))
		}
		for _, k := range []string{"JWT_ISSUER", "JWKS_URL"} {
			if b, _ := json.Marshal(get(p, "Environment", "Variables", k)); strings.Contains(string(b), "amazonaws.com") {
				diffs = append(diffs, fmt.Sprintf("%s: %s hard-codes amazonaws.com (use ${AWS::URLSuffix})", fn, k))
			}
		}
	}
	return diffs
}

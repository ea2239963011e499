package infratest

import (
	"testing"
)

// TestHardening: see hardeningDiffs.
func TestHardening(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "hardening", hardeningDiffs(transformed(t)))
}

// TestHardeningDetectsDrift breaks each rule once in a copy of the transformed template (the
// template before each fix) and expects hardeningDiffs to report it.
func TestHardeningDetectsDrift(t *testing.T) {
	t.Parallel()
	stage := func(tmpl cfn) cfn {
		for _, id := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Stage") {
			if isRef(props(tmpl, id)["ApiId"], "HttpApi") {
				return props(tmpl, id)
			}
		}
		panic("no HttpApi stage")
	}
	cases := []struct {
		name   string
		mutate func(cfn)
		want   string
	}{
		{"open sign-up (SEC-05)", func(tmpl cfn) { delete(props(tmpl, "UserPool"), "AdminCreateUserConfig") }, "AllowAdminCreateUserOnly"},
		{"HTTP API stage unthrottled (SEC-09)", func(tmpl cfn) { delete(stage(tmpl), "DefaultRouteSettings") }, "DefaultRouteSettings.ThrottlingRateLimit"},
		{"HTTP API without access log (SEC-09)", func(tmpl cfn) { delete(stage(tmpl), "AccessLogSettings") }, "AccessLogSettings"},
		{"access log kept forever", func(tmpl cfn) { delete(props(tmpl, "HttpApiAccessLogGroup"), "RetentionInDays") }, "has no RetentionInDays"},
		{"WebSocket stage unthrottled", func(tmpl cfn) { delete(props(tmpl, "WebSocketStage"), "DefaultRouteSettings") }, "WebSocketStage"},
		{"notifier without reserved concurrency (SEC-09)", func(tmpl cfn) { delete(props(tmpl, "NotifierFunction"), "ReservedConcurrentExecutions") }, "NotifierFunction: ReservedConcurrentExecutions"},
		{"processor without reserved concurrency (SEC-09)", func(tmpl cfn) { delete(props(tmpl, "ProcessorFunction"), "ReservedConcurrentExecutions") }, "ProcessorFunction: ReservedConcurrentExecutions"},
		{"scheduler may overlap (finding 15)", func(tmpl cfn) { delete(props(tmpl, "SchedulerFunction"), "ReservedConcurrentExecutions") }, "SchedulerFunction: ReservedConcurrentExecutions"},
		{"scheduler timeout equal to its period (finding 15)", func(tmpl cfn) { props(tmpl, "SchedulerFunction")["Timeout"] = float64(60) }, "Timeout = 60"},
		{"scheduler tick kept 6 h (finding 15)", func(tmpl cfn) {
			for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventInvokeConfig") {
				delete(props(tmpl, id), "MaximumEventAgeInSeconds")
			}
		}, "MaximumEventAgeInSeconds at most 60"},
		{"retained table with a fixed name (finding 5)", func(tmpl cfn) { props(tmpl, "MainTable")["TableName"] = "streamspace-main" }, "MainTable is retained but named"},
		{"authorizer may put any main-table item (SEC-20)", func(tmpl cfn) {
			for _, pol := range asList(props(tmpl, "AuthorizerFunctionRole")["Policies"]) {
				for _, st := range asList(get(pol, "PolicyDocument", "Statement")) {
					delete(asMap(st), "Condition")
				}
			}
		}, "AuthorizerFunctionRole: PutItem with Condition"},
		{"a role that may scan (finding 14)", func(tmpl cfn) {
			pols := asList(props(tmpl, "UsersFunctionRole")["Policies"])
			st := asMap(asList(get(pols[0], "PolicyDocument", "Statement"))[0])
			st["Action"] = append(asList(st["Action"]), "dynamodb:Scan")
		}, "UsersFunctionRole may dynamodb:Scan"},
		{"platform log lines back", func(tmpl cfn) {
			delete(asMap(props(tmpl, "NotifierFunction")["LoggingConfig"]), "SystemLogLevel")
		}, "NotifierFunction: LoggingConfig"},
		{"X-Ray always on (finding 7)", func(tmpl cfn) { props(tmpl, "SessionsFunction")["TracingConfig"] = cfn{"Mode": "Active"} }, "SessionsFunction: TracingConfig.Mode"},
		{"X-Ray on by default (finding 7)", func(tmpl cfn) { asMap(get(tmpl, "Parameters", "Tracing"))["Default"] = "Active" }, "parameter Tracing"},
		{"issuer on amazonaws.com (finding 18)", func(tmpl cfn) {
			asMap(get(props(tmpl, "UsersFunction"), "Environment", "Variables"))["JWT_ISSUER"] = cfn{"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}
		}, "UsersFunction: JWT_ISSUER hard-codes amazonaws.com"},
	}
	drift := make([]driftCase, len(cases))
	for i, tc := range cases {
		drift[i] = driftCase{tc.name, tc.mutate, hardeningDiffs, tc.want}
	}
	runDrift(t, drift)
}

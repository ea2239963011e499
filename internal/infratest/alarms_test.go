package infratest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const (
	alarmTopic        = "AlarmTopic"
	alarmEmailParam   = "AlarmEmail"
	createUserPool    = "CreateUserPool" // the parameter and the condition
	userPool          = "UserPool"
	userPoolClient    = "UserPoolClient"
	cognitoIssuerSub  = "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${" + userPool + "}"
	iteratorAgeMaxMs  = 60000
	alarmPeriodSecond = 300
)

// jwtEnv is how the functions find the token issuer: the stack's own Cognito user pool when
// CreateUserPool is "true", the parameters otherwise. The audience is the app client id (the Go
// code accepts it as "aud" of ID tokens or "client_id" of access tokens).
var jwtEnv = []struct {
	name  string
	pool  any    // the value when the pool is created
	param string // the parameter otherwise
}{
	{"JWT_ISSUER", cfn{"Fn::Sub": cognitoIssuerSub}, "JwtIssuer"},
	{"JWT_AUDIENCE", cfn{"Ref": userPoolClient}, "JwtAudience"},
	{"JWKS_URL", cfn{"Fn::Sub": cognitoIssuerSub + "/.well-known/jwks.json"}, "JwksUrl"},
}

// jwtEnvDiffs checks one function's JWT variables against jwtEnv; nil means they are right.
func jwtEnvDiffs(fn string, vars cfn) []string {
	var diffs []string
	for _, e := range jwtEnv {
		v, ok := vars[e.name]
		if !ok {
			continue // envDiffs reports the missing variable
		}
		want := cfn{"Fn::If": []any{createUserPool, e.pool, cfn{"Ref": e.param}}}
		if !reflect.DeepEqual(v, want) {
			diffs = append(diffs, fmt.Sprintf("%s: environment %s = %v, want %v", fn, e.name, v, want))
		}
	}
	return diffs
}

// cognitoDiffs checks the optional user pool: everything Cognito exists only under the
// CreateUserPool condition, the pool signs users in by verified e-mail with a strong password
// policy, the role groups are exactly admin and operator, and one public SRP client exists.
func cognitoDiffs(tmpl cfn) []string {
	var diffs []string
	wantCond := cfn{"Fn::Equals": []any{cfn{"Ref": createUserPool}, "true"}}
	if got := get(tmpl, "Conditions", createUserPool); !reflect.DeepEqual(got, wantCond) {
		diffs = append(diffs, fmt.Sprintf("condition %s = %v, want %v", createUserPool, got, wantCond))
	}
	for id, r := range resources(tmpl) {
		if typ := str(get(r, "Type")); len(typ) > 14 && typ[:14] == "AWS::Cognito::" && str(get(r, "Condition")) != createUserPool {
			diffs = append(diffs, fmt.Sprintf("%s (%s) must have Condition %s", id, typ, createUserPool))
		}
	}

	if pools := resourcesOfType(tmpl, "AWS::Cognito::UserPool"); !slices.Equal(pools, []string{userPool}) {
		diffs = append(diffs, fmt.Sprintf("user pools %v, want [%s]", pools, userPool))
	}
	p := props(tmpl, userPool)
	if !slices.Contains(stringsOf(p["UsernameAttributes"]), "email") && !slices.Contains(stringsOf(p["AliasAttributes"]), "email") {
		diffs = append(diffs, userPool+": users must sign in with their e-mail (UsernameAttributes or AliasAttributes email)")
	}
	if !slices.Contains(stringsOf(p["AutoVerifiedAttributes"]), "email") {
		diffs = append(diffs, userPool+": AutoVerifiedAttributes must include email")
	}
	// SEC-05: no public self sign-up (the app client id is public) but through the allow-list.
	diffs = append(diffs, signUpDiffs(tmpl)...)
	pw := asMap(get(p, "Policies", "PasswordPolicy"))
	if n, _ := pw["MinimumLength"].(float64); n < 12 {
		diffs = append(diffs, fmt.Sprintf("%s: PasswordPolicy.MinimumLength = %v, want at least 12", userPool, pw["MinimumLength"]))
	}
	for _, req := range []string{"RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"} {
		if pw[req] != true {
			diffs = append(diffs, fmt.Sprintf("%s: PasswordPolicy.%s must be true", userPool, req))
		}
	}

	var groups []string
	for _, id := range resourcesOfType(tmpl, "AWS::Cognito::UserPoolGroup") {
		g := props(tmpl, id)
		if !isRef(g["UserPoolId"], userPool) {
			diffs = append(diffs, fmt.Sprintf("group %s is not in %s", id, userPool))
		}
		groups = append(groups, str(g["GroupName"]))
	}
	diffs = append(diffs, diffSets("user pool groups (platform roles)", []string{"admin", "operator"}, groups)...)

	if clients := resourcesOfType(tmpl, "AWS::Cognito::UserPoolClient"); !slices.Equal(clients, []string{userPoolClient}) {
		diffs = append(diffs, fmt.Sprintf("user pool clients %v, want [%s]", clients, userPoolClient))
	}
	c := props(tmpl, userPoolClient)
	if !isRef(c["UserPoolId"], userPool) {
		diffs = append(diffs, userPoolClient+" is not a client of "+userPool)
	}
	if c["GenerateSecret"] == true {
		diffs = append(diffs, userPoolClient+": GenerateSecret must be false (a public client)")
	}
	diffs = append(diffs, diffSets(userPoolClient+" ExplicitAuthFlows",
		[]string{"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}, stringsOf(c["ExplicitAuthFlows"]))...)

	for out, ref := range map[string]string{"UserPoolId": userPool, "UserPoolClientId": userPoolClient} {
		o := asMap(get(tmpl, "Outputs", out))
		if !isRef(o["Value"], ref) || str(o["Condition"]) != createUserPool {
			diffs = append(diffs, fmt.Sprintf("output %s must be {Ref: %s} under Condition %s", out, ref, createUserPool))
		}
	}
	return diffs
}

// TestCognito: see cognitoDiffs (and jwtEnvDiffs, run for every function by TestFunctions).
func TestCognito(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "Cognito", cognitoDiffs(transformed(t)))
}

// wantAlarm is one alarm the template must have.
type wantAlarm struct {
	namespace, metric, dimension, target string // target: the resource the dimension names
	statistic                            string
	threshold                            float64
	operator                             string
}

// wantAlarms: Errors and Throttles of every function, IteratorAge of every stream consumer, the
// depth of every dead-letter queue (the stream consumers' and otherDLQs).
func wantAlarms() []wantAlarm {
	var out []wantAlarm
	for _, fn := range allFunctions() {
		for _, m := range []string{"Errors", "Throttles"} {
			out = append(out, wantAlarm{"AWS/Lambda", m, "FunctionName", fn, "Sum", 1, "GreaterThanOrEqualToThreshold"})
		}
	}
	for _, c := range streamConsumers {
		out = append(out, wantAlarm{"AWS/Lambda", "IteratorAge", "FunctionName", c.fn, "Maximum", iteratorAgeMaxMs, "GreaterThanThreshold"})
	}
	for _, c := range streamConsumers {
		out = append(out, wantAlarm{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", c.dlq, "Maximum", 1, "GreaterThanOrEqualToThreshold"})
	}
	for _, q := range otherDLQs {
		out = append(out, wantAlarm{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q, "Maximum", 1, "GreaterThanOrEqualToThreshold"})
	}
	return out
}

// expectedErrors are the functions whose Errors include routine outcomes (deploy finding 10):
// their errors alarm is metric math, Errors minus a count of those outcomes that a metric
// filter takes from the function's log group.
var expectedErrors = map[string]struct{ metric, logGroup, pattern string }{
	// A refused WebSocket $connect is a Lambda error (API Gateway then answers 401); expired
	// tokens make it routine.
	authorizerFunction: {"WebSocketConnectRefusals", "AuthorizerLogGroup", `{ $.msg = "credentials refused" && $.route = "$connect" }`},
	// Self sign-ups from other e-mail domains are refused by failing the trigger.
	presignupFunction: {"SelfSignUpRefusals", "PresignupLogGroup", `{ $.msg = "sign-up refused: e-mail domain not allowed" }`},
	// ErrNotRecordedYet asks Lambda to retry an event that came before the runtime's write.
	taskEventsFunction: {"TaskEventsExpectedRetries", "TaskEventsLogGroup", `{ $.msg = "task event retried: not recorded yet" }`},
}

// alarmMetric is what an alarm watches, as a single-metric alarm's properties: the alarm itself,
// or, for a metric-math alarm, the metric with Id "errors" (Stat as Statistic, and its Period).
func alarmMetric(p cfn) cfn {
	for _, m := range asList(p["Metrics"]) {
		if str(get(m, "Id")) != "errors" {
			continue
		}
		met := asMap(get(m, "MetricStat", "Metric"))
		return cfn{"Namespace": met["Namespace"], "MetricName": met["MetricName"], "Dimensions": met["Dimensions"],
			"Statistic": get(m, "MetricStat", "Stat"), "Period": get(m, "MetricStat", "Period"),
			"Threshold": p["Threshold"], "ComparisonOperator": p["ComparisonOperator"], "EvaluationPeriods": p["EvaluationPeriods"]}
	}
	return p
}

// expectedErrorsDiffs checks a metric-math errors alarm: it reports errors minus the expected
// ones, and a metric filter on the function's log group counts those.
func expectedErrorsDiffs(tmpl cfn, id, fn string, x struct{ metric, logGroup, pattern string }) []string {
	p := props(tmpl, id)
	var diffs []string
	var expr string
	var expectedMetric cfn
	for _, m := range asList(p["Metrics"]) {
		switch str(get(m, "Id")) {
		case "expected":
			expectedMetric = asMap(get(m, "MetricStat", "Metric"))
		}
		if get(m, "ReturnData") == true {
			expr = str(get(m, "Expression"))
		}
	}
	if expr != "errors - FILL(expected, 0)" || expectedMetric == nil || str(expectedMetric["MetricName"]) != x.metric {
		return []string{fmt.Sprintf("alarm %s: want metric math errors - FILL(expected, 0) with expected = %s (deploy finding 10), got %q", id, x.metric, expr)}
	}
	var filters []string
	for _, f := range resourcesOfType(tmpl, "AWS::Logs::MetricFilter") {
		fp := props(tmpl, f)
		tr := asMap(asList(fp["MetricTransformations"])[0])
		if isRef(fp["LogGroupName"], x.logGroup) && str(tr["MetricName"]) == x.metric &&
			reflect.DeepEqual(tr["MetricNamespace"], expectedMetric["Namespace"]) && str(fp["FilterPattern"]) == x.pattern {
			filters = append(filters, f)
		}
	}
	if len(filters) != 1 {
		diffs = append(diffs, fmt.Sprintf("%s: want one metric filter on %s with pattern %s counting %s, found %v", fn, x.logGroup, x.pattern, x.metric, filters))
	}
	return diffs
}

// alarmDiffs checks the alarms and where they go; nil means all is well.
func alarmDiffs(tmpl cfn) []string {
	var diffs []string
	alarms := resourcesOfType(tmpl, "AWS::CloudWatch::Alarm")
	for _, id := range alarms {
		p := props(tmpl, id)
		if got := referencedResources(p["AlarmActions"]); !slices.Equal(got, []string{alarmTopic}) || len(asList(p["AlarmActions"])) != 1 {
			diffs = append(diffs, fmt.Sprintf("alarm %s: AlarmActions = %v, want [{Ref: %s}] (it does not notify %s)", id, p["AlarmActions"], alarmTopic, alarmTopic))
		}
		if got := str(p["TreatMissingData"]); got != "notBreaching" {
			diffs = append(diffs, fmt.Sprintf("alarm %s: TreatMissingData = %q, want notBreaching", id, got))
		}
	}
	for _, w := range wantAlarms() {
		var found []string
		for _, id := range alarms {
			p := alarmMetric(props(tmpl, id))
			if str(p["Namespace"]) != w.namespace || str(p["MetricName"]) != w.metric {
				continue
			}
			dims := asList(p["Dimensions"])
			if len(dims) == 1 && str(get(dims[0], "Name")) == w.dimension && slices.Equal(referencedResources(get(dims[0], "Value")), []string{w.target}) {
				found = append(found, id)
			}
		}
		if len(found) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s has %s alarms %v, want exactly one", w.target, w.metric, found))
			continue
		}
		id, p := found[0], alarmMetric(props(tmpl, found[0]))
		if x, ok := expectedErrors[w.target]; ok && w.metric == "Errors" {
			diffs = append(diffs, expectedErrorsDiffs(tmpl, id, w.target, x)...)
		}
		if got := str(p["Statistic"]); got != w.statistic {
			diffs = append(diffs, fmt.Sprintf("alarm %s: Statistic = %q, want %s", id, got, w.statistic))
		}
		if p["Threshold"] != w.threshold || str(p["ComparisonOperator"]) != w.operator {
			diffs = append(diffs, fmt.Sprintf("alarm %s: %v %v, want %s %v", id, p["ComparisonOperator"], p["Threshold"], w.operator, w.threshold))
		}
		if p["Period"] != float64(alarmPeriodSecond) || p["EvaluationPeriods"] != float64(1) {
			diffs = append(diffs, fmt.Sprintf("alarm %s: Period %v × %v, want %d s × 1", id, p["Period"], p["EvaluationPeriods"], alarmPeriodSecond))
		}
	}

	if typ := str(get(resources(tmpl), alarmTopic, "Type")); typ != "AWS::SNS::Topic" {
		diffs = append(diffs, fmt.Sprintf("%s is %q, want an AWS::SNS::Topic", alarmTopic, typ))
	}
	// A customer managed key that lets CloudWatch publish (the AWS managed alias/aws/sns cannot).
	if k := props(tmpl, alarmTopic)["KmsMasterKeyId"]; !isRef(k, "AlarmTopicKey") {
		diffs = append(diffs, fmt.Sprintf("%s: KmsMasterKeyId = %v, want a Ref to AlarmTopicKey", alarmTopic, k))
	} else {
		cwGrant := false
		for _, st := range statementsOf(props(tmpl, "AlarmTopicKey")["KeyPolicy"]) {
			acts := fmt.Sprint(st["Action"])
			if fmt.Sprint(get(st, "Principal", "Service")) == "cloudwatch.amazonaws.com" && strings.Contains(acts, "kms:Decrypt") &&
				strings.Contains(acts, "kms:GenerateDataKey*") {
				cwGrant = true
			}
		}
		if !cwGrant {
			diffs = append(diffs, "AlarmTopicKey: the key policy does not let cloudwatch.amazonaws.com use the key")
		}
	}
	wantCond := cfn{"Fn::Not": []any{cfn{"Fn::Equals": []any{cfn{"Ref": alarmEmailParam}, ""}}}}
	var subs []string
	for _, id := range resourcesOfType(tmpl, "AWS::SNS::Subscription") {
		p := props(tmpl, id)
		if !isRef(p["TopicArn"], alarmTopic) {
			continue
		}
		subs = append(subs, id)
		cond := str(get(resources(tmpl), id, "Condition"))
		if !reflect.DeepEqual(get(tmpl, "Conditions", cond), wantCond) {
			diffs = append(diffs, fmt.Sprintf("subscription %s: Condition %q must be %v", id, cond, wantCond))
		}
		if str(p["Protocol"]) != "email" || !isRef(p["Endpoint"], alarmEmailParam) {
			diffs = append(diffs, fmt.Sprintf("subscription %s must be Protocol email, Endpoint {Ref: %s}", id, alarmEmailParam))
		}
	}
	if len(subs) != 1 {
		diffs = append(diffs, fmt.Sprintf("%s has subscriptions %v, want exactly one (the conditional e-mail)", alarmTopic, subs))
	}
	return diffs
}

// TestAlarms: see alarmDiffs.
func TestAlarms(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "CloudWatch alarms", alarmDiffs(transformed(t)))
}

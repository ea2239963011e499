package infratest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"streamspace/internal/ddb"
	"streamspace/internal/routes"
)

const (
	webSocketAPIID    = "WebSocketApi"
	websocketFunction = "WebsocketFunction"
	notifierFunction  = "NotifierFunction"
	notifierDLQ       = "NotifierDeadLetterQueue"
	processorFunction = "ProcessorFunction"
	processorDLQ      = "ProcessorDeadLetterQueue"
	presignupFunction = "PresignupFunction"
)

// streamConsumers are the readers of MainTable's stream, each with its own dead-letter queue.
// DynamoDB Streams documents at most two concurrent readers per shard without throttling
// (StreamReaderFindings fails on a third): the notifier, and the processor, whose steps (the
// auditor, the runtime) do the rest of the work a change causes.
var streamConsumers = []struct{ fn, dlq string }{
	{notifierFunction, notifierDLQ},
	{processorFunction, processorDLQ},
}

// streamWriters are the stream consumers that may write MainTable, with the reason: a consumer
// writing its own source reads its own writes back.
var streamWriters = map[string]string{
	// The runtime step's reconciler is level-triggered: the record of its own write asks for
	// nothing new (and the auditor step records nothing for it).
	processorFunction: "records the runtime's bookkeeping on sessions; its own writes carry no new work",
}

// streamOverrides are the mapping settings a consumer has of its own (compared exactly instead
// of with the other consumers'), with their values in the transformed template.
var streamOverrides = map[string]cfn{
	processorFunction: {
		// A record may start a task (several API calls): smaller batches, gathered for up to a
		// second so the auditor step's counters are shared (the cost model counts on it), two
		// in parallel per shard (records of one item stay in order). No filter: the auditor step
		// reads every record.
		"BatchSize":                      float64(25),
		"MaximumBatchingWindowInSeconds": float64(1),
		"ParallelizationFactor":          float64(2),
	},
}

// allFunctions are the Lambda functions of the product: one per HTTP area of routes.go, then
// the authorizer, the WebSocket handler, the stream readers (notifier, processor) and the
// scheduler.
func allFunctions() []string {
	var out []string
	for _, fn := range routes.Functions() {
		out = append(out, functionLogicalID(fn))
	}
	out = append(out, authorizerFunction, websocketFunction)
	for _, c := range streamConsumers {
		out = append(out, c.fn)
	}
	return append(out, schedulerFunction, taskEventsFunction, presignupFunction)
}

// webSocketDiffs checks the WebSocket API's shape; nil means it is right. cfn-lint accepts any
// ProtocolType string ("WEBSOCKETS") and any route key, so these are checked here.
func webSocketDiffs(tmpl cfn) []string {
	var diffs []string
	api := props(tmpl, webSocketAPIID)
	if api == nil {
		return []string{"no " + webSocketAPIID + " resource"}
	}
	if got := str(api["ProtocolType"]); got != "WEBSOCKET" {
		diffs = append(diffs, fmt.Sprintf("%s ProtocolType = %q, want \"WEBSOCKET\"", webSocketAPIID, got))
	}
	if got := str(api["RouteSelectionExpression"]); got != "$request.body.action" {
		diffs = append(diffs, fmt.Sprintf("%s RouteSelectionExpression = %q, want \"$request.body.action\"", webSocketAPIID, got))
	}

	routeIDs := map[string]string{} // route key → logical id
	var keys []string
	for _, id := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Route") {
		p := props(tmpl, id)
		if !isRef(p["ApiId"], webSocketAPIID) {
			diffs = append(diffs, fmt.Sprintf("route %s does not belong to %s (HTTP routes live in the OpenAPI body)", id, webSocketAPIID))
			continue
		}
		key := str(p["RouteKey"])
		keys = append(keys, key)
		routeIDs[key] = id
		integ := strings.TrimPrefix(str(get(p, "Target", "Fn::Sub")), "integrations/${")
		integ = strings.TrimSuffix(integ, "}")
		ip := props(tmpl, integ)
		if ip == nil {
			diffs = append(diffs, fmt.Sprintf("route %s: Target is not integrations/${<Integration>}", key))
			continue
		}
		if got := str(ip["IntegrationType"]); got != "AWS_PROXY" {
			diffs = append(diffs, fmt.Sprintf("route %s: integration type %q, want AWS_PROXY", key, got))
		}
		if fns := referencedOfType(tmpl, ip["IntegrationUri"], "AWS::Lambda::Function"); !slices.Equal(fns, []string{websocketFunction}) {
			diffs = append(diffs, fmt.Sprintf("route %s: integration invokes %v, want [%s]", key, fns, websocketFunction))
		}
	}
	diffs = append(diffs, diffSets("WebSocket route keys", []string{"$connect", "$disconnect", "$default"}, keys)...)

	if id, ok := routeIDs["$connect"]; ok {
		p := props(tmpl, id)
		if got := str(p["AuthorizationType"]); got != "CUSTOM" {
			diffs = append(diffs, fmt.Sprintf("$connect AuthorizationType = %q, want CUSTOM", got))
		}
		authz := referencedOfType(tmpl, p["AuthorizerId"], "AWS::ApiGatewayV2::Authorizer")
		if len(authz) != 1 {
			diffs = append(diffs, "$connect has no AWS::ApiGatewayV2::Authorizer")
		} else {
			ap := props(tmpl, authz[0])
			if got := str(ap["AuthorizerType"]); got != "REQUEST" {
				diffs = append(diffs, fmt.Sprintf("WebSocket authorizer type %q, want REQUEST", got))
			}
			if got := stringsOf(ap["IdentitySource"]); !slices.Equal(got, []string{"route.request.querystring.token"}) {
				diffs = append(diffs, fmt.Sprintf("WebSocket authorizer IdentitySource %v, want [route.request.querystring.token]", got))
			}
			if !isRef(ap["ApiId"], webSocketAPIID) {
				diffs = append(diffs, "WebSocket authorizer is not attached to "+webSocketAPIID)
			}
			if fns := referencedOfType(tmpl, ap["AuthorizerUri"], "AWS::Lambda::Function"); !slices.Equal(fns, []string{authorizerFunction}) {
				diffs = append(diffs, fmt.Sprintf("WebSocket authorizer invokes %v, want [%s]", fns, authorizerFunction))
			}
		}
	}
	if id, ok := routeIDs["$default"]; ok {
		if got := str(props(tmpl, id)["RouteResponseSelectionExpression"]); got != "$default" {
			diffs = append(diffs, fmt.Sprintf("$default RouteResponseSelectionExpression = %q, want \"$default\" (replies such as pong)", got))
		}
		found := false
		for _, rr := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::RouteResponse") {
			p := props(tmpl, rr)
			if isRef(p["RouteId"], id) && str(p["RouteResponseKey"]) == "$default" {
				found = true
			}
		}
		if !found {
			diffs = append(diffs, "$default has no AWS::ApiGatewayV2::RouteResponse with RouteResponseKey $default")
		}
	}

	var stages []string
	for _, id := range resourcesOfType(tmpl, "AWS::ApiGatewayV2::Stage") {
		if p := props(tmpl, id); isRef(p["ApiId"], webSocketAPIID) {
			stages = append(stages, id)
			if p["AutoDeploy"] != true {
				diffs = append(diffs, fmt.Sprintf("stage %s: AutoDeploy must be true", id))
			}
			if !isRef(p["StageName"], "StageName") {
				diffs = append(diffs, fmt.Sprintf("stage %s: StageName must come from the StageName parameter", id))
			}
		}
	}
	if len(stages) != 1 {
		diffs = append(diffs, fmt.Sprintf("%s has stages %v, want exactly one", webSocketAPIID, stages))
	}

	// API Gateway must be allowed to invoke both functions from this API.
	for _, fn := range []string{websocketFunction, authorizerFunction} {
		ok := false
		for _, id := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
			p := props(tmpl, id)
			if str(p["Principal"]) == "apigateway.amazonaws.com" && str(p["Action"]) == "lambda:InvokeFunction" &&
				slices.Contains(referencedResources(p["FunctionName"]), fn) &&
				slices.Contains(referencedResources(p["SourceArn"]), webSocketAPIID) {
				ok = true
			}
		}
		if !ok {
			diffs = append(diffs, fmt.Sprintf("no AWS::Lambda::Permission lets %s invoke %s", webSocketAPIID, fn))
		}
	}
	return diffs
}

func TestWebSocketAPI(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "WebSocket API", webSocketDiffs(transformed(t)))
}

// functionEnv is the environment every function must have: app.ConfigFromEnv reads one configuration
// for all of them, and ddb.NamesFromEnv falls back to a default table name when a variable is
// missing, so a missing table variable would silently point a function at the wrong table.
var functionEnv = []struct {
	name string
	ref  string // the resource or parameter it must Ref; "" = only present
}{
	{"TABLE_NAME", ddb.MainLogicalID},
	{"CONNECTIONS_TABLE_NAME", ddb.ConnLogicalID},
	{"AUDIT_TABLE_NAME", ddb.AuditLogicalID},
	// JWT_ISSUER, JWT_AUDIENCE and JWKS_URL: the stack's user pool or the parameters
	// (Fn::If CreateUserPool), checked against jwtEnv.
	{"JWT_ISSUER", ""},
	{"JWT_AUDIENCE", ""},
	{"JWKS_URL", ""},
	{"JWT_ROLE_CLAIM", "JwtRoleClaim"},
	{"BOOTSTRAP_ADMINS", "BootstrapAdmins"},
	{"USAGE_RETENTION_DAYS", "UsageRetentionDays"},
	// Globals: the activity function and the auditor both write activity records with this TTL.
	{"ACTIVITY_RETENTION_DAYS", "ActivityRetentionDays"},
	{"WEBSOCKET_MANAGEMENT_ENDPOINT", ""},
}

// wantParameters pins the template parameters the tests depend on (type and bounds that
// cfn-lint cannot know are intended).
var wantParameters = map[string]cfn{
	"ActivityRetentionDays": {"Type": "Number", "Default": float64(90), "MinValue": float64(1), "MaxValue": float64(3650)},
	"UsageRetentionDays":    {"Type": "Number", "Default": float64(90), "MinValue": float64(1), "MaxValue": float64(3650)},
	// The recordings bucket's lifecycle expiration.
	"RecordingsMaxRetentionDays": {"Type": "Number", "Default": float64(365), "MinValue": float64(1), "MaxValue": float64(3650)},
	// The scheduler's AUTO_HIBERNATE: the Go code treats anything but "false" as true, so the
	// parameter admits exactly the two spellings.
	autoHibernateParam: {"Type": "String", "Default": "true", "AllowedValues": []any{"true", "false"}},
	// The Cognito switch: a condition compares it with "true", so only the two spellings.
	createUserPool: {"Type": "String", "Default": "true", "AllowedValues": []any{"true", "false"}},
	// Empty: no e-mail subscription to the alarm topic.
	alarmEmailParam: {"Type": "String", "Default": ""},
	// Cognito groups by default (admin, operator).
	"JwtRoleClaim": {"Type": "String", "Default": "cognito:groups"},
}

// parameterDiffs checks wantParameters; nil means they match.
func parameterDiffs(tmpl cfn) []string {
	var diffs []string
	for _, name := range keys(wantParameters) {
		p := asMap(get(tmpl, "Parameters", name))
		if p == nil {
			diffs = append(diffs, fmt.Sprintf("parameter %s is missing", name))
			continue
		}
		for _, field := range keys(wantParameters[name]) {
			want, got := wantParameters[name][field], p[field]
			if s, ok := got.(string); ok && field != "Type" {
				// YAML may quote numbers: compare them as JSON numbers.
				var n float64
				if json.Unmarshal([]byte(s), &n) == nil {
					got = n
				}
			}
			if !reflect.DeepEqual(got, want) {
				diffs = append(diffs, fmt.Sprintf("parameter %s: %s = %#v, want %#v", name, field, got, want))
			}
		}
	}
	return diffs
}

func TestParameters(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "Parameters", parameterDiffs(transformed(t)))
}

// envDiffs checks one function's environment against functionEnv; nil means it is right.
func envDiffs(tmpl cfn, fn string) []string {
	var diffs []string
	vars := asMap(get(props(tmpl, fn), "Environment", "Variables"))
	for _, e := range functionEnv {
		v, ok := vars[e.name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: environment lacks %s", fn, e.name))
		case e.ref != "" && !isRef(v, e.ref):
			diffs = append(diffs, fmt.Sprintf("%s: environment %s = %v, want {Ref: %s}", fn, e.name, v, e.ref))
		}
	}
	diffs = append(diffs, jwtEnvDiffs(fn, vars)...)
	if ep := str(get(vars["WEBSOCKET_MANAGEMENT_ENDPOINT"], "Fn::Sub")); !strings.HasPrefix(ep, "https://${"+webSocketAPIID+"}.execute-api.") || !strings.HasSuffix(ep, "/${StageName}") {
		diffs = append(diffs, fmt.Sprintf("%s: WEBSOCKET_MANAGEMENT_ENDPOINT = %q, want https://${%s}.execute-api.<region>.<suffix>/${StageName}", fn, ep, webSocketAPIID))
	}
	return diffs
}

// TestFunctions: the set of functions, their runtime, and the environment the Go code reads
// (app.ConfigFromEnv, ddb.NamesFromEnv).
func TestFunctions(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	want := allFunctions()
	reportDiffs(t, `Lambda functions (allFunctions; docs/architecture.md, "Adding a function")`, diffSets("functions", want, resourcesOfType(tmpl, "AWS::Lambda::Function")))

	for _, fn := range want {
		t.Run(fn, func(t *testing.T) {
			p := props(tmpl, fn)
			if p == nil {
				t.Fatalf("no %s", fn)
			}
			if got := str(p["Runtime"]); got != "provided.al2023" {
				t.Errorf("Runtime = %q, want provided.al2023", got)
			}
			if got := stringsOf(p["Architectures"]); !slices.Equal(got, []string{"arm64"}) {
				t.Errorf("Architectures = %v, want [arm64]", got)
			}
			if got := str(p["Handler"]); got != "bootstrap" {
				t.Errorf("Handler = %q, want bootstrap", got)
			}
			if str(get(tmpl, "Resources", fn, "Metadata", "BuildMethod")) != "makefile" {
				t.Errorf("Metadata.BuildMethod must be makefile (the Makefile's build-%s target)", fn)
			}
			reportDiffs(t, "environment", envDiffs(tmpl, fn))
			reportDiffs(t, "function-specific environment", functionEnvDiffs(tmpl, fn))
			lg := referencedOfType(tmpl, get(p, "LoggingConfig", "LogGroup"), "AWS::Logs::LogGroup")
			if len(lg) != 1 {
				t.Errorf("LoggingConfig.LogGroup must Ref an AWS::Logs::LogGroup of the template")
			} else if get(props(tmpl, lg[0]), "RetentionInDays") == nil {
				t.Errorf("log group %s has no RetentionInDays", lg[0])
			}
		})
	}
}

// streamSettings are the event source mapping settings every MainTable stream consumer uses:
// at-least-once from the tip of the stream, partial batch failures reported, poison records
// isolated by bisection and parked after 5 retries or an hour.
var streamSettings = []struct {
	field string
	ok    func(v any) bool
	want  string
}{
	{"StartingPosition", func(v any) bool { return v == "LATEST" }, "LATEST"},
	{"BatchSize", func(v any) bool { return v == float64(100) }, "100"},
	{"MaximumBatchingWindowInSeconds", func(v any) bool { return v == float64(0) }, "0"},
	{"BisectBatchOnFunctionError", func(v any) bool { return v == true }, "true"},
	{"MaximumRetryAttempts", func(v any) bool { return v == float64(5) }, "5"},
	{"MaximumRecordAgeInSeconds", func(v any) bool { return v == float64(3600) }, "3600"},
	{"FunctionResponseTypes", func(v any) bool { return slices.Equal(stringsOf(v), []string{"ReportBatchItemFailures"}) }, "[ReportBatchItemFailures]"},
}

// mappingsOf lists the event source mappings that invoke one function.
func mappingsOf(tmpl cfn, fn string) []string {
	var out []string
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventSourceMapping") {
		if slices.Contains(referencedResources(props(tmpl, id)["FunctionName"]), fn) {
			out = append(out, id)
		}
	}
	return out
}

// mappingSettings is a mapping's properties without what is its own (function, DLQ, the
// settings in streamOverrides), as JSON.
func mappingSettings(p cfn, own cfn) string {
	c := cfn{}
	for k, v := range p {
		if _, overridden := own[k]; k != "FunctionName" && k != "DestinationConfig" && !overridden {
			c[k] = v
		}
	}
	if oc := asMap(get(p, "DestinationConfig", "OnFailure")); oc != nil {
		rest := cfn{}
		for k, v := range oc {
			if k != "Destination" {
				rest[k] = v
			}
		}
		c["DestinationConfig.OnFailure (without Destination)"] = rest
	}
	b, _ := json.Marshal(c) // map keys come out sorted
	return string(b)
}

// streamConsumerDiffs checks the consumers of MainTable's stream; nil means all is well:
// exactly the streamConsumers read the stream, each through one mapping with streamSettings
// (and identical settings otherwise), each parks failures in its own encrypted 14-day DLQ, and
// none may write MainTable (a consumer writing its own source feeds itself).
func streamConsumerDiffs(tmpl cfn) []string {
	var diffs []string
	var want, got []string
	for _, c := range streamConsumers {
		want = append(want, c.fn)
	}
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventSourceMapping") {
		p := props(tmpl, id)
		if slices.Contains(referencedResources(p["EventSourceArn"]), ddb.MainLogicalID) {
			got = append(got, referencedOfType(tmpl, p["FunctionName"], "AWS::Lambda::Function")...)
		}
	}
	diffs = append(diffs, diffSets(ddb.MainLogicalID+" stream consumers", want, got)...)

	mappingProps := map[string]cfn{} // function → its mapping's properties
	dlqOwner := map[string]string{}  // DLQ → function
	for _, c := range streamConsumers {
		mappings := mappingsOf(tmpl, c.fn)
		if len(mappings) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s has event source mappings %v, want exactly one", c.fn, mappings))
			continue
		}
		id := mappings[0]
		p := props(tmpl, id)
		if ga := asList(get(p, "EventSourceArn", "Fn::GetAtt")); len(ga) != 2 || ga[0] != ddb.MainLogicalID || ga[1] != "StreamArn" {
			diffs = append(diffs, fmt.Sprintf("%s: EventSourceArn = %v, want !GetAtt %s.StreamArn", id, p["EventSourceArn"], ddb.MainLogicalID))
		}
		own := streamOverrides[c.fn]
		for _, s := range streamSettings {
			if _, overridden := own[s.field]; !overridden && !s.ok(p[s.field]) {
				diffs = append(diffs, fmt.Sprintf("%s: %s = %#v, want %s", id, s.field, p[s.field], s.want))
			}
		}
		for _, field := range keys(own) {
			if !reflect.DeepEqual(p[field], own[field]) {
				diffs = append(diffs, fmt.Sprintf("%s: %s = %v, want %v", id, field, p[field], own[field]))
			}
		}
		mappingProps[c.fn] = p

		dlq := get(p, "DestinationConfig", "OnFailure", "Destination")
		gotDLQ := referencedResources(dlq)
		if !slices.Equal(gotDLQ, []string{c.dlq}) {
			diffs = append(diffs, fmt.Sprintf("%s: DestinationConfig.OnFailure.Destination = %v, want %s (its own queue)", id, dlq, c.dlq))
		}
		for _, q := range gotDLQ {
			if owner, ok := dlqOwner[q]; ok {
				diffs = append(diffs, fmt.Sprintf("%s and %s share the dead-letter queue %s", owner, c.fn, q))
			}
			dlqOwner[q] = c.fn
		}
		if typ := str(get(resources(tmpl), c.dlq, "Type")); typ != "AWS::SQS::Queue" {
			diffs = append(diffs, fmt.Sprintf("%s is %q, want an AWS::SQS::Queue", c.dlq, typ))
		}
		q := props(tmpl, c.dlq)
		if q["SqsManagedSseEnabled"] != true && q["KmsMasterKeyId"] == nil {
			diffs = append(diffs, fmt.Sprintf("%s must be encrypted (SqsManagedSseEnabled or KmsMasterKeyId)", c.dlq))
		}
		if q["MessageRetentionPeriod"] != float64(1209600) {
			diffs = append(diffs, fmt.Sprintf("%s MessageRetentionPeriod = %v, want 1209600 (14 days)", c.dlq, q["MessageRetentionPeriod"]))
		}

		if role := functionRole(tmpl, c.fn); role != "" && streamWriters[c.fn] == "" {
			for _, g := range grants(tmpl, role) {
				action, target, _ := strings.Cut(g, " ")
				if target == ddb.MainLogicalID && slices.Contains(dynamoWriteActions, action) {
					diffs = append(diffs, fmt.Sprintf("%s consumes %s's stream but may %s it (its writes would feed the stream it reads)", c.fn, ddb.MainLogicalID, action))
				}
			}
		}
	}
	first := streamConsumers[0].fn
	for _, c := range streamConsumers[1:] {
		pa, okA := mappingProps[first]
		pb, okB := mappingProps[c.fn]
		// Compared without what either of the two has of its own (streamOverrides).
		own := cfn{}
		for _, fn := range []string{first, c.fn} {
			for k, v := range streamOverrides[fn] {
				own[k] = v
			}
		}
		a, b := mappingSettings(pa, own), mappingSettings(pb, own)
		if okA && okB && a != b {
			diffs = append(diffs, fmt.Sprintf("stream mapping settings differ: %s %s, %s %s", first, a, c.fn, b))
		}
	}
	return diffs
}

// TestStreamConsumers: see streamConsumerDiffs.
func TestStreamConsumers(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "MainTable stream consumers", streamConsumerDiffs(transformed(t)))
}

func TestOutputs(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	outputs := asMap(tmpl["Outputs"])
	var got []string
	for k := range outputs {
		got = append(got, k)
	}
	want := []string{"HttpApiUrl", "WebSocketUrl", "MainTableName", "ConnectionsTableName", "AuditTableName",
		"NotifierDeadLetterQueueUrl", "ProcessorDeadLetterQueueUrl", "RecordingsBucketName"}
	for _, d := range diffSets("outputs", want, got) {
		if strings.Contains(d, "missing") {
			t.Error(d)
		}
	}
	if ws := str(get(outputs, "WebSocketUrl", "Value", "Fn::Sub")); !strings.HasPrefix(ws, "wss://${"+webSocketAPIID+"}.") || !strings.HasSuffix(ws, "/${StageName}") {
		t.Errorf("WebSocketUrl = %q, want wss://${%s}.…/${StageName}", ws, webSocketAPIID)
	}
	for out, ref := range map[string]string{"MainTableName": ddb.MainLogicalID, "ConnectionsTableName": ddb.ConnLogicalID,
		"AuditTableName": ddb.AuditLogicalID, "NotifierDeadLetterQueueUrl": notifierDLQ, "ProcessorDeadLetterQueueUrl": processorDLQ,
		"RecordingsBucketName": recordingsBucket} {
		if !isRef(get(outputs, out, "Value"), ref) {
			t.Errorf("output %s = %v, want {Ref: %s}", out, get(outputs, out, "Value"), ref)
		}
	}
}

// TestAtMostTwoStreamReaders: the notifier and the processor, nothing more (issue 14; the CDK
// app's template is checked in infra/stack).
func TestAtMostTwoStreamReaders(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	reportDiffs(t, "MainTable stream readers", streamReaderDiffs(tmpl))
	if n := len(streamConsumers); n > MaxStreamReaders {
		t.Errorf("streamConsumers lists %d readers, at most %d may read the stream", n, MaxStreamReaders)
	}
}

// Golden tests of the sample events: every file in this folder decodes strictly into the
// aws-lambda-go type of the payload API Gateway or DynamoDB Streams sends, survives a
// re-encoding, and does what events/README.md says when handed to the real function handlers.
package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/activity"
	"streamspace/internal/ddb"
	"streamspace/internal/httpx"
	"streamspace/internal/ids"
	"streamspace/internal/notifier"
	"streamspace/internal/presignup"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
	"streamspace/internal/testenv/tier"
)

// Payload kinds: which aws-lambda-go type a sample is.
const (
	kindHTTP       = "APIGatewayV2HTTPRequest"
	kindAuthWS     = "APIGatewayCustomAuthorizerRequestTypeRequest"
	kindWebSocket  = "APIGatewayWebsocketProxyRequest"
	kindDynamoDB   = "DynamoDBEvent"
	kindCloudWatch = "CloudWatchEvent"
	kindPreSignUp  = "CognitoEventUserPoolsPreSignup"
	tokenSentinel  = "REPLACE_WITH_TOKEN"
	sampleConnID   = "L0SM9cOFvHcCIhw="
	sampleOwner    = "alice"
	missingSession = "sess_01jd0000000000000000000000"
)

type sample struct {
	file     string
	function string // the name `streamspace invoke` takes (SAM: title case + "Function")
	kind     string
	// unmodelled lists JSON paths (dot-separated) that AWS sends but the aws-lambda-go type has
	// no field for. They are removed before the strict decode; each must be present in the file,
	// so the list cannot silently outgrow what the file holds.
	unmodelled []string
}

// samples is every file in this folder; TestEverySampleIsListed fails on one that is not here.
var samples = []sample{
	{file: "meta-health.json", function: "meta", kind: kindHTTP},
	{file: "users-me.json", function: "users", kind: kindHTTP},
	{file: "sessions-create.json", function: "sessions", kind: kindHTTP},
	{file: "sessions-list.json", function: "sessions", kind: kindHTTP},
	{file: "sessions-get.json", function: "sessions", kind: kindHTTP},
	{file: "templates-list.json", function: "sessions", kind: kindHTTP},
	{file: "apikeys-create.json", function: "apikeys", kind: kindHTTP},
	{file: "teams-create.json", function: "teams", kind: kindHTTP},
	{file: "sharing-shared-sessions.json", function: "sharing", kind: kindHTTP},
	// A WebSocket API's REQUEST authorizer receives the WebSocket request context (connectionId,
	// routeKey, eventType…), but aws-lambda-go models it with the REST API's request context
	// type, which lacks these fields. The function decodes leniently (json.Unmarshal), so they
	// are simply ignored there.
	{file: "authorizer-websocket.json", function: "authorizer", kind: kindAuthWS, unmodelled: []string{
		"requestContext.routeKey", "requestContext.eventType", "requestContext.extendedRequestId",
		"requestContext.requestTime", "requestContext.messageDirection", "requestContext.connectedAt",
		"requestContext.requestTimeEpoch", "requestContext.domainName", "requestContext.connectionId",
	}},
	{file: "websocket-connect.json", function: "websocket", kind: kindWebSocket},
	{file: "websocket-message-ping.json", function: "websocket", kind: kindWebSocket},
	{file: "websocket-disconnect.json", function: "websocket", kind: kindWebSocket},
	{file: "notifier-session-created.json", function: "notifier", kind: kindDynamoDB},
	{file: "notifier-session-state-changed.json", function: "notifier", kind: kindDynamoDB},
	{file: "processor-session-state-changed.json", function: "processor", kind: kindDynamoDB},
	{file: "processor-session-created.json", function: "processor", kind: kindDynamoDB},
	{file: "activity-list.json", function: "activity", kind: kindHTTP},
	{file: "scheduler-tick.json", function: "scheduler", kind: kindCloudWatch},
	{file: "presignup-signup.json", function: "presignup", kind: kindPreSignUp},
	{file: "taskevents-running.json", function: "taskevents", kind: kindCloudWatch},
	{file: "taskevents-stopped-hibernated.json", function: "taskevents", kind: kindCloudWatch},
	{file: "taskevents-stopped-cannot-pull.json", function: "taskevents", kind: kindCloudWatch},
	{file: "taskevents-stopped-exited.json", function: "taskevents", kind: kindCloudWatch},
}

func target(kind string) any {
	switch kind {
	case kindHTTP:
		return &events.APIGatewayV2HTTPRequest{}
	case kindAuthWS:
		return &events.APIGatewayCustomAuthorizerRequestTypeRequest{}
	case kindWebSocket:
		return &events.APIGatewayWebsocketProxyRequest{}
	case kindDynamoDB:
		return &events.DynamoDBEvent{}
	case kindCloudWatch:
		return &events.CloudWatchEvent{}
	case kindPreSignUp:
		return &events.CognitoEventUserPoolsPreSignup{}
	}
	panic("unknown kind " + kind)
}

func read(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode reads a sample strictly into its type (after dropping the unmodelled paths) and
// returns the value and the file as generic JSON without those paths.
func decode(t *testing.T, s sample) (any, map[string]any) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(read(t, s.file), &doc); err != nil {
		t.Fatalf("%s is not JSON: %v", s.file, err)
	}
	for _, p := range s.unmodelled {
		if !deletePath(doc, strings.Split(p, ".")) {
			t.Fatalf("%s: listed unmodelled field %s is not in the file", s.file, p)
		}
	}
	stripped, _ := json.Marshal(doc)
	v := target(s.kind)
	dec := json.NewDecoder(bytes.NewReader(stripped))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s does not decode strictly into events.%s: %v", s.file, s.kind, err)
	}
	return v, doc
}

func deletePath(m map[string]any, path []string) bool {
	if len(path) == 1 {
		_, ok := m[path[0]]
		delete(m, path[0])
		return ok
	}
	sub, ok := m[path[0]].(map[string]any)
	return ok && deletePath(sub, path[1:])
}

func load[T any](t *testing.T, file string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(read(t, file), &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

func TestEverySampleIsListed(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range samples {
		if listed[s.file] {
			t.Errorf("%s is listed twice", s.file)
		}
		listed[s.file] = true
		if !slices.Contains(files, s.file) {
			t.Errorf("%s is listed but missing", s.file)
		}
	}
	for _, f := range files {
		if !listed[f] {
			t.Errorf("%s is not in the samples table of events_test.go: add it (with its type) so it is tested", f)
		}
	}
	readme := string(read(t, "README.md"))
	for _, f := range files {
		if !strings.Contains(readme, f) {
			t.Errorf("README.md does not describe %s", f)
		}
	}
}

// TestEveryFunctionHasASample (deploy finding 11): each functions/<name> has at least one sample
// here, so `sam local invoke <Name>Function -e events/…` works for every function.
func TestEveryFunctionHasASample(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "functions", "*", "main.go"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no functions/*/main.go: %v", err)
	}
	has := map[string]bool{}
	for _, s := range samples {
		has[s.function] = true
	}
	for _, d := range dirs {
		if name := filepath.Base(filepath.Dir(d)); !has[name] {
			t.Errorf("function %s has no sample event in events/ (docs/architecture.md, \"Adding a function\")", name)
		}
	}
}

// TestSamplesRoundTrip decodes every sample strictly and checks that re-encoding it gives the
// file back. The one tolerance: a field may be absent on one side only if it has a zero value
// (null, "", 0, false, {} or [], recursively) on the other. That covers the aws-lambda-go
// types' omitempty (an empty field in the file is dropped) and their fields without omitempty
// (e.g. requestContext.authentication, a struct, is always written; the authorizer request's
// cookies/identitySource are written as null), while every value the file actually carries
// must survive exactly.
func TestSamplesRoundTrip(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			v, want := decode(t, s)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			for _, d := range diff("", want, got) {
				t.Error(d)
			}
		})
	}
}

func zero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !zero(e) {
				return false
			}
		}
		return true
	}
	return false
}

func diff(path string, want, got any) []string {
	if zero(want) && zero(got) {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: file has %v, re-encoded %v", path, want, got)}
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		var out []string
		for _, k := range names {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case inW && inG:
				out = append(out, diff(path+"."+k, wv, gv)...)
			case inW && !zero(wv):
				out = append(out, fmt.Sprintf("%s.%s: in the file (%v) but lost when re-encoded", path, k, wv))
			case inG && !zero(gv):
				out = append(out, fmt.Sprintf("%s.%s: not in the file but re-encoded as %v", path, k, gv))
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: file has %v, re-encoded %v", path, want, got)}
		}
		var out []string
		for i := range w {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s: file has %v, re-encoded %v", path, want, got)}
	}
	return nil
}

// TestHTTPSamples serves each HTTP sample through its function's real handler, as Lambda would.
func TestHTTPSamples(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	var created string
	cases := []struct {
		file   string
		status int
		check  func(t *testing.T, resp events.APIGatewayV2HTTPResponse, body map[string]any)
	}{
		{"meta-health.json", 200, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			if body["status"] != "ok" {
				t.Errorf("status %v, want ok", body["status"])
			}
		}},
		{"users-me.json", 200, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			if body["id"] != sampleOwner || body["role"] != "user" || body["authMethod"] != "token" {
				t.Errorf("user %v, want id alice with role user by token", body)
			}
		}},
		{"apikeys-create.json", 201, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			key, _ := body["key"].(string)
			if !strings.HasPrefix(key, "sk_") || body["ownerId"] != sampleOwner || body["rateLimit"] != float64(500) || body["expiresAt"] == nil {
				t.Errorf("created key %v", body)
			}
		}},
		{"teams-create.json", 201, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			if id, _ := body["id"].(string); !strings.HasPrefix(id, "team_") || body["role"] != "owner" || body["displayName"] != "Design team" {
				t.Errorf("created team %v", body)
			}
		}},
		{"sharing-shared-sessions.json", 200, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			if items, ok := body["items"].([]any); !ok || len(items) != 0 {
				t.Errorf("shared sessions %v, want an empty list", body)
			}
		}},
		{"sessions-create.json", 201, func(t *testing.T, resp events.APIGatewayV2HTTPResponse, body map[string]any) {
			if body["state"] != sessions.StatePending || body["ownerId"] != sampleOwner || body["templateName"] != "firefox-browser" {
				t.Errorf("session %v, want a pending firefox-browser session of alice", body)
			}
			if tags, _ := body["tags"].([]any); len(tags) != 1 || tags[0] != "demo" {
				t.Errorf("tags %v, want [demo]", body["tags"])
			}
			created, _ = body["id"].(string)
			if loc := header(resp, "Location"); loc != "/api/v1/sessions/"+created {
				t.Errorf("Location %q", loc)
			}
		}},
		{"sessions-list.json", 200, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			items, ok := body["items"].([]any)
			if !ok {
				t.Fatalf("no items in %v", body)
			}
			found := false
			for _, it := range items {
				found = found || it.(map[string]any)["id"] == created
			}
			if !found {
				t.Errorf("the session sessions-create.json made (%s) is not listed: %v", created, items)
			}
		}},
		{"activity-list.json", 404, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			if body["status"] != float64(404) {
				t.Errorf("activity of an unknown session: %v", body)
			}
		}},
		{"sessions-get.json", 404, func(t *testing.T, resp events.APIGatewayV2HTTPResponse, body map[string]any) {
			if ct := header(resp, "Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			if body["status"] != float64(404) {
				t.Errorf("problem %v", body)
			}
		}},
		{"templates-list.json", 200, func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body map[string]any) {
			items, _ := body["items"].([]any)
			var names []string
			for _, it := range items {
				n, _ := it.(map[string]any)["name"].(string)
				names = append(names, n)
			}
			if !slices.Contains(names, "firefox-browser") {
				t.Errorf("templates %v lack firefox-browser", names)
			}
		}},
	}
	httpSamples := 0
	for _, s := range samples {
		if s.kind == kindHTTP {
			httpSamples++
		}
	}
	if httpSamples != len(cases) {
		t.Errorf("%d HTTP samples but %d cases here: give every HTTP sample an expectation", httpSamples, len(cases))
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			s := find(t, c.file)
			// The functions authenticate their callers (the HTTP API has no authorizer): the
			// sample's placeholder becomes a real token of the test's issuer.
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(bytes.ReplaceAll(read(t, c.file), []byte(tokenSentinel), []byte(env.Token(sampleOwner, ""))), &ev); err != nil {
				t.Fatal(err)
			}
			h, err := env.App.HTTPHandler(s.function)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := httpx.LambdaHandler(h)(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, resp.Body)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body is not a JSON object: %q", resp.Body)
			}
			c.check(t, resp, body)
		})
	}

	// With the placeholder left in, the function refuses: 401 as a problem, nothing served.
	t.Run("placeholder token", func(t *testing.T) {
		h, err := env.App.HTTPHandler("users")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := httpx.LambdaHandler(h)(ctx, load[events.APIGatewayV2HTTPRequest](t, "users-me.json"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Body, "credentials") || strings.Contains(resp.Body, sampleOwner) {
			t.Fatalf("status %d %s, want a 401 problem", resp.StatusCode, resp.Body)
		}
	})

	// The notifier samples claim to hold a session item exactly as the main table stores it:
	// compare attribute names and types with the item sessions-create.json just stored.
	t.Run("notifier image matches the stored item", func(t *testing.T) {
		if created == "" {
			t.Fatal("sessions-create.json created nothing to compare with")
		}
		out, err := env.App.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &env.App.Cfg.Tables.Main,
			Key: sessions.SessionKey(created), ConsistentRead: aws.Bool(true)})
		if err != nil || out.Item == nil {
			t.Fatalf("stored item: %v", err)
		}
		ev := load[events.DynamoDBEvent](t, "notifier-session-created.json")
		img, err := ddb.FromStreamImage(ev.Records[0].Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := shape(img), shape(out.Item); got != want {
			t.Errorf("sample NewImage attributes\n  %s\nstored item attributes\n  %s", got, want)
		}
	})
}

// shape describes an item's attribute names and types (recursing into maps), ignoring values.
func shape(item map[string]types.AttributeValue) string {
	parts := make([]string, 0, len(item))
	for k, v := range item {
		t := strings.TrimPrefix(fmt.Sprintf("%T", v), "*types.AttributeValueMember")
		if m, ok := v.(*types.AttributeValueMemberM); ok {
			t += "{" + shape(m.Value) + "}"
		}
		parts = append(parts, k+":"+t)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func header(resp events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func find(t *testing.T, file string) sample {
	t.Helper()
	for _, s := range samples {
		if s.file == file {
			return s
		}
	}
	t.Fatalf("%s is not in the samples table", file)
	return sample{}
}

// withToken returns the sample with the placeholder replaced by tok.
func withToken(t *testing.T, file, tok string) json.RawMessage {
	t.Helper()
	raw := read(t, file)
	if !bytes.Contains(raw, []byte(tokenSentinel)) {
		t.Fatalf("%s has no %s placeholder", file, tokenSentinel)
	}
	return bytes.ReplaceAll(raw, []byte(tokenSentinel), []byte(tok))
}

func TestAuthorizerSamples(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	tok := env.Token(sampleOwner, "")
	az := env.App.Authorizer()

	t.Run("authorizer-websocket.json", func(t *testing.T) {
		raw := withToken(t, "authorizer-websocket.json", tok)
		out, err := az.Handle(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		resp, ok := out.(events.APIGatewayCustomAuthorizerResponse)
		if !ok {
			t.Fatalf("answer %T, want a policy response", out)
		}
		methodArn := load[events.APIGatewayCustomAuthorizerRequestTypeRequest](t, "authorizer-websocket.json").MethodArn
		st := resp.PolicyDocument.Statement
		if resp.PrincipalID != sampleOwner || len(st) != 1 || st[0].Effect != "Allow" || !slices.Equal(st[0].Resource, []string{methodArn}) {
			t.Errorf("answer %+v, want alice allowed on %s", resp, methodArn)
		}
		if resp.Context["userId"] != sampleOwner {
			t.Errorf("context %v lacks userId alice", resp.Context)
		}

		_, err = az.Handle(ctx, read(t, "authorizer-websocket.json"))
		if err == nil || err.Error() != "Unauthorized" {
			t.Errorf("placeholder token: error %v, want Unauthorized (API Gateway's 401)", err)
		}
	})
}

func TestWebSocketSamples(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ws := env.App.WebSocket()
	conns := env.App.Connections()

	invoke := func(t *testing.T, file string) events.APIGatewayProxyResponse {
		t.Helper()
		ev := load[events.APIGatewayWebsocketProxyRequest](t, file)
		if ev.RequestContext.ConnectionID != sampleConnID {
			t.Fatalf("%s: connectionId %q, want %q", file, ev.RequestContext.ConnectionID, sampleConnID)
		}
		resp, err := ws.Handle(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	if resp := invoke(t, "websocket-connect.json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	l, ok, err := conns.Get(ctx, sampleConnID)
	if err != nil || !ok || l.UserID != sampleOwner {
		t.Fatalf("after connect: %+v %v %v, want alice's connection", l, ok, err)
	}

	resp := invoke(t, "websocket-message-ping.json")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"pong"`) {
		t.Errorf("ping: %d %s, want a pong", resp.StatusCode, resp.Body)
	}

	if resp := invoke(t, "websocket-disconnect.json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, resp.Body)
	}
	if _, ok, err := conns.Get(ctx, sampleConnID); err != nil || ok {
		t.Errorf("after disconnect: found %v, err %v; want the connection gone", ok, err)
	}
}

func TestNotifierSamples(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	cases := []struct {
		file  string
		types []string
	}{
		{"notifier-session-created.json", []string{"session.created"}},
		{"notifier-session-state-changed.json", []string{"session.state.changed"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ev := load[events.DynamoDBEvent](t, c.file)
			if len(ev.Records) != 1 {
				t.Fatalf("%d records, want 1", len(ev.Records))
			}
			rec := ev.Records[0]
			changes, err := notifier.Derive(rec)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range changes {
				got = append(got, ch.Event.Type)
				if ch.OwnerID != sampleOwner || !ids.Valid("sess", ch.Event.SessionID) {
					t.Errorf("event %+v: want a valid session id owned by alice", ch.Event)
				}
				if want := time.Unix(1732097700, 0); ch.Event.Timestamp.Before(want) || ch.Event.Timestamp.After(want.Add(time.Minute)) {
					t.Errorf("timestamp %v: want ApproximateCreationDateTime", ch.Event.Timestamp)
				}
			}
			if !slices.Equal(got, c.types) {
				t.Errorf("derived %v, want %v", got, c.types)
			}
			resp, err := env.App.Notifier().Handle(ctx, ev)
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Errorf("notifier: %+v, %v; want no failures", resp, err)
			}
		})
	}
}

// The processor's auditor step turns the sample's state change into activity, once however
// often it is delivered.
func TestAuditorSample(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ev := load[events.DynamoDBEvent](t, "processor-session-state-changed.json")
	acts, err := activity.Derive(ev.Records[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range acts {
		got = append(got, a.EventType)
	}
	if !slices.Equal(got, []string{"state.changed", "session.started"}) {
		t.Fatalf("derived %v", got)
	}
	for i := 0; i < 2; i++ {
		resp, err := env.App.Processor(nil).Handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("auditor: %+v, %v", resp, err)
		}
	}
	items, _, err := env.App.ActivityStore().List(ctx, activity.Query{SessionID: ev.Records[0].Change.Keys["PK"].String()[len("SESSION#"):], Limit: 10})
	if err != nil || len(items) != 2 {
		t.Fatalf("recorded %d activities (%v), want 2 despite the redelivery", len(items), err)
	}
}

// TestSchedulerSample: the EventBridge "Scheduled Event" the scheduler gets once a minute; a
// run at the event's time on an empty stack checks nothing and fails nothing (deploy finding 11:
// every function has a sample).
func TestSchedulerSample(t *testing.T) {
	env := testenv.Start(t)
	ev := load[events.EventBridgeEvent](t, "scheduler-tick.json")
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Time.IsZero() {
		t.Fatalf("not a scheduled event: %+v", ev)
	}
	sum, err := env.App.Scheduler().Run(context.Background(), ev.Time)
	if err != nil || sum.Failed != 0 {
		t.Fatalf("scheduler run: %+v, %v", sum, err)
	}
}

// TestPreSignUpSample: a self sign-up from an allowed domain passes, the same from another
// domain is refused, and the trigger confirms nobody itself (SEC-05).
func TestPreSignUpSample(t *testing.T) {
	ev := load[events.CognitoEventUserPoolsPreSignup](t, "presignup-signup.json")
	h := &presignup.Handler{Domains: presignup.ParseDomains("example.com")}
	out, err := h.Handle(context.Background(), ev)
	if err != nil || out.Response.AutoConfirmUser || out.Response.AutoVerifyEmail {
		t.Fatalf("allowed domain: %+v, %v", out.Response, err)
	}
	h.Domains = presignup.ParseDomains("corp.example.org")
	if _, err := h.Handle(context.Background(), ev); !errors.Is(err, presignup.ErrDomainNotAllowed) {
		t.Fatalf("other domain: %v, want ErrDomainNotAllowed", err)
	}
}

// TestInvokeCommand runs the Docker-free `sam local invoke` equivalent on samples.
func TestInvokeCommand(t *testing.T) {
	tier.Integration(t, "`go run` of the CLI and DynamoDB Local")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command on PATH")
	}
	env := testenv.Start(t)
	root := testenv.RepoRoot()
	cases := []struct {
		function, file string
		status         int
	}{
		{"meta", "meta-health.json", 200},
		{"SessionsFunction", "sessions-get.json", 404}, // the SAM logical id works too
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			// The function authenticates the sample's caller against this stack's issuer.
			file := filepath.Join(t.TempDir(), c.file)
			tok := env.Token(sampleOwner, "")
			if err := os.WriteFile(file, bytes.ReplaceAll(read(t, c.file), []byte(tokenSentinel), []byte(tok)), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(goBin, "run", "./cmd/streamspace", "invoke", c.function, "-e", file)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "DYNAMODB_ENDPOINT="+testenv.DynamoEndpoint(t), "JWKS_URL="+env.App.Cfg.JWT.JWKSURL,
				"TABLE_NAME="+env.App.Cfg.Tables.Main, "CONNECTIONS_TABLE_NAME="+env.App.Cfg.Tables.Connections)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			var out events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("stdout is not a response: %v\n%s", err, stdout.String())
			}
			if out.StatusCode != c.status {
				t.Errorf("statusCode %d, want %d: %s", out.StatusCode, c.status, out.Body)
			}
		})
	}
}

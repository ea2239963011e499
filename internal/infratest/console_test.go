package infratest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"streamspace/internal/local/console"
)

// The web console in AWS (docs/deploy.md, "The web console"): its files in a private bucket that
// only this stack's distribution reads (origin access control), the console's own addresses
// rewritten to /index.html on the bucket's behaviour only, and security headers on the page.
const (
	consoleBucket         = "ConsoleBucket"
	consoleBucketPolicy   = "ConsoleBucketPolicy"
	consoleOAC            = "ConsoleOriginAccessControl"
	consoleRoutesFunction = "ConsoleRoutesFunction"
	consoleHeadersPolicy  = "ConsoleResponseHeadersPolicy"
)

// consoleOriginDiffs: the distribution's console origin is the bucket through its origin access
// control (no legacy identity), the API origins are the two APIs over HTTPS only.
func consoleOriginDiffs(tmpl cfn, origins map[string]any) []string {
	var diffs []string
	o := origins["console"]
	if !slices.Equal(referencedResources(get(o, "DomainName")), []string{consoleBucket}) ||
		!slices.Equal(referencedResources(get(o, "OriginAccessControlId")), []string{consoleOAC}) ||
		str(get(o, "S3OriginConfig", "OriginAccessIdentity")) != "" || get(o, "CustomOriginConfig") != nil {
		diffs = append(diffs, fmt.Sprintf("%s: origin console %v, want %s through %s", distributionID, o, consoleBucket, consoleOAC))
	}
	oac := get(props(tmpl, consoleOAC), "OriginAccessControlConfig")
	if str(get(oac, "OriginAccessControlOriginType")) != "s3" || str(get(oac, "SigningBehavior")) != "always" || str(get(oac, "SigningProtocol")) != "sigv4" {
		diffs = append(diffs, fmt.Sprintf("%s: %v, want s3, always signed, sigv4", consoleOAC, oac))
	}
	for id, api := range map[string]string{"api": "HttpApi", "websocket": "WebSocketApi"} {
		o := origins[id]
		want := "${" + api + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
		if arnText(get(o, "DomainName")) != want || str(get(o, "CustomOriginConfig", "OriginProtocolPolicy")) != "https-only" {
			diffs = append(diffs, fmt.Sprintf("%s: origin %s %v, want %s over HTTPS only", distributionID, id, o, want))
		}
	}
	if len(origins) != 4 {
		diffs = append(diffs, fmt.Sprintf("%s: origins %v, want console, api, websocket and gateway", distributionID, slices.Sorted(mapKeys(origins))))
	}
	return diffs
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// consoleHostingDiffs: the bucket is private (every public access block, ACLs off, encrypted,
// TLS only); its policy grants s3:GetObject on its objects to CloudFront for this distribution
// alone and nothing else to anyone; the default behaviour rewrites client routes with the
// function (and only it does) and sends the security headers.
func consoleHostingDiffs(tmpl cfn) []string {
	var diffs []string
	b := props(tmpl, consoleBucket)
	if b == nil {
		return []string{"no " + consoleBucket}
	}
	for _, f := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if get(b, "PublicAccessBlockConfiguration", f) != true {
			diffs = append(diffs, fmt.Sprintf("%s: PublicAccessBlockConfiguration.%s must be true", consoleBucket, f))
		}
	}
	if rules := asList(get(b, "OwnershipControls", "Rules")); len(rules) != 1 || str(get(rules[0], "ObjectOwnership")) != "BucketOwnerEnforced" {
		diffs = append(diffs, consoleBucket+": ObjectOwnership must be BucketOwnerEnforced (ACLs off)")
	}
	if len(asList(get(b, "BucketEncryption", "ServerSideEncryptionConfiguration"))) == 0 {
		diffs = append(diffs, consoleBucket+": no default encryption")
	}
	if get(b, "WebsiteConfiguration") != nil {
		diffs = append(diffs, consoleBucket+": a website endpoint is public; CloudFront reads the bucket through origin access control")
	}
	if !secureTransportEnforced(tmpl, consoleBucket) {
		diffs = append(diffs, consoleBucket+": no bucket policy refuses plain HTTP")
	}
	wantSource := cfn{"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${" + distributionID + "}"}
	var grants []string
	for _, id := range resourcesOfType(tmpl, "AWS::S3::BucketPolicy") {
		p := props(tmpl, id)
		if !isRef(p["Bucket"], consoleBucket) {
			continue
		}
		for _, st := range statementsOf(p["PolicyDocument"]) {
			if str(st["Effect"]) != "Allow" {
				continue
			}
			principal, _ := json.Marshal(st["Principal"])
			grants = append(grants, fmt.Sprintf("%s %s %v %s", principal, strings.Join(stringsOf(st["Action"]), ","), arnText(st["Resource"]),
				map[bool]string{true: "this distribution", false: fmt.Sprint(st["Condition"])}[reflect.DeepEqual(get(st, "Condition", "StringEquals", "AWS:SourceArn"), wantSource)]))
		}
	}
	diffs = append(diffs, diffSets(consoleBucketPolicy+" grants",
		[]string{`{"Service":"cloudfront.amazonaws.com"} s3:GetObject ${ConsoleBucket.Arn}/* this distribution`}, grants)...)

	dc := get(props(tmpl, distributionID), "DistributionConfig")
	def := get(dc, "DefaultCacheBehavior")
	fa := asList(get(def, "FunctionAssociations"))
	if len(fa) != 1 || str(get(fa[0], "EventType")) != "viewer-request" ||
		!slices.Equal(referencedResources(get(fa[0], "FunctionARN")), []string{consoleRoutesFunction}) {
		diffs = append(diffs, fmt.Sprintf("%s default behavior: functions %v, want %s on viewer-request", distributionID, fa, consoleRoutesFunction))
	}
	for _, cb := range asList(get(dc, "CacheBehaviors")) {
		if get(cb, "FunctionAssociations") != nil || get(cb, "LambdaFunctionAssociations") != nil {
			diffs = append(diffs, fmt.Sprintf("%s behavior %s: rewrites requests; only the console's may", distributionID, arnText(get(cb, "PathPattern"))))
		}
	}
	// A custom error response would rewrite the API's and the gateway's errors too.
	if errs := asList(get(dc, "CustomErrorResponses")); len(errs) > 0 {
		diffs = append(diffs, fmt.Sprintf("%s: custom error responses %v rewrite API errors; client routes are ConsoleRoutesFunction's", distributionID, errs))
	}
	if str(get(dc, "DefaultRootObject")) != "index.html" {
		diffs = append(diffs, distributionID+": DefaultRootObject must be index.html")
	}
	if !isRef(get(def, "ResponseHeadersPolicyId"), consoleHeadersPolicy) {
		diffs = append(diffs, fmt.Sprintf("%s default behavior: response headers %v, want %s", distributionID, get(def, "ResponseHeadersPolicyId"), consoleHeadersPolicy))
	}
	csp := str(get(props(tmpl, consoleHeadersPolicy), "ResponseHeadersPolicyConfig", "SecurityHeadersConfig", "ContentSecurityPolicy", "ContentSecurityPolicy"))
	for _, d := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, d) {
			diffs = append(diffs, fmt.Sprintf("%s: Content-Security-Policy %q lacks %q", consoleHeadersPolicy, csp, d))
		}
	}
	if get(tmpl, "Outputs", "ConsoleUrl", "Value") == nil || get(tmpl, "Outputs", "ConsoleBucketName", "Value") == nil {
		diffs = append(diffs, "outputs ConsoleUrl and ConsoleBucketName are what make deploy-console and the deploy guide read")
	}
	return diffs
}

func TestConsoleHosting(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "console hosting", consoleHostingDiffs(transformed(t)))
}

// TestConsoleRoutesFunction runs the template's CloudFront function in Node (CloudFront's
// runtime is JavaScript too): the console's own addresses get the page, files and the root keep
// their path.
func TestConsoleRoutesFunction(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH; it is needed (it builds the console too) to run the console's CloudFront function")
	}
	code := str(get(props(transformed(t), consoleRoutesFunction), "FunctionCode"))
	cases := map[string]string{
		"/":                         "/index.html",
		"/sessions/abc-123":         "/index.html",
		"/invite/tok.en_x/":         "/index.html",
		"/teams/t1":                 "/index.html",
		"/auth/callback":            "/index.html",
		"/index.html":               "/index.html",
		"/config.json":              "/config.json",
		"/assets/index-Ab12.js":     "/assets/index-Ab12.js",
		"/assets/v1.2/styles":       "/index.html",
		"/favicon.ico":              "/favicon.ico",
		"/sessions/a.b/screenshot":  "/index.html",
		"/assets/index-Ab12.js.map": "/assets/index-Ab12.js.map",
	}
	in, _ := json.Marshal(slices.Sorted(func(yield func(string) bool) {
		for k := range cases {
			if !yield(k) {
				return
			}
		}
	}))
	script := code + "\nconst uris = " + string(in) + ";\n" +
		"console.log(JSON.stringify(Object.fromEntries(uris.map(u => [u, handler({request: {uri: u, headers: {}}}).uri]))));\n"
	cmd := exec.Command(node, "-e", script)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("node printed %q: %v", out.String(), err)
	}
	for uri, want := range cases {
		if got[uri] != want {
			t.Errorf("%s → %s, want %s", uri, got[uri], want)
		}
	}
}

// TestConsoleChecksDetectDrift breaks one thing of the console's hosting at a time and expects
// the matching check to report it.
func TestConsoleChecksDetectDrift(t *testing.T) {
	t.Parallel()
	dc := func(tmpl cfn) cfn { return asMap(get(props(tmpl, distributionID), "DistributionConfig")) }
	policy := func(tmpl cfn) []any {
		return asList(get(props(tmpl, consoleBucketPolicy), "PolicyDocument", "Statement"))
	}
	cases := []driftCase{
		{"public bucket", func(tmpl cfn) {
			asMap(props(tmpl, consoleBucket)["PublicAccessBlockConfiguration"])["BlockPublicPolicy"] = false
		}, consoleHostingDiffs, "BlockPublicPolicy must be true"},
		{"ACLs on", func(tmpl cfn) { delete(props(tmpl, consoleBucket), "OwnershipControls") }, consoleHostingDiffs, "BucketOwnerEnforced"},
		{"website endpoint", func(tmpl cfn) {
			props(tmpl, consoleBucket)["WebsiteConfiguration"] = cfn{"IndexDocument": "index.html"}
		}, consoleHostingDiffs, "a website endpoint is public"},
		{"any distribution reads it", func(tmpl cfn) {
			delete(asMap(policy(tmpl)[1]), "Condition")
		}, consoleHostingDiffs, `unexpected "{\"Service\":\"cloudfront.amazonaws.com\"} s3:GetObject ${ConsoleBucket.Arn}/* <nil>"`},
		{"everyone reads it", func(tmpl cfn) {
			p := asMap(get(props(tmpl, consoleBucketPolicy), "PolicyDocument"))
			p["Statement"] = append(policy(tmpl), cfn{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": cfn{"Fn::Sub": "${ConsoleBucket.Arn}/*"}})
		}, consoleHostingDiffs, `unexpected "\"*\" s3:GetObject`},
		{"404 page for the whole distribution", func(tmpl cfn) {
			dc(tmpl)["CustomErrorResponses"] = []any{cfn{"ErrorCode": float64(404), "ResponseCode": float64(200), "ResponsePagePath": "/index.html"}}
		}, consoleHostingDiffs, "rewrite API errors"},
		{"client routes rewritten on the API", func(tmpl cfn) {
			behavior(tmpl, "/api/*")["FunctionAssociations"] = asMap(dc(tmpl)["DefaultCacheBehavior"])["FunctionAssociations"]
		}, consoleHostingDiffs, "behavior /api/*: rewrites requests"},
		{"no client routes", func(tmpl cfn) { delete(asMap(dc(tmpl)["DefaultCacheBehavior"]), "FunctionAssociations") },
			consoleHostingDiffs, "want ConsoleRoutesFunction on viewer-request"},
		{"page may be framed", func(tmpl cfn) {
			h := asMap(get(props(tmpl, consoleHeadersPolicy), "ResponseHeadersPolicyConfig", "SecurityHeadersConfig", "ContentSecurityPolicy"))
			h["ContentSecurityPolicy"] = strings.ReplaceAll(str(h["ContentSecurityPolicy"]), "frame-ancestors 'none'", "frame-ancestors *")
		}, consoleHostingDiffs, `lacks "frame-ancestors 'none'"`},
		{"API responses cached", func(tmpl cfn) { behavior(tmpl, "/api/*")["CachePolicyId"] = cachingOptimized },
			cloudFrontDiffs, "behavior /api/*"},
		{"API without its credentials", func(tmpl cfn) {
			behavior(tmpl, "/api/*")["OriginRequestPolicyId"] = cfn{"Ref": gatewayOriginPolicy}
		}, cloudFrontDiffs, "behavior /api/*"},
		{"API read-only", func(tmpl cfn) { behavior(tmpl, "/api/*")["AllowedMethods"] = []any{"GET", "HEAD"} },
			cloudFrontDiffs, "want all seven"},
		{"WebSocket to the HTTP API", func(tmpl cfn) { behavior(tmpl, "/${StageName}")["TargetOriginId"] = "api" },
			cloudFrontDiffs, "behavior /${StageName}"},
		{"bucket read without origin access control", func(tmpl cfn) {
			delete(asMap(asList(dc(tmpl)["Origins"])[0]), "OriginAccessControlId")
		}, cloudFrontDiffs, "origin console"},
		{"API over plain HTTP", func(tmpl cfn) {
			asMap(get(asList(dc(tmpl)["Origins"])[1], "CustomOriginConfig"))["OriginProtocolPolicy"] = "http-only"
		}, cloudFrontDiffs, "origin api"},
	}
	runDrift(t, cases)
}

// TestConsoleConfigShape: the ConsoleConfig output, with its variables filled in as CloudFormation
// would, is a config.json the console reads (internal/local/console's Config, nothing more or
// less), for the stack's user pool and for another OIDC issuer alike.
func TestConsoleConfigShape(t *testing.T) {
	t.Parallel()
	sub := asList(get(transformed(t), "Outputs", "ConsoleConfig", "Value", "Fn::Sub"))
	if len(sub) != 2 {
		t.Fatalf("ConsoleConfig is %v, want an Fn::Sub with variables", get(transformed(t), "Outputs", "ConsoleConfig", "Value"))
	}
	text, vars := str(sub[0]), asMap(sub[1])
	for _, pool := range []bool{true, false} {
		values := map[string]string{"StageName": "prod"}
		for name, v := range vars {
			branches := asList(get(v, "Fn::If"))
			switch {
			case len(branches) == 3 && str(branches[0]) == "CreateUserPool" && pool:
				values[name] = "pool-" + strings.ToLower(name)
			case len(branches) == 3 && str(branches[0]) == "CreateUserPool":
				values[name] = arnText(branches[2])
			default:
				values[name] = "d123.cloudfront.net"
			}
		}
		filled := regexp.MustCompile(`\$\{([A-Za-z:]+)\}`).ReplaceAllStringFunc(text, func(m string) string {
			v, ok := values[m[2:len(m)-1]]
			if !ok {
				t.Errorf("ConsoleConfig names ${%s}, which is neither a variable nor StageName", m[2:len(m)-1])
			}
			return v
		})
		var c console.Config
		dec := json.NewDecoder(strings.NewReader(filled))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("pool %v: %s is not the console's Config: %v", pool, filled, err)
		}
		if c.SignIn != "oidc" || c.WebSocketURL != "wss://d123.cloudfront.net/prod" || c.OIDC == nil || c.OIDC.Authority == "" ||
			c.OIDC.ClientID == "" || !strings.Contains(c.OIDC.Scope, "openid") {
			t.Errorf("pool %v: config %+v (oidc %+v)", pool, c, c.OIDC)
		}
		if pool != (c.OIDC.LogoutURL != "") {
			t.Errorf("pool %v: logoutUrl %q (Cognito's hosted UI only)", pool, c.OIDC.LogoutURL)
		}
	}
}

// consoleSignInDiffs: the user pool's client signs the console in with the authorization code
// flow only (no implicit flow, no secret: PKCE), back to the console's own address, and the
// pool has a hosted UI domain.
func consoleSignInDiffs(tmpl cfn) []string {
	var diffs []string
	c := props(tmpl, "UserPoolClient")
	if c["GenerateSecret"] != false {
		diffs = append(diffs, "UserPoolClient: a browser cannot keep a secret (GenerateSecret false; PKCE instead)")
	}
	flows := get(c, "AllowedOAuthFlows", "Fn::If")
	if b := asList(flows); len(b) != 3 || str(b[0]) != "HasConsoleSignIn" || !slices.Equal(stringsOf(b[1]), []string{"code"}) {
		diffs = append(diffs, fmt.Sprintf("UserPoolClient: AllowedOAuthFlows %v, want [code] under HasConsoleSignIn", get(c, "AllowedOAuthFlows")))
	}
	host := cfn{"Fn::If": []any{"HasPublicDomain", cfn{"Ref": "PublicDomainName"}, cfn{"Ref": "ConsoleHostName"}}}
	for prop, path := range map[string]string{"CallbackURLs": "/auth/callback", "LogoutURLs": "/"} {
		want := cfn{"Fn::If": []any{"HasConsoleSignIn", []any{cfn{"Fn::Sub": []any{"https://${Host}" + path, cfn{"Host": host}}}}, cfn{"Ref": "AWS::NoValue"}}}
		if !reflect.DeepEqual(c[prop], want) {
			diffs = append(diffs, fmt.Sprintf("UserPoolClient: %s %v, want the console's %s", prop, c[prop], path))
		}
	}
	if !isRef(props(tmpl, "UserPoolDomain")["UserPoolId"], "UserPool") {
		diffs = append(diffs, "UserPoolDomain: the pool's hosted UI needs a domain")
	}
	return diffs
}

func TestConsoleSignIn(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "console sign-in", consoleSignInDiffs(transformed(t)))
	tmpl := transformed(t)
	b := asList(get(props(tmpl, "UserPoolClient"), "AllowedOAuthFlows", "Fn::If"))
	b[1] = []any{"code", "implicit"}
	if diffs := consoleSignInDiffs(tmpl); len(diffs) != 1 || !strings.Contains(diffs[0], "AllowedOAuthFlows") {
		t.Errorf("the implicit flow allowed: %v, want the AllowedOAuthFlows finding", diffs)
	}
}

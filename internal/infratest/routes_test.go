package infratest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"streamspace/internal/routes"
)

const (
	httpAPIID          = "HttpApi"
	authorizerFunction = "AuthorizerFunction"
	noneAuthorizer     = "NONE" // SAM's marker for "no authorizer" in an operation's security
)

// functionLogicalID is the SAM resource of a routes.Fn* function: "sessions" → "SessionsFunction".
func functionLogicalID(fn string) string {
	r, n := utf8.DecodeRuneInString(fn)
	return string(unicode.ToUpper(r)) + fn[n:] + "Function"
}

// openAPIMethods maps OpenAPI operation keys to HTTP methods.
var openAPIMethods = map[string]string{
	"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "patch": "PATCH",
	"head": "HEAD", "options": "OPTIONS", "trace": "TRACE", "x-amazon-apigateway-any-method": "ANY",
}

// httpRoute is one operation of the HTTP API's OpenAPI body.
type httpRoute struct {
	Function    string   // logical id of the integrated Lambda function
	Authorizers []string // security requirement names; empty or only NONE = public
}

func (r httpRoute) public() bool {
	for _, a := range r.Authorizers {
		if a != noneAuthorizer {
			return false
		}
	}
	return true
}

// httpRoutes reads the routes SAM rendered into the HTTP API's OpenAPI Body, keyed
// "METHOD /path". Problems with individual operations come back as strings.
func httpRoutes(tmpl cfn) (map[string]httpRoute, []string) {
	body := asMap(get(props(tmpl, httpAPIID), "Body"))
	if body == nil {
		return nil, []string{fmt.Sprintf("%s has no OpenAPI Body", httpAPIID)}
	}
	out := map[string]httpRoute{}
	var problems []string
	for path, item := range asMap(body["paths"]) {
		for op, def := range asMap(item) {
			method, ok := openAPIMethods[op]
			if !ok {
				continue // "parameters" and other path-level keys
			}
			key := method + " " + path
			integ := get(def, "x-amazon-apigateway-integration")
			if got := str(get(integ, "type")); got != "aws_proxy" {
				problems = append(problems, fmt.Sprintf("%s: integration type %q, want aws_proxy", key, got))
			}
			if got := str(get(integ, "payloadFormatVersion")); got != "2.0" {
				problems = append(problems, fmt.Sprintf("%s: payloadFormatVersion %q, want 2.0", key, got))
			}
			fns := referencedOfType(tmpl, get(integ, "uri"), "AWS::Lambda::Function")
			r := httpRoute{}
			if len(fns) == 1 {
				r.Function = fns[0]
			} else {
				problems = append(problems, fmt.Sprintf("%s: integration uri names functions %v, want exactly one", key, fns))
			}
			for _, req := range asList(get(def, "security")) {
				for name := range asMap(req) {
					r.Authorizers = append(r.Authorizers, name)
				}
			}
			sort.Strings(r.Authorizers)
			out[key] = r
		}
	}
	return out, problems
}

// lambdaAuthorizerName is the security scheme of the HTTP API that invokes AuthorizerFunction.
func lambdaAuthorizerName(tmpl cfn) string {
	schemes := asMap(get(props(tmpl, httpAPIID), "Body", "components", "securitySchemes"))
	var names []string
	for name, s := range schemes {
		if slices.Contains(referencedResources(get(s, "x-amazon-apigateway-authorizer", "authorizerUri")), authorizerFunction) {
			names = append(names, name)
		}
	}
	if len(names) != 1 {
		return ""
	}
	return names[0]
}

// routeDiffs compares the template's HTTP routes with a routes table; nil means they agree.
func routeDiffs(tmpl cfn, want []routes.Route) []string {
	got, diffs := httpRoutes(tmpl)
	authz := lambdaAuthorizerName(tmpl)
	if authz == "" {
		diffs = append(diffs, fmt.Sprintf("%s: want exactly one security scheme whose authorizer is %s", httpAPIID, authorizerFunction))
	}
	seen := map[string]bool{}
	for _, r := range want {
		key := r.Key()
		if seen[key] {
			diffs = append(diffs, fmt.Sprintf("routes table lists %s twice", key))
			continue
		}
		seen[key] = true
		g, ok := got[key]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s (function %s) is in routes.All but not in the template", key, r.Function))
			continue
		}
		if fn := functionLogicalID(r.Function); g.Function != fn {
			diffs = append(diffs, fmt.Sprintf("%s is served by %s in the template, by %s in routes.All", key, g.Function, fn))
		}
		switch {
		case r.Public && !g.public():
			diffs = append(diffs, fmt.Sprintf("%s is public in routes.All but the template requires %v (want Auth: {Authorizer: NONE})", key, g.Authorizers))
		case !r.Public && (len(g.Authorizers) != 1 || g.Authorizers[0] != authz):
			diffs = append(diffs, fmt.Sprintf("%s needs credentials in routes.All but the template's security is %v (want [%s])", key, g.Authorizers, authz))
		}
	}
	var extra []string
	for key := range got {
		if !seen[key] {
			extra = append(extra, key)
		}
	}
	sort.Strings(extra)
	for _, key := range extra {
		diffs = append(diffs, fmt.Sprintf("%s (function %s) is in the template but not in routes.All", key, got[key].Function))
	}
	return diffs
}

func TestHTTPRoutesMatchRoutesTable(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	reportDiffs(t, "HTTP API vs routes.All", routeDiffs(tmpl, routes.All))
}

// pathParam turns API Gateway path parameters into the "*" SAM puts in permission ARNs.
var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestHTTPRoutesInvokable: API Gateway may invoke each route's function for that route.
func TestHTTPRoutesInvokable(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	type perm struct{ fn, arn string }
	var perms []perm
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
		p := props(tmpl, id)
		if str(p["Principal"]) != "apigateway.amazonaws.com" || str(p["Action"]) != "lambda:InvokeFunction" {
			continue
		}
		if !slices.Contains(referencedResources(p["SourceArn"]), httpAPIID) {
			continue
		}
		fns := referencedResources(p["FunctionName"])
		sub := get(p, "SourceArn", "Fn::Sub")
		arn := str(sub)
		if l := asList(sub); len(l) > 0 {
			arn = str(l[0])
		}
		for _, fn := range fns {
			perms = append(perms, perm{fn, arn})
		}
	}
	for _, r := range routes.All {
		fn := functionLogicalID(r.Function)
		suffix := "/" + r.Method + pathParam.ReplaceAllString(r.Path, "*")
		ok := slices.ContainsFunc(perms, func(p perm) bool { return p.fn == fn && strings.HasSuffix(p.arn, suffix) })
		if !ok {
			t.Errorf("%s: no AWS::Lambda::Permission lets %s invoke %s (SourceArn …%s)", r.Key(), httpAPIID, fn, suffix)
		}
	}
	authzOK := slices.ContainsFunc(perms, func(p perm) bool { return p.fn == authorizerFunction && strings.Contains(p.arn, "/authorizers/") })
	if !authzOK {
		t.Errorf("no AWS::Lambda::Permission lets %s invoke %s as an authorizer", httpAPIID, authorizerFunction)
	}
}

// TestHTTPAuthorizer: the shared REQUEST authorizer is always invoked (no identity sources, no
// cache) and answers in the 2.0 simple format the Go handler produces.
func TestHTTPAuthorizer(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	name := lambdaAuthorizerName(tmpl)
	if name == "" {
		t.Fatalf("%s: no (or more than one) security scheme invokes %s", httpAPIID, authorizerFunction)
	}
	a := asMap(get(props(tmpl, httpAPIID), "Body", "components", "securitySchemes", name, "x-amazon-apigateway-authorizer"))
	checks := []struct {
		field string
		got   any
		ok    bool
		want  string
	}{
		{"type", a["type"], a["type"] == "request", `"request"`},
		{"authorizerPayloadFormatVersion", a["authorizerPayloadFormatVersion"], a["authorizerPayloadFormatVersion"] == "2.0", `"2.0"`},
		{"enableSimpleResponses", a["enableSimpleResponses"], a["enableSimpleResponses"] == true, "true"},
		// 0 disables caching: a revoked credential must stop working on the next request.
		{"authorizerResultTtlInSeconds", a["authorizerResultTtlInSeconds"], a["authorizerResultTtlInSeconds"] == float64(0), "0"},
		// With an identity source API Gateway answers 401 itself when it is missing; the
		// contract wants the function's problem+json 401, so there must be none.
		{"identitySource", a["identitySource"], len(stringsOf(a["identitySource"])) == 0, "none"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("HTTP authorizer %s: %s = %#v, want %s", name, c.field, c.got, c.want)
		}
	}
	cors := asMap(get(props(tmpl, httpAPIID), "Body", "x-amazon-apigateway-cors"))
	if origins := asList(cors["allowOrigins"]); len(origins) == 0 {
		t.Errorf("HTTP API CORS allowOrigins = %#v, want a non-empty list (from the CorsAllowedOrigins parameter)", cors["allowOrigins"])
	}
}

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

// securitySchemes lists the HTTP API's security schemes (authorizers): there must be none, the
// functions authenticate their callers (SEC-09).
func securitySchemes(tmpl cfn) []string {
	var names []string
	for name := range asMap(get(props(tmpl, httpAPIID), "Body", "components", "securitySchemes")) {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// routeDiffs compares the template's HTTP routes with a routes table; nil means they agree.
func routeDiffs(tmpl cfn, want []routes.Route) []string {
	got, diffs := httpRoutes(tmpl)
	if schemes := securitySchemes(tmpl); len(schemes) > 0 {
		diffs = append(diffs, fmt.Sprintf("%s has authorizers %v: the HTTP API must have none (the functions authenticate; SEC-09)", httpAPIID, schemes))
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
		if !g.public() {
			diffs = append(diffs, fmt.Sprintf("%s: the template puts %v in front of it; no route has an authorizer (its function authenticates)", key, g.Authorizers))
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
	reportDiffs(t, `HTTP API vs routes.All (docs/architecture.md, "Adding a route")`, routeDiffs(tmpl, routes.All))
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
	if slices.ContainsFunc(perms, func(p perm) bool { return p.fn == authorizerFunction }) {
		t.Errorf("%s may invoke %s: the HTTP API has no authorizer", httpAPIID, authorizerFunction)
	}
}

// TestHTTPAPIHasNoAuthorizer: no Lambda authorizer runs in front of the HTTP functions, not even
// for requests without credentials (SEC-09); they authenticate their callers themselves.
func TestHTTPAPIHasNoAuthorizer(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	if schemes := securitySchemes(tmpl); len(schemes) > 0 {
		t.Errorf("%s: security schemes %v, want none", httpAPIID, schemes)
	}
	cors := asMap(get(props(tmpl, httpAPIID), "Body", "x-amazon-apigateway-cors"))
	if origins := asList(cors["allowOrigins"]); len(origins) == 0 {
		t.Errorf("HTTP API CORS allowOrigins = %#v, want a non-empty list (from the CorsAllowedOrigins parameter)", cors["allowOrigins"])
	}
}

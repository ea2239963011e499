package parity

import (
	"fmt"
	"regexp"
	"strings"
)

// canonicalHTTPAPI applies H1 to every HTTP API of the template.
func canonicalHTTPAPI(t Template, res map[string]any) error {
	for _, id := range sortedKeys(res) {
		r := res[id]
		if typeOf(r) != "AWS::ApiGatewayV2::Api" {
			continue
		}
		p := propsOf(r)
		switch {
		case p["Body"] != nil:
			if err := httpAPIFromBody(t, p); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		case p["ProtocolType"] == "HTTP":
			if err := httpAPIFromResources(t, id, p, res); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
	}
	return nil
}

// httpAPIFromBody reads SAM's OpenAPI body.
func httpAPIFromBody(t Template, p map[string]any) error {
	body := asMap(p["Body"])
	delete(p, "Body")
	p["ProtocolType"] = "HTTP"
	info := asMap(body["info"])
	if v, ok := info["title"]; ok {
		p["Name"] = v
	}
	if v, ok := info["description"]; ok {
		p["Description"] = v
	}
	if cors := asMap(body["x-amazon-apigateway-cors"]); cors != nil {
		c := map[string]any{}
		for k, v := range cors {
			c[strings.ToUpper(k[:1])+k[1:]] = v
		}
		p["CorsConfiguration"] = c
	}
	authorizers := map[string]any{}
	for name, scheme := range asMap(asMap(body["components"])["securitySchemes"]) {
		a := asMap(asMap(scheme)["x-amazon-apigateway-authorizer"])
		if a == nil {
			authorizers[name] = scheme // not a Lambda authorizer: keep it whole
			continue
		}
		authorizers[name] = map[string]any{
			"Function":                       invokedFunction(a["authorizerUri"]),
			"AuthorizerType":                 strings.ToUpper(fmt.Sprint(a["type"])),
			"AuthorizerPayloadFormatVersion": a["authorizerPayloadFormatVersion"],
			"EnableSimpleResponses":          a["enableSimpleResponses"],
			"AuthorizerResultTtlInSeconds":   a["authorizerResultTtlInSeconds"],
			"IdentitySource":                 a["identitySource"],
		}
	}
	routes := map[string]any{}
	for path, item := range asMap(body["paths"]) {
		for method, op := range asMap(item) {
			o := asMap(op)
			verb := strings.ToUpper(method)
			if method == "x-amazon-apigateway-any-method" {
				verb = "ANY"
			}
			integ := asMap(o["x-amazon-apigateway-integration"])
			route := map[string]any{
				"Function":    invokedFunction(integ["uri"]),
				"Integration": fmt.Sprintf("%s %v", strings.ToUpper(fmt.Sprint(integ["type"])), integ["payloadFormatVersion"]),
			}
			// No security at all is no authorization, as a CDK route without an authorizer.
			auth := "NONE"
			if sec := asList(o["security"]); len(sec) == 1 {
				for name := range asMap(sec[0]) {
					auth = name
				}
			}
			if auth != "NONE" {
				if _, ok := authorizers[auth]; ok {
					auth = "authorizer " + auth
				}
			}
			route["Authorization"] = auth
			routes[verb+" "+path] = route
		}
	}
	p["Routes"] = routes
	p["Authorizers"] = authorizers
	// Anything else in the body would have no counterpart: keep it visible (SAM's own tags go,
	// T7).
	for k, v := range body {
		switch k {
		case "openapi", "info", "paths", "components", "x-amazon-apigateway-cors":
		case "tags":
			if isOnlySAMTag(v) {
				continue
			}
			p["Body."+k] = v
		default:
			p["Body."+k] = v
		}
	}
	resolveListParameters(t, asMap(p["CorsConfiguration"]))
	return nil
}

func isOnlySAMTag(v any) bool {
	l := asList(v)
	return len(l) == 1 && asMap(l[0])["name"] == "httpapi:createdBy"
}

// httpAPIFromResources reads CDK's routes, integrations and authorizers of one API and removes
// those resources (their logical ids are CDK's hashes).
func httpAPIFromResources(t Template, api string, p map[string]any, res map[string]any) error {
	ofAPI := func(r any) bool { return refName(propsOf(r)["ApiId"]) == api }
	authorizers := map[string]any{}
	authorizerNames := map[string]string{}
	for id, r := range res {
		if typeOf(r) != "AWS::ApiGatewayV2::Authorizer" || !ofAPI(r) {
			continue
		}
		a := propsOf(r)
		name := fmt.Sprint(a["Name"])
		authorizerNames[id] = name
		entry := map[string]any{"Function": invokedFunction(a["AuthorizerUri"])}
		for k, v := range a {
			if k != "ApiId" && k != "Name" && k != "AuthorizerUri" {
				entry[k] = v
			}
		}
		authorizers[name] = entry
	}
	routes := map[string]any{}
	var used []string
	for id, r := range res {
		if typeOf(r) != "AWS::ApiGatewayV2::Route" || !ofAPI(r) {
			continue
		}
		rp := propsOf(r)
		route := map[string]any{}
		target, _ := rp["Target"].(string)
		integID, ok := strings.CutPrefix(target, "integrations/${")
		integID = strings.TrimSuffix(integID, "}")
		if ip := propsOf(res[integID]); ok && typeOf(res[integID]) == "AWS::ApiGatewayV2::Integration" {
			route["Function"] = invokedFunction(ip["IntegrationUri"])
			route["Integration"] = fmt.Sprintf("%v %v", ip["IntegrationType"], ip["PayloadFormatVersion"])
			for k, v := range ip {
				switch k {
				case "ApiId", "IntegrationUri", "IntegrationType", "PayloadFormatVersion", "IntegrationMethod":
				default:
					route["Integration."+k] = v
				}
			}
			used = append(used, integID)
		} else {
			route["Target"] = rp["Target"]
		}
		switch rp["AuthorizationType"] {
		case "NONE", nil:
			route["Authorization"] = "NONE"
		case "CUSTOM":
			route["Authorization"] = "authorizer " + authorizerNames[refName(rp["AuthorizerId"])]
		default:
			route["Authorization"] = rp["AuthorizationType"]
		}
		for k, v := range rp {
			switch k {
			case "ApiId", "RouteKey", "Target", "AuthorizationType", "AuthorizerId":
			default:
				route[k] = v
			}
		}
		routes[fmt.Sprint(rp["RouteKey"])] = route
		delete(res, id)
	}
	for _, id := range used {
		delete(res, id)
	}
	for id := range authorizerNames {
		delete(res, id)
	}
	p["Routes"] = routes
	p["Authorizers"] = authorizers
	resolveListParameters(t, asMap(p["CorsConfiguration"]))
	return nil
}

// resolveListParameters replaces, in one object, values that are a whole reference to a
// CommaDelimitedList parameter by its default split on commas (H1).
func resolveListParameters(t Template, m map[string]any) {
	params := asMap(t["Parameters"])
	for k, v := range m {
		name := refName(v)
		spec := asMap(params[name])
		if name == "" || spec == nil || spec["Type"] != "CommaDelimitedList" {
			continue
		}
		var out []any
		for _, s := range strings.Split(fmt.Sprint(spec["Default"]), ",") {
			out = append(out, strings.TrimSpace(s))
		}
		m[k] = out
	}
}

// canonicalPermissions applies P1–P3: every AWS::Lambda::Permission becomes one entry of the
// template's "Lambda permissions" set.
func canonicalPermissions(t Template, res map[string]any) {
	httpAPIs := map[string]bool{}
	for id, r := range res {
		if typeOf(r) == "AWS::ApiGatewayV2::Api" && propsOf(r)["ProtocolType"] == "HTTP" {
			httpAPIs[id] = true
		}
	}
	set := map[string]any{}
	for id, r := range res {
		if typeOf(r) != "AWS::Lambda::Permission" {
			continue
		}
		p := propsOf(r)
		fn := refName(p["FunctionName"])
		if fn == "" {
			fn = canonicalJSON(p["FunctionName"])
		}
		entry := fmt.Sprintf("%s may be invoked (%v) by %v", fn, p["Action"], p["Principal"])
		if src, ok := p["SourceArn"]; ok {
			entry += " from " + httpSourceArn(fmt.Sprint(src), httpAPIs)
		}
		for _, k := range sortedKeys(p) {
			switch k {
			case "FunctionName", "Action", "Principal", "SourceArn":
			default:
				entry += fmt.Sprintf(" %s=%s", k, canonicalJSON(p[k]))
			}
		}
		if c, ok := asMap(r)["Condition"]; ok {
			entry += fmt.Sprintf(" (condition %v)", c)
		}
		set[entry] = true
		delete(res, id)
	}
	if len(set) > 0 {
		t["LambdaPermissions"] = set
	}
}

var executeAPIArn = regexp.MustCompile(`^(arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:\$\{([A-Za-z0-9]+)\})/(.*)$`)
var pathParameter = regexp.MustCompile(`\{[^}/]+\}`)

// httpSourceArn applies P3 to source ARNs on an HTTP API.
func httpSourceArn(src string, httpAPIs map[string]bool) string {
	m := executeAPIArn.FindStringSubmatch(src)
	if m == nil || !httpAPIs[m[2]] {
		return src
	}
	rest := m[3]
	if strings.HasPrefix(rest, "authorizers/") {
		return m[1] + "/authorizers/*"
	}
	parts := strings.SplitN(rest, "/", 3) // stage, method, path
	if len(parts) == 3 {
		rest = parts[0] + "/*/" + pathParameter.ReplaceAllString(parts[2], "*")
	}
	return m[1] + "/" + rest
}

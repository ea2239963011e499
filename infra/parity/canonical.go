package parity

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Canonical is a template in the canonical form the package comment describes (a new value;
// tmpl is not modified).
func Canonical(tmpl Template, code CodeSource) (Template, error) {
	t, _ := render(tmpl).(map[string]any)
	if t == nil {
		return nil, fmt.Errorf("not a template")
	}
	// T1
	deleteKey(t, "Parameters", "BootstrapVersion")
	deleteKey(t, "Rules", "CheckBootstrapVersion")
	deleteKey(t, "Conditions", "CDKMetadataAvailable")
	res, _ := t["Resources"].(map[string]any)
	if res == nil {
		return nil, fmt.Errorf("no Resources")
	}
	for id, r := range res {
		if typeOf(r) == "AWS::CDK::Metadata" {
			delete(res, id)
		}
	}

	// F1 reads Metadata, so functions go first; T2 then drops every resource's Metadata.
	for _, id := range sortedKeys(res) {
		r := res[id].(map[string]any)
		if typeOf(r) == "AWS::Lambda::Function" {
			if err := canonicalFunction(id, r, code); err != nil {
				return nil, err
			}
		}
		delete(r, "Metadata")
		dropSAMTags(r)
		if deps := stringList(r["DependsOn"]); len(deps) > 0 {
			sort.Strings(deps)
			r["DependsOn"] = anyList(deps)
		}
	}
	if err := canonicalHTTPAPI(t, res); err != nil {
		return nil, err
	}
	canonicalIAM(res)
	canonicalPermissions(t, res)
	return t, nil
}

func deleteKey(t map[string]any, section, key string) {
	if m, ok := t[section].(map[string]any); ok {
		delete(m, key)
		if len(m) == 0 {
			delete(t, section)
		}
	}
}

func typeOf(r any) string {
	m, _ := r.(map[string]any)
	s, _ := m["Type"].(string)
	return s
}

func propsOf(r any) map[string]any {
	m, _ := r.(map[string]any)
	p, _ := m["Properties"].(map[string]any)
	if p == nil && m != nil {
		p = map[string]any{}
		m["Properties"] = p
	}
	return p
}

// canonicalFunction applies F1.
func canonicalFunction(id string, r map[string]any, code CodeSource) error {
	src, err := code(id, r)
	if err != nil {
		return fmt.Errorf("function %s: %w", id, err)
	}
	p := propsOf(r)
	delete(p, "Code")
	p["Code"] = "built from " + src
	return nil
}

// dropSAMTags applies T7.
func dropSAMTags(r map[string]any) {
	p := propsOf(r)
	samTag := func(k string, v any) bool {
		return (k == "lambda:createdBy" || k == "httpapi:createdBy") && v == "SAM"
	}
	switch tags := p["Tags"].(type) {
	case map[string]any:
		for k, v := range tags {
			if samTag(k, v) {
				delete(tags, k)
			}
		}
	case []any:
		var keep []any
		for _, e := range tags {
			m, _ := e.(map[string]any)
			if k, _ := m["Key"].(string); !samTag(k, m["Value"]) {
				keep = append(keep, e)
			}
		}
		p["Tags"] = keep
	}
}

// refName returns X for "${X}" or "${X.Attr}" (a whole-string reference), else "".
func refName(v any) string {
	s, _ := v.(string)
	if m := wholeRef.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

var wholeRef = regexp.MustCompile(`^\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}$`)

// invokedFunction is the function of an API Gateway Lambda integration or authorizer URI
// (…/functions/${F.Arn}/invocations), or "" if it is not one.
func invokedFunction(uri any) string {
	s, _ := uri.(string)
	if m := invocationURI.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return refName(uri) // CDK's HTTP integrations use the function ARN itself
}

var invocationURI = regexp.MustCompile(`/functions/\$\{([A-Za-z0-9]+)\.Arn\}/invocations$`)

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				out = append(out, canonicalJSON(e))
			}
		}
		return out
	case nil:
		return nil
	}
	return []string{canonicalJSON(v)}
}

func joinSorted(l []string) string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return strings.Join(c, ",")
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

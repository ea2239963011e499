package parity

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// render applies T3: references, Fn::Sub and Fn::Join of strings become text; other intrinsics
// keep their shape with rendered arguments. The input is not modified.
func render(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					if s, ok := arg.(string); ok {
						return "${" + s + "}"
					}
				case "Fn::GetAtt":
					if s, ok := arg.(string); ok {
						return "${" + s + "}"
					}
					if l, ok := arg.([]any); ok && len(l) == 2 {
						a, okA := l[0].(string)
						b, okB := l[1].(string)
						if okA && okB {
							return "${" + a + "." + b + "}"
						}
					}
				case "Fn::Sub":
					if out, ok := renderSub(arg); ok {
						return out
					}
				case "Fn::Join":
					if out, ok := renderJoin(arg); ok {
						return out
					}
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = render(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = render(e)
		}
		return out
	}
	return v
}

var subVariable = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// renderSub substitutes Fn::Sub's own variables (when they render to text); references to the
// template's resources and parameters (${X}, ${X.Attr}) are already in rendered form.
func renderSub(arg any) (string, bool) {
	switch s := arg.(type) {
	case string:
		return s, true
	case []any:
		if len(s) != 2 {
			return "", false
		}
		text, ok := s[0].(string)
		vars, okVars := s[1].(map[string]any)
		if !ok || !okVars {
			return "", false
		}
		values := map[string]string{}
		for k, v := range vars {
			r, isText := render(v).(string)
			if !isText {
				return "", false
			}
			values[k] = r
		}
		return subVariable.ReplaceAllStringFunc(text, func(m string) string {
			if v, ok := values[m[2:len(m)-1]]; ok {
				return v
			}
			return m
		}), true
	}
	return "", false
}

func renderJoin(arg any) (string, bool) {
	l, ok := arg.([]any)
	if !ok || len(l) != 2 {
		return "", false
	}
	sep, okSep := l[0].(string)
	parts, okParts := l[1].([]any)
	if !okSep || !okParts {
		return "", false
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		t, isText := render(p).(string)
		if !isText {
			return "", false
		}
		texts[i] = t
	}
	return strings.Join(texts, sep), true
}

// flatten writes one fact per leaf of v under prefix (T4, T5). Objects that are intrinsics
// (after rendering: Fn::If and the like) are one leaf; list elements are named by their natural
// key (IndexName, AttributeName, Id…) when every element has a distinct one, so that order does
// not matter where CloudFormation does not care about it.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return
		}
		if isIntrinsic(x) {
			out[prefix] = canonicalJSON(x)
			return
		}
		for k, e := range x {
			flatten(prefix+pathKey(k), e, out)
		}
	case []any:
		if len(x) == 0 {
			return
		}
		if allScalars(x) {
			texts := make([]string, len(x))
			for i, e := range x {
				texts[i] = scalarText(e)
			}
			b, _ := json.Marshal(texts)
			out[prefix] = string(b)
			return
		}
		names := elementNames(x)
		for i, e := range x {
			flatten(prefix+names[i], e, out)
		}
	default:
		out[prefix] = scalarText(x)
	}
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func pathKey(k string) string {
	if plainKey.MatchString(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// naturalKeys name list elements, in order of preference.
var naturalKeys = []string{"IndexName", "AttributeName", "Id", "Key", "Name", "Sid"}

func elementNames(l []any) []string {
	for _, k := range naturalKeys {
		names := make([]string, len(l))
		seen := map[string]bool{}
		ok := true
		for i, e := range l {
			m, isMap := e.(map[string]any)
			s, isText := m[k].(string)
			if !isMap || !isText || seen[s] {
				ok = false
				break
			}
			seen[s] = true
			names[i] = "[" + k + "=" + s + "]"
		}
		if ok {
			return names
		}
	}
	names := make([]string, len(l))
	for i := range l {
		names[i] = "[" + strconv.Itoa(i) + "]"
	}
	return names
}

func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

func allScalars(l []any) bool {
	for _, e := range l {
		switch e.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v) // other numbers (templates built in Go code, as in tests)
}

// canonicalJSON is v as JSON with sorted keys (encoding/json sorts map keys) and scalars as
// text (T4).
func canonicalJSON(v any) string {
	b, _ := json.Marshal(textScalars(v))
	return string(b)
}

func textScalars(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = textScalars(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = textScalars(e)
		}
		return out
	case string:
		return x
	}
	return scalarText(v)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

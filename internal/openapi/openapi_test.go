package openapi

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"streamspace/internal/routes"
)

func built(t *testing.T) map[string]any {
	t.Helper()
	b, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

// resolve follows a local $ref, failing the test when it does not resolve.
func resolve(t *testing.T, doc map[string]any, ref string) any {
	t.Helper()
	if !strings.HasPrefix(ref, "#/") {
		t.Fatalf("$ref %q is not local", ref)
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok || m[tok] == nil {
			t.Fatalf("$ref %q does not resolve (at %q)", ref, tok)
		}
		cur = m[tok]
	}
	return cur
}

// deref returns v, or what its $ref points at.
func deref(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	if r, ok := obj(v)["$ref"].(string); ok {
		return obj(resolve(t, doc, r))
	}
	return obj(v)
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// The structure OpenAPI 3.1 requires of what this document uses, checked by hand: no validator
// of OpenAPI documents themselves is among the project's dependencies.
func TestDocumentIsOpenAPI31(t *testing.T) {
	doc := built(t)
	if v, _ := doc["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Fatalf("openapi = %q, want 3.1.x", v)
	}
	info := obj(doc["info"])
	if info["title"] == "" || info["version"] == "" || info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs title and version: %v", info)
	}
	if doc["jsonSchemaDialect"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("jsonSchemaDialect = %v", doc["jsonSchemaDialect"])
	}
	tagNames := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tagNames[obj(tg)["name"].(string)] = true
	}
	schemes := obj(obj(doc["components"])["securitySchemes"])
	opIDs := map[string]string{}
	paramRE := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range obj(doc["paths"]) {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q does not start with /", path)
		}
		var vars []string
		for _, m := range paramRE.FindAllStringSubmatch(path, -1) {
			vars = append(vars, m[1])
		}
		for method, o := range obj(item) {
			if !slices.Contains(methods, method) {
				t.Errorf("%s: %q is not an HTTP method", path, method)
				continue
			}
			op := obj(o)
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if prev, dup := opIDs[id]; id == "" || dup {
				t.Errorf("%s: operationId %q empty or also %s's", where, id, prev)
			}
			opIDs[id] = where
			for _, tg := range op["tags"].([]any) {
				if !tagNames[tg.(string)] {
					t.Errorf("%s: tag %v is not declared", where, tg)
				}
			}
			var declared []string
			seen := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm := deref(t, doc, p)
				in, name := pm["in"].(string), pm["name"].(string)
				if !slices.Contains([]string{"path", "query", "header", "cookie"}, in) || name == "" || pm["schema"] == nil {
					t.Errorf("%s: parameter %v needs name, in and schema", where, pm)
				}
				if seen[in+" "+name] {
					t.Errorf("%s: parameter %s %s twice", where, in, name)
				}
				seen[in+" "+name] = true
				if in == "path" {
					declared = append(declared, name)
					if pm["required"] != true {
						t.Errorf("%s: path parameter %s must be required", where, name)
					}
				}
			}
			slices.Sort(vars)
			slices.Sort(declared)
			if !slices.Equal(vars, declared) {
				t.Errorf("%s: path parameters %v, template variables %v", where, declared, vars)
			}
			responses := obj(op["responses"])
			if len(responses) == 0 {
				t.Errorf("%s: no responses", where)
			}
			for code, r := range responses {
				if !regexp.MustCompile(`^[1-5](\d\d|XX)$`).MatchString(code) && code != "default" {
					t.Errorf("%s: response key %q", where, code)
				}
				if d, _ := deref(t, doc, r)["description"].(string); d == "" {
					t.Errorf("%s → %s: a response needs a description", where, code)
				}
			}
			sec, ok := op["security"].([]any)
			if !ok {
				t.Errorf("%s: no security requirement (public routes say [])", where)
			}
			for _, req := range sec {
				for name := range obj(req) {
					if schemes[name] == nil {
						t.Errorf("%s: security scheme %q is not declared", where, name)
					}
				}
			}
		}
	}
	walkRefs(t, doc, doc, "#")
	checkFields(t, doc)
}

// Fixed fields of the OpenAPI 3.1 objects this document uses; anything else must be an x- extension.
var fixedFields = map[string][]string{
	"document":  {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks", "components", "security", "tags", "externalDocs"},
	"operation": {"tags", "summary", "description", "externalDocs", "operationId", "parameters", "requestBody", "responses", "callbacks", "deprecated", "security", "servers"},
	"parameter": {"name", "in", "description", "required", "deprecated", "allowEmptyValue", "schema", "content", "style", "explode", "allowReserved", "example", "examples"},
	"response":  {"description", "headers", "content", "links"},
	"header":    {"description", "required", "deprecated", "schema", "content", "style", "explode", "example", "examples"},
	"media":     {"schema", "example", "examples", "encoding"},
	"request":   {"description", "content", "required"},
	"reference": {"$ref", "summary", "description"},
}

func checkFields(t *testing.T, doc map[string]any) {
	t.Helper()
	check := func(kind, where string, v any) {
		m := obj(v)
		if _, ok := m["$ref"]; ok {
			kind = "reference"
		}
		for k := range m {
			if !slices.Contains(fixedFields[kind], k) && !strings.HasPrefix(k, "x-") {
				t.Errorf("%s: %q is not a field of a %s object", where, k, kind)
			}
		}
	}
	media := func(where string, content any) {
		for mt, m := range obj(content) {
			check("media", where+" "+mt, m)
		}
	}
	response := func(where string, r any) {
		check("response", where, r)
		for h, hv := range obj(obj(r)["headers"]) {
			check("header", where+" header "+h, hv)
		}
		media(where, obj(r)["content"])
	}
	check("document", "document", doc)
	for path, item := range obj(doc["paths"]) {
		for method, o := range obj(item) {
			where := strings.ToUpper(method) + " " + path
			check("operation", where, o)
			params, _ := obj(o)["parameters"].([]any)
			for _, p := range params {
				check("parameter", where+" parameter", p)
			}
			if rb, ok := obj(o)["requestBody"]; ok {
				check("request", where+" requestBody", rb)
				media(where+" requestBody", obj(rb)["content"])
			}
			for code, r := range obj(obj(o)["responses"]) {
				response(where+" → "+code, r)
			}
		}
	}
	comps := obj(doc["components"])
	for kind, group := range comps {
		for name, v := range obj(group) {
			if !regexp.MustCompile(`^[a-zA-Z0-9._-]+$`).MatchString(name) {
				t.Errorf("components.%s.%s: not a valid component name", kind, name)
			}
			switch kind {
			case "responses":
				response("components.responses."+name, v)
			case "headers":
				check("header", "components.headers."+name, v)
			case "parameters":
				check("parameter", "components.parameters."+name, v)
			}
		}
	}
}

// walkRefs resolves every $ref of the document.
func walkRefs(t *testing.T, doc map[string]any, v any, at string) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["$ref"].(string); ok {
			resolve(t, doc, r)
		}
		for k, e := range x {
			walkRefs(t, doc, e, at+"/"+k)
		}
	case []any:
		for _, e := range x {
			walkRefs(t, doc, e, at)
		}
	}
}

// Every schema of the document compiles as JSON Schema 2020-12 (the compiler checks each
// against the draft's metaschema): components, and the inline ones of parameters and media types.
func TestSchemasCompileAsDraft2020(t *testing.T) {
	b, _ := Document()
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const url = "https://streamspace.dev/openapi.json"
	if err := c.AddResource(url, raw); err != nil {
		t.Fatal(err)
	}
	var ptrs []string
	var walk func(v any, ptr string)
	walk = func(v any, ptr string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, e := range m {
			p := ptr + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			if k == "schema" {
				ptrs = append(ptrs, p)
				continue
			}
			walk(e, p)
		}
	}
	doc := raw.(map[string]any)
	walk(doc["paths"], "/paths")
	walk(doc["components"], "/components")
	for name := range obj(obj(doc["components"])["schemas"]) {
		ptrs = append(ptrs, "/components/schemas/"+name)
	}
	if len(ptrs) < 100 {
		t.Fatalf("only %d schemas found", len(ptrs))
	}
	for _, p := range ptrs {
		if _, err := c.Compile(url + "#" + p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// Every route of the table is an operation with a documented success response, and nothing
// else is.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc := built(t)
	paths := obj(doc["paths"])
	n := 0
	for _, rt := range routes.All {
		op := obj(obj(paths[rt.Path])[strings.ToLower(rt.Method)])
		if op == nil {
			t.Errorf("%s is not in the document", rt.Key())
			continue
		}
		n++
		ok := false
		for code, r := range obj(op["responses"]) {
			if !strings.HasPrefix(code, "2") {
				continue
			}
			content := obj(deref(t, doc, r)["content"])
			if code == "204" || obj(content["application/json"])["schema"] != nil {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s documents no success response with a schema", rt.Key())
		}
		switch {
		case rt.Public:
			if len(op["security"].([]any)) != 0 {
				t.Errorf("%s is public, yet asks for credentials", rt.Key())
			}
		case rt.TokenOnly:
			if op["x-token-only"] != true {
				t.Errorf("%s: x-token-only missing", rt.Key())
			}
		default:
			if op["x-api-key-scope"] != rt.Scope {
				t.Errorf("%s: x-api-key-scope %v, route table %q", rt.Key(), op["x-api-key-scope"], rt.Scope)
			}
		}
	}
	total := 0
	for _, item := range paths {
		total += len(obj(item))
	}
	if total != n {
		t.Errorf("the document has %d operations, the route table %d routes", total, n)
	}
}

// A route added to the table without an operation makes the document fail to build (and so
// every test that serves or checks it).
func TestUndocumentedRouteFails(t *testing.T) {
	saved := routes.All
	t.Cleanup(func() { routes.All = saved })
	routes.All = append(slices.Clone(saved), routes.Route{Function: routes.FnMeta, Method: "GET", Path: "/api/v1/undocumented", Public: true})
	if _, err := Build(); err == nil || !strings.Contains(err.Error(), "GET /api/v1/undocumented has no documented operation") {
		t.Fatalf("Build() error = %v", err)
	}
}

// Overlays name properties the types have, and request schemas fields they have.
func TestStaleOverlayFails(t *testing.T) {
	bad := []component{{name: "X", typ: typeOf[health](), overlay: map[string]schema{"statuz": enum("ok")}}}
	if _, _, err := reflectAll(bad); err == nil {
		t.Fatal("an overlay for a missing property was accepted")
	}
	bad = []component{{name: "X", typ: typeOf[health](), mode: request, required: []string{"state"}}}
	if _, _, err := reflectAll(bad); err == nil {
		t.Fatal("a required field the type lacks was accepted")
	}
}

// The reflector follows encoding/json: omitempty is optional, a nil-able pointer is nullable,
// embedded fields are promoted, "-" is skipped.
func TestReflector(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B string `json:"b,omitempty"`
	}
	type outer struct {
		inner
		B      int    `json:"b"`
		P      *int   `json:"p"`
		Q      *int   `json:"q,omitempty"`
		Hidden string `json:"-"`
		M      map[string]any
		L      []inner `json:"l"`
	}
	s, _, err := reflectAll([]component{{name: "Inner", typ: typeOf[inner]()}, {name: "Outer", typ: typeOf[outer]()}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(s["Outer"])
	want := `{"additionalProperties":false,"properties":{"M":{"additionalProperties":{},"type":"object"},"a":{"type":"string"},"b":{"type":"integer"},"l":{"items":{"$ref":"#/components/schemas/Inner"},"type":"array"},"p":{"type":["integer","null"]},"q":{"type":"integer"}},"required":["b","p","M","l","a"],"type":"object"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// docs/openapi.json is the document, for readers and client generators; regenerate it with
// UPDATE_DOCS=1 go test ./internal/openapi.
func TestCommittedDocumentIsCurrent(t *testing.T) {
	b, err := Document()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "openapi.json")
	old, err := os.ReadFile(path)
	if bytes.Equal(old, b) {
		return
	}
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("docs/openapi.json is out of date (%v); run UPDATE_DOCS=1 go test ./internal/openapi", err)
}

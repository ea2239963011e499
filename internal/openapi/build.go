// Package openapi builds the OpenAPI 3.1 document of the HTTP API from the route table
// (internal/routes), the Go types the handlers read and write (reflected over their json tags)
// and a small table of what each route takes and answers (operations.go). The meta function
// serves it at GET /api/v1/openapi.json; the end-to-end tests check every response against it
// (internal/openapi/conform).
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"

	"streamspace/internal/routes"
)

// Version is the OpenAPI version of the document.
const Version = "3.1.1"

// Dialect: the schemas are plain JSON Schema 2020-12 (no OpenAPI-only keywords).
const Dialect = "https://json-schema.org/draft/2020-12/schema"

var (
	once    sync.Once
	docJSON []byte
	docErr  error
)

// Document returns the document as served, built once.
func Document() ([]byte, error) {
	once.Do(func() {
		var doc map[string]any
		if doc, docErr = Build(); docErr == nil {
			docJSON, docErr = json.MarshalIndent(doc, "", "  ")
			docJSON = append(docJSON, '\n')
		}
	})
	return docJSON, docErr
}

var paramRE = regexp.MustCompile(`\{([^}+]+)\+?\}`)

// Build assembles the document. It fails when a route has no operation, an operation no route,
// or an operation names a schema, header or parameter that does not exist.
func Build() (map[string]any, error) {
	schemas, _, err := reflectAll(components)
	if err != nil {
		return nil, err
	}
	paths := map[string]any{}
	ids := map[string]string{}
	seen := map[string]bool{}
	for _, rt := range routes.All {
		o, ok := ops[rt.Key()]
		if !ok {
			return nil, fmt.Errorf("route %s has no documented operation (internal/openapi/operations.go)", rt.Key())
		}
		seen[rt.Key()] = true
		if prev, dup := ids[o.id]; dup || o.id == "" {
			return nil, fmt.Errorf("route %s: operationId %q is empty or also %s's", rt.Key(), o.id, prev)
		}
		ids[o.id] = rt.Key()
		operation, err := buildOperation(rt, o, schemas)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", rt.Key(), err)
		}
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		item[lower(rt.Method)] = operation
	}
	for key := range ops {
		if !seen[key] {
			return nil, fmt.Errorf("operation %s is not in the route table", key)
		}
	}
	var tagList []any
	for _, t := range tags {
		tagList = append(tagList, map[string]any{"name": t.name, "description": t.desc})
	}
	return map[string]any{
		"openapi":           Version,
		"jsonSchemaDialect": Dialect,
		"info": map[string]any{
			"title":   "StreamSpace API",
			"version": "v1",
			"description": "The control plane of StreamSpace: sessions from templates, teams, sharing, API keys, activity and recordings. " +
				"Errors are RFC 9457 application/problem+json. Lists are {items, nextCursor} with ?limit= and an opaque ?cursor=. " +
				"Bodies are at most 64 KiB and strict: an unknown field is 400. Real-time notifications use the WebSocket API (not described here).",
		},
		"tags":  tagList,
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"responses":       errorResponses(),
			"headers":         headers,
			"parameters":      headerParams,
			"securitySchemes": securitySchemes,
		},
	}, nil
}

func lower(m string) string {
	b := []byte(m)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name}
}

func buildOperation(rt routes.Route, o op, schemas map[string]schema) (map[string]any, error) {
	out := map[string]any{"operationId": o.id, "summary": o.summary, "tags": []string{o.tag}, "x-function": rt.Function}
	if o.desc != "" {
		out["description"] = o.desc
	}
	var params []any
	for _, m := range paramRE.FindAllStringSubmatch(rt.Path, -1) {
		p, ok := pathParams[m[1]]
		if !ok {
			return nil, fmt.Errorf("path parameter %q is not described (pathParams)", m[1])
		}
		params = append(params, map[string]any{"name": p.name, "in": "path", "required": true, "schema": p.s, "description": p.desc})
	}
	for _, p := range o.query {
		params = append(params, map[string]any{"name": p.name, "in": "query", "schema": p.s, "description": p.desc})
	}
	for _, h := range o.headers {
		if _, ok := headerParams[h]; !ok {
			return nil, fmt.Errorf("no header parameter %q", h)
		}
		params = append(params, ref("parameters", h))
	}
	if params != nil {
		out["parameters"] = params
	}
	if o.body != "" {
		if _, ok := schemas[o.body]; !ok {
			return nil, fmt.Errorf("no schema %q", o.body)
		}
		out["requestBody"] = map[string]any{"required": !o.bodyOptional, "content": map[string]any{
			"application/json": map[string]any{"schema": ref("schemas", o.body)}}}
	}
	if len(o.ok) == 0 {
		return nil, fmt.Errorf("no success response")
	}
	responses := map[string]any{}
	for _, r := range o.ok {
		resp, err := successResponse(rt, r, schemas)
		if err != nil {
			return nil, err
		}
		responses[strconv.Itoa(r.status)] = resp
	}
	for _, code := range errorStatuses(rt, o) {
		name, ok := errorNames[code]
		if !ok {
			return nil, fmt.Errorf("no error response for status %d", code)
		}
		responses[strconv.Itoa(code)] = ref("responses", name)
	}
	out["responses"] = responses
	switch {
	case rt.Public:
		out["security"] = []any{}
	case rt.TokenOnly:
		out["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"queryToken": []any{}}}
		out["x-token-only"] = true
	default:
		out["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"apiKey": []any{}}, map[string]any{"queryToken": []any{}}}
		out["x-api-key-scope"] = rt.Scope
	}
	return out, nil
}

func successResponse(rt routes.Route, r reply, schemas map[string]schema) (map[string]any, error) {
	if r.status < 200 || r.status > 299 {
		return nil, fmt.Errorf("%d is not a success status", r.status)
	}
	desc := r.desc
	if desc == "" {
		desc = http.StatusText(r.status) + "."
	}
	resp := map[string]any{"description": desc}
	hs := map[string]any{}
	for _, h := range r.headers {
		if _, ok := headers[h]; !ok {
			return nil, fmt.Errorf("no response header %q", h)
		}
		hs[h] = ref("headers", h)
	}
	if !rt.Public && !rt.TokenOnly { // only requests made with an API key are counted
		for _, h := range rateLimitHeaders {
			hs[h] = ref("headers", h)
		}
	}
	if len(hs) > 0 {
		resp["headers"] = hs
	}
	if r.schema != "" {
		if _, ok := schemas[r.schema]; !ok {
			return nil, fmt.Errorf("no schema %q", r.schema)
		}
		resp["content"] = map[string]any{"application/json": map[string]any{"schema": ref("schemas", r.schema)}}
	} else if r.status != http.StatusNoContent {
		return nil, fmt.Errorf("status %d needs a schema", r.status)
	}
	return resp, nil
}

// errorStatuses are the route's problem responses: those every route can give, and its own.
//   - 400 always: a malformed query string is refused before anything else, even on public routes;
//   - 401, 403, 429 on authenticated routes: no or bad credentials; a role, access level, or API-key
//     scope that does not allow it (or a key on a token-only route); a key over its hourly limit;
//   - 404 with path parameters: not found or not visible to the caller;
//   - 413 with a body: over 64 KiB;
//   - 500: a server fault (no detail), or the gateway's own answer.
func errorStatuses(rt routes.Route, o op) []int {
	set := map[int]bool{400: true, 500: true}
	if !rt.Public {
		set[401], set[403], set[429] = true, true, true
	}
	if paramRE.MatchString(rt.Path) {
		set[404] = true
	}
	if o.body != "" {
		set[413] = true
	}
	for _, c := range o.errs {
		set[c] = true
	}
	var out []int
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

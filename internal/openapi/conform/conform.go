// Package conform checks HTTP exchanges against the OpenAPI document: the operation is found by
// method and path template, the status must be one it documents, the body must match that
// response's schema (JSON Schema 2020-12, formats asserted) and documented headers their own.
// A request the API accepted (2xx) must also match the documented request body, so a document
// stricter than the code, or missing a field the code reads, fails too. testenv.Env.Do runs it
// on every response of the end-to-end tests.
package conform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL is where the document is registered with the compiler; refs resolve inside it.
const docURL = "https://streamspace.dev/openapi.json"

// Prefix is the part of the URL space the document describes.
const Prefix = "/api/v1/"

// Checker validates exchanges against one document. It is safe for concurrent use.
type Checker struct {
	doc  map[string]any
	mux  *http.ServeMux
	mu   sync.Mutex
	comp *jsonschema.Compiler
	sch  map[string]*jsonschema.Schema
	seen map[string]int // "METHOD /template status" → exchanges checked
}

// New loads a document (JSON).
func New(document []byte) (*Checker, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(document))
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi document: not an object")
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource(docURL, doc); err != nil {
		return nil, err
	}
	c := &Checker{doc: doc, mux: http.NewServeMux(), comp: comp, sch: map[string]*jsonschema.Schema{}, seen: map[string]int{}}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		for m := range item.(map[string]any) {
			// The route table's paths are ServeMux patterns too: the same precedence as the gateway.
			c.mux.Handle(strings.ToUpper(m)+" "+strings.ReplaceAll(p, "+}", "...}"), http.NotFoundHandler())
		}
	}
	return c, nil
}

// Exchange is one request and its response.
type Exchange struct {
	Method    string
	URL       string // path and query, as sent
	ReqHeader http.Header
	ReqBody   []byte
	Status    int
	Header    http.Header
	Body      []byte
}

// Schema compiles the schema at a JSON pointer of the document (cached).
func (c *Checker) Schema(ptr string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sch[ptr]; ok {
		return s, nil
	}
	s, err := c.comp.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	c.sch[ptr] = s
	return s, nil
}

// Operation finds the documented operation of a request: its path template, or "" when none.
// u keeps its escaped form, so an escaped "/" stays inside its segment as the gateway sees it.
func (c *Checker) Operation(method string, u *url.URL) string {
	r := &http.Request{Method: method, URL: &url.URL{Path: u.Path, RawPath: u.RawPath}, Host: "api"}
	_, pattern := c.mux.Handler(r)
	if pattern == "" {
		return ""
	}
	_, tmpl, _ := strings.Cut(pattern, " ")
	return strings.ReplaceAll(tmpl, "...}", "+}")
}

// Seen counts the exchanges checked by operation and status ("GET /api/v1/health 200"): which
// documented responses the tests exercise.
func (c *Checker) Seen() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.seen))
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}

// Check returns what about the exchange the document does not allow, or nil.
func (c *Checker) Check(x Exchange) error {
	u, err := url.Parse(x.URL)
	if err != nil {
		return fmt.Errorf("openapi: %s %s: %v", x.Method, x.URL, err)
	}
	if !strings.HasPrefix(u.Path, Prefix) || x.Method == http.MethodOptions {
		return nil // other URLs (presigned objects, JWKS) and CORS preflights are not the API's
	}
	tmpl := c.Operation(x.Method, u)
	if tmpl == "" {
		// The gateway owns unknown routes: its own 404, never an answer from a function.
		if x.Status == http.StatusNotFound && strings.TrimSpace(string(x.Body)) == `{"message":"Not Found"}` {
			return nil
		}
		return fmt.Errorf("openapi: no documented operation for %s %s, yet it answered %d: %s", x.Method, u.Path, x.Status, clip(x.Body))
	}
	opPtr := "/paths/" + escape(tmpl) + "/" + strings.ToLower(x.Method)
	op := c.doc["paths"].(map[string]any)[tmpl].(map[string]any)[strings.ToLower(x.Method)].(map[string]any)
	name := x.Method + " " + tmpl
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %d", name, x.Status)]++
	c.mu.Unlock()
	if err := c.checkResponse(name, opPtr, op, x); err != nil {
		return err
	}
	if x.Status >= 200 && x.Status < 300 {
		return c.checkRequest(name, opPtr, op, x)
	}
	return nil
}

func (c *Checker) checkResponse(name, opPtr string, op map[string]any, x Exchange) error {
	responses, _ := op["responses"].(map[string]any)
	code := strconv.Itoa(x.Status)
	resp, ok := responses[code].(map[string]any)
	ptr := opPtr + "/responses/" + code
	if !ok {
		var documented []string
		for k := range responses {
			documented = append(documented, k)
		}
		sort.Strings(documented)
		return fmt.Errorf("openapi: %s answered %d, which it does not document (documented: %s): %s",
			name, x.Status, strings.Join(documented, ", "), clip(x.Body))
	}
	if r, ok := resp["$ref"].(string); ok {
		ptr = strings.TrimPrefix(r, "#")
		resp = c.resolve(r)
	}
	if err := c.checkHeaders(name, x.Status, resp, x.Header); err != nil {
		return err
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(x.Body)) > 0 {
			return fmt.Errorf("openapi: %s → %d documents no body, got: %s", name, x.Status, clip(x.Body))
		}
		return nil
	}
	mt, _, _ := mime.ParseMediaType(x.Header.Get("Content-Type"))
	if _, ok := content[mt]; !ok {
		var types []string
		for k := range content {
			types = append(types, k)
		}
		sort.Strings(types)
		return fmt.Errorf("openapi: %s → %d answered Content-Type %q, documented: %s", name, x.Status, mt, strings.Join(types, ", "))
	}
	return c.validate(fmt.Sprintf("%s → %d (%s)", name, x.Status, mt), ptr+"/content/"+escape(mt)+"/schema", x.Body)
}

// checkRequest: the API accepted this request, so the documented request must allow it.
func (c *Checker) checkRequest(name, opPtr string, op map[string]any, x Exchange) error {
	rb, ok := op["requestBody"].(map[string]any)
	if !ok {
		return nil // a body a route does not read is not the document's business
	}
	if len(bytes.TrimSpace(x.ReqBody)) == 0 {
		if req, _ := rb["required"].(bool); req {
			return fmt.Errorf("openapi: %s accepted a request without the body the document requires", name)
		}
		return nil
	}
	mt, _, _ := mime.ParseMediaType(x.ReqHeader.Get("Content-Type"))
	if mt == "" || mt == "application/merge-patch+json" {
		mt = "application/json" // what the decoder reads them as
	}
	content, _ := rb["content"].(map[string]any)
	if _, ok := content[mt]; !ok {
		return fmt.Errorf("openapi: %s accepted a %q body, which it does not document", name, mt)
	}
	return c.validate(name+" request (accepted)", opPtr+"/requestBody/content/"+escape(mt)+"/schema", x.ReqBody)
}

func (c *Checker) checkHeaders(name string, status int, resp map[string]any, h http.Header) error {
	hs, _ := resp["headers"].(map[string]any)
	for hname, v := range hs {
		def, _ := v.(map[string]any)
		if r, ok := def["$ref"].(string); ok {
			def = c.resolve(r)
		}
		vals := h.Values(hname)
		if len(vals) == 0 {
			if req, _ := def["required"].(bool); req {
				return fmt.Errorf("openapi: %s → %d lacks the required header %s", name, status, hname)
			}
			continue
		}
		s, _ := def["schema"].(map[string]any)
		var val any = vals[0]
		if s["type"] == "integer" {
			n, err := strconv.ParseInt(vals[0], 10, 64)
			if err != nil {
				return fmt.Errorf("openapi: %s → %d header %s = %q is not an integer", name, status, hname, vals[0])
			}
			val = json.Number(strconv.FormatInt(n, 10))
		}
		sch, err := c.schemaFor(s)
		if err != nil {
			return err
		}
		if err := sch.Validate(val); err != nil {
			return fmt.Errorf("openapi: %s → %d header %s = %q: %v", name, status, hname, vals[0], err)
		}
	}
	return nil
}

// schemaFor compiles a header's inline schema (small, so compiled on its own).
func (c *Checker) schemaFor(s map[string]any) (*jsonschema.Schema, error) {
	b, _ := json.Marshal(s)
	key := "inline:" + string(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if sch, ok := c.sch[key]; ok {
		return sch, nil
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource("inline.json", s); err != nil {
		return nil, err
	}
	sch, err := comp.Compile("inline.json")
	if err != nil {
		return nil, err
	}
	c.sch[key] = sch
	return sch, nil
}

func (c *Checker) validate(what, ptr string, body []byte) error {
	sch, err := c.Schema(ptr)
	if err != nil {
		return fmt.Errorf("openapi: %s: schema %s does not compile: %v", what, ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("openapi: %s: body is not JSON (%v): %s", what, err, clip(body))
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("openapi: %s: body does not match %s:\n%v\nbody: %s", what, ptr, err, clip(body))
	}
	return nil
}

// resolve follows a local $ref ("#/components/…").
func (c *Checker) resolve(ref string) map[string]any {
	var cur any = c.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[unescape(tok)]
	}
	out, _ := cur.(map[string]any)
	return out
}

// escape makes a JSON-pointer token (RFC 6901).
func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }

func unescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func clip(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

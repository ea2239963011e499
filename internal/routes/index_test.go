package routes_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"streamspace/internal/openapi"
	"streamspace/internal/routes"
)

// docs/routes.md is generated from the route table (UPDATE_DOCS=1 go test ./internal/routes) and
// this test fails when it is stale. Besides the table's own columns it finds, by reading the
// source with go/ast:
//
//   - the handler: the argument of the router's Handle("<METHOD> <path>", h) call in a non-test
//     file of internal/ (a method value is resolved to its declaration; a function literal is
//     named by the function it sits in), and for the gateway the entry of its handlers map. A
//     route without exactly one registration fails the test, so the column is never a guess;
//   - the tests: every call in a *_test.go file that passes an HTTP method literal followed by
//     a path built from string literals and other expressions, whose literal parts fit the
//     route's pattern (a non-literal part stands for one path segment). Paths held in a
//     variable, built by a helper from pieces, or passed without a method literal are not seen,
//     so the column is a lower bound; gateway paths are matched without a method. The template
//     tests (infra/, internal/infratest) are left out: they name paths but send no request.

const repoRoot = "../.."

type handler struct{ file, fn string }

func TestRouteIndexIsCurrent(t *testing.T) {
	files := parseTree(t)
	handlers := findHandlers(t, files)
	ops := operationIDs(t)
	calls := testCalls(files)

	var b strings.Builder
	b.WriteString("| Method | Path | Function | Handler | Scope | Operation | Tests |\n|---|---|---|---|---|---|---|\n")
	for _, r := range routes.All {
		h, ok := handlers[r.Key()]
		if len(h) != 1 || !ok {
			t.Errorf("%s: %d registrations found, want 1 (%v)", r.Key(), len(h), h)
			continue
		}
		scope := "`" + r.Scope + "`"
		switch {
		case r.Public:
			scope = "public"
		case r.TokenOnly:
			scope = "tokens only"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | `%s` | %s |\n", r.Method, r.Path, r.Function, h[0], scope,
			ops[r.Method+" "+r.Path], testsOf(calls, r.Method, r.Path, false))
	}
	b.WriteString("\nStreaming gateway (`routes.Gateway`, its own program; not in the OpenAPI document):\n\n")
	b.WriteString("| Method | Path | Handler | Auth | Tests |\n|---|---|---|---|---|\n")
	for _, r := range routes.Gateway {
		h := handlers["gateway "+r.Path]
		if len(h) != 1 {
			t.Errorf("gateway %s: %d handlers found, want 1", r.Path, len(h))
			continue
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", r.Method, r.Path, h[0], r.Auth, testsOf(calls, r.Method, r.Path, true))
	}
	if t.Failed() {
		return
	}
	updateSection(t, filepath.Join(repoRoot, "docs", "routes.md"), "<!-- route-index:begin -->", "<!-- route-index:end -->", b.String())
}

func updateSection(t *testing.T, path, begin, end, want string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %s … %s markers", path, begin, end)
	}
	if s[i+len(begin)+1:j] == want {
		return
	}
	if os.Getenv("UPDATE_DOCS") != "1" {
		t.Fatalf("%s is out of date; run UPDATE_DOCS=1 go test ./internal/routes", path)
	}
	if err := os.WriteFile(path, []byte(s[:i+len(begin)+1]+want+s[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

type parsed struct {
	rel  string // slash path from the repository root
	file *ast.File
	fset *token.FileSet
}

// parseTree parses every Go file of the repository except caches and the CDK app's output.
func parseTree(t *testing.T) []parsed {
	fset := token.NewFileSet()
	var out []parsed
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != repoRoot && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "cdk.out" || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		out = append(out, parsed{filepath.ToSlash(rel), f, fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// findHandlers maps "<METHOD> <path>" (and "gateway <path>") to where its handler is.
func findHandlers(t *testing.T, files []parsed) map[string][]string {
	methods := map[string][]handler{} // "<dir>.<name>" → declarations of methods so named
	consts := map[string]string{}     // "<dir>.<name>" → string constant
	for _, f := range files {
		if strings.HasSuffix(f.rel, "_test.go") {
			continue
		}
		dir := filepath.Dir(f.rel)
		for _, d := range f.file.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil && len(d.Recv.List) == 1 {
					methods[dir+"."+d.Name.Name] = append(methods[dir+"."+d.Name.Name], handler{f.rel, recvType(d.Recv.List[0].Type) + "." + d.Name.Name})
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if vs, ok := s.(*ast.ValueSpec); ok && len(vs.Values) == len(vs.Names) {
						for i, n := range vs.Names {
							if v, ok := literal(vs.Values[i]); ok {
								consts[dir+"."+n.Name] = v
							}
						}
					}
				}
			}
		}
	}
	out := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f.rel, "_test.go") || !strings.HasPrefix(f.rel, "internal/") {
			continue
		}
		dir := filepath.Dir(f.rel)
		for _, d := range f.file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || sel.Sel.Name != "Handle" || len(n.Args) != 2 {
						return true
					}
					if key, ok := literal(n.Args[0]); ok {
						out[key] = append(out[key], where(t, f, fd, dir, n.Args[1], methods))
					}
				case *ast.KeyValueExpr: // the gateway's handlers map: Prefix + "<path>": handler
					bin, ok := n.Key.(*ast.BinaryExpr)
					if !ok || dir != "internal/gateway" {
						return true
					}
					p, ok1 := resolve(bin.X, dir, consts)
					q, ok2 := literal(bin.Y)
					if ok1 && ok2 {
						out["gateway "+p+q] = append(out["gateway "+p+q], where(t, f, fd, dir, n.Value, methods))
					}
				}
				return true
			})
		}
	}
	return out
}

func recvType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return "(*" + recvType(e.X) + ")"
	case *ast.Ident:
		return e.Name
	case *ast.IndexExpr:
		return recvType(e.X)
	}
	return "?"
}

// where names the handler expression h: the method it refers to (the first method value of the
// package in it, e.g. sv.create or http.HandlerFunc(s.viewer)), or the function literal's place.
func where(t *testing.T, f parsed, fd *ast.FuncDecl, dir string, h ast.Expr, methods map[string][]handler) string {
	var found string
	ast.Inspect(h, func(n ast.Node) bool {
		if found != "" {
			return false
		}
		switch n := n.(type) {
		case *ast.FuncLit:
			found = fmt.Sprintf("`%s` (inline in `%s`)", f.rel, fd.Name.Name)
			return false
		case *ast.SelectorExpr:
			cands := methods[dir+"."+n.Sel.Name]
			if len(cands) == 0 {
				return true
			}
			if len(cands) > 1 { // several types have a method so named: pick by the receiver variable's type
				typ := varType(fd, n.X)
				var keep []handler
				for _, c := range cands {
					if strings.Contains(c.fn, typ+")") || strings.HasPrefix(c.fn, typ+".") {
						keep = append(keep, c)
					}
				}
				cands = keep
			}
			if len(cands) != 1 {
				t.Errorf("%s: cannot tell which %s method %s is", f.rel, dir, n.Sel.Name)
				found = "?"
				return false
			}
			found = fmt.Sprintf("`%s` `%s`", cands[0].file, cands[0].fn)
			return false
		}
		return true
	})
	if found == "" {
		t.Errorf("%s: handler %T in %s is neither a method value nor a function literal", f.rel, h, fd.Name.Name)
	}
	return found
}

// varType is the named type of x when x is a parameter or receiver of fd, or a variable fd sets
// from &T{…} or T{…}.
func varType(fd *ast.FuncDecl, x ast.Expr) string {
	id, ok := x.(*ast.Ident)
	if !ok {
		return "?"
	}
	var fields []*ast.Field
	if fd.Recv != nil {
		fields = append(fields, fd.Recv.List...)
	}
	fields = append(fields, fd.Type.Params.List...)
	for _, fl := range fields {
		for _, n := range fl.Names {
			if n.Name == id.Name {
				return strings.Trim(recvType(fl.Type), "(*)")
			}
		}
	}
	typ := "?"
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return true
		}
		for i, l := range as.Lhs {
			if li, ok := l.(*ast.Ident); ok && li.Name == id.Name {
				r := as.Rhs[i]
				if u, ok := r.(*ast.UnaryExpr); ok {
					r = u.X
				}
				if cl, ok := r.(*ast.CompositeLit); ok {
					typ = strings.Trim(recvType(cl.Type), "(*)")
				}
			}
		}
		return true
	})
	return typ
}

func literal(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

func resolve(e ast.Expr, dir string, consts map[string]string) (string, bool) {
	if s, ok := literal(e); ok {
		return s, true
	}
	if id, ok := e.(*ast.Ident); ok {
		s, ok := consts[dir+"."+id.Name]
		return s, ok
	}
	return "", false
}

func operationIDs(t *testing.T) map[string]string {
	raw, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			out[strings.ToUpper(m)+" "+p] = op.OperationID
		}
	}
	return out
}

// testCall is one request a test makes: its method ("" when none was passed) and its path with
// every non-literal part as "\x00".
type testCall struct {
	method, path, test string
}

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

func testCalls(files []parsed) []testCall {
	var out []testCall
	for _, f := range files {
		// The template tests name paths (health checks, CloudFront patterns) but send no request.
		if !strings.HasSuffix(f.rel, "_test.go") || strings.HasPrefix(f.rel, "infra/") || strings.HasPrefix(f.rel, "internal/infratest/") {
			continue
		}
		for _, d := range f.file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := f.rel + " " + fd.Name.Name
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				for i, a := range call.Args {
					p, ok := pathOf(a)
					if !ok {
						continue
					}
					m := ""
					if i > 0 {
						if s, ok := literal(call.Args[i-1]); ok && httpMethods[s] {
							m = s
						}
					}
					out = append(out, testCall{m, p, name})
				}
				return true
			})
		}
	}
	return out
}

// pathOf flattens a string expression into its path, from the first literal that starts an API
// or gateway path; a non-literal part becomes "\x00" and the query string is dropped.
func pathOf(e ast.Expr) (string, bool) {
	var parts []ast.Expr
	var flat func(ast.Expr)
	flat = func(e ast.Expr) {
		if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.ADD {
			flat(b.X)
			flat(b.Y)
			return
		}
		parts = append(parts, e)
	}
	flat(e)
	var b strings.Builder
	started := false
	for _, p := range parts {
		s, ok := literal(p)
		switch {
		case !started && ok:
			if i := strings.Index(s, "/api/v1/"); i >= 0 {
				s = s[i:]
			} else if i := strings.Index(s, "/gateway/"); i >= 0 {
				s = s[i:]
			} else {
				continue
			}
			started = true
			b.WriteString(s)
		case !started:
		case ok:
			b.WriteString(s)
		default:
			b.WriteString("\x00")
		}
	}
	path, _, _ := strings.Cut(b.String(), "?")
	return path, started
}

var param = regexp.MustCompile(`\\\{[^}]*\\\}`)

// testsOf lists the tests whose requests fit the route: a literal segment must equal the route's,
// a parameter takes any one segment, a non-literal part any one segment's worth of text.
func testsOf(calls []testCall, method, path string, gateway bool) string {
	pat := regexp.QuoteMeta(path)
	pat = strings.ReplaceAll(pat, `\{file\.\.\.\}`, `.+`)
	re := regexp.MustCompile("^" + param.ReplaceAllString(pat, `[^/]+`) + "/?$")
	seen := map[string]bool{}
	var names []string
	for _, c := range calls {
		if c.method != method && !(gateway && c.method == "") {
			continue
		}
		if re.MatchString(strings.ReplaceAll(c.path, "\x00", "x")) && !seen[c.test] {
			seen[c.test] = true
			names = append(names, c.test)
		}
	}
	if len(names) == 0 {
		return "—"
	}
	sort.Strings(names)
	const show = 4
	out := make([]string, 0, show+1)
	for i, n := range names {
		if i == show {
			out = append(out, fmt.Sprintf("+%d more", len(names)-show))
			break
		}
		file, fn, _ := strings.Cut(n, " ")
		out = append(out, fmt.Sprintf("`%s` (%s)", fn, filepath.Base(file)))
	}
	return strings.Join(out, ", ")
}

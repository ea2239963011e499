package archtest

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "streamspace/"

// layers is docs/architecture.md's table, top to bottom: a package may import packages of its
// own layer or below, never above. Within a layer the Go compiler already refuses cycles.
var layers = []struct {
	name string
	pkgs []string // path prefixes below the module; "functions/" covers every function
}{
	{"entry points", []string{"functions/", "cmd/"}},
	{"composition", []string{"internal/app", "internal/local/stack", "internal/testenv"}},
	{"edges and consumers", []string{"internal/meta", "internal/openapi", "internal/gateway", "internal/authorizer",
		"internal/notifier", "internal/runtime", "internal/processor", "internal/presignup", "internal/local/"}},
	{"areas", []string{"internal/users", "internal/templates", "internal/sessions", "internal/apikeys", "internal/teams",
		"internal/sharing", "internal/activity", "internal/recordings", "internal/connections", "internal/change"}},
	{"platform", []string{"internal/access", "internal/httpx", "internal/idempotency", "internal/tickets", "internal/streambatch",
		"internal/events", "internal/metrics"}},
	{"foundation", []string{"internal/auth", "internal/ddb", "internal/problem", "internal/ids", "internal/clock", "internal/paging",
		"internal/expiry", "internal/resources", "internal/routes", "internal/rfb", "internal/desktop", "internal/imageref",
		"internal/images", "internal/cost", "internal/infratest", "internal/archtest", "internal/e2e"}},
}

// layerOf is the index of pkg's layer (0 = top), the longest prefix winning; -1 if none.
func layerOf(pkg string) int {
	best, bestLen := -1, 0
	for i, l := range layers {
		for _, p := range l.pkgs {
			if (pkg == p || strings.HasPrefix(pkg, strings.TrimSuffix(p, "/")+"/")) && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best
}

// imports is every package of the module (path below the module) with the module packages its
// non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root := filepath.Join("..", "..")
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, top := range []string{"internal", "functions", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			pkg := filepath.ToSlash(rel)
			if _, ok := out[pkg]; !ok {
				out[pkg] = nil
			}
			for _, im := range f.Imports {
				if p := strings.Trim(im.Path.Value, `"`); strings.HasPrefix(p, module) {
					out[pkg] = append(out[pkg], strings.TrimPrefix(p, module))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestImportsPointDownTheLayers: every package has a layer, and imports only its own layer or
// those below (docs/architecture.md, "Layers").
func TestImportsPointDownTheLayers(t *testing.T) {
	graph := imports(t)
	if len(graph) < 20 {
		t.Fatalf("read only %d packages: is the test run from internal/archtest?", len(graph))
	}
	var pkgs []string
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, p := range pkgs {
		lp := layerOf(p)
		if lp < 0 {
			t.Errorf("%s has no layer: give it one in docs/architecture.md's table and in layers (internal/archtest/layers_test.go)", p)
			continue
		}
		for _, im := range graph[p] {
			if li := layerOf(im); li >= 0 && li < lp {
				t.Errorf("%s (%s) imports %s (%s), a layer above it: move the code down or invert the dependency (docs/architecture.md, \"Layers\")",
					p, layers[lp].name, im, layers[li].name)
			}
		}
	}
}

// TestLayerCheckCatchesAnUpwardImport: the check above is not vacuous.
func TestLayerCheckCatchesAnUpwardImport(t *testing.T) {
	if a, b := layerOf("internal/sessions"), layerOf("internal/app"); !(a > b) {
		t.Fatalf("sessions is in layer %d, app in %d: an area importing app would not be caught", a, b)
	}
	if layerOf("internal/nosuchpackage") != -1 {
		t.Fatal("an unknown package got a layer")
	}
	if got := layerOf("internal/local/stack"); got != 1 {
		t.Fatalf("internal/local/stack is in layer %d, want the composition layer (the longest prefix wins)", got)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "docs", "architecture.md")); err != nil {
		t.Fatal(fmt.Errorf("the layers' description: %w", err))
	}
}

package infratest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// templateFile is the SAM template, relative to the repository root.
const templateFile = "template.yaml"

// cfn is a CloudFormation template (or any JSON object inside one).
type cfn = map[string]any

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// repoRoot walks up from the package directory to the folder holding go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod found in any parent of the test directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatalf("locate repository root: %v", rootErr)
	}
	return rootDir
}

var (
	transformOnce sync.Once
	transformJSON []byte
	transformErr  error
)

// transformed returns a fresh copy of the template as transformed by aws-sam-translator (the
// translation itself runs once per test binary; callers may mutate their copy freely).
func transformed(t testing.TB) cfn {
	t.Helper()
	root := repoRoot(t)
	transformOnce.Do(func() { transformJSON, transformErr = runTransform(root) })
	if transformErr != nil {
		t.Fatalf("transform %s with aws-sam-translator: %v", templateFile, transformErr)
	}
	var tmpl cfn
	if err := json.Unmarshal(transformJSON, &tmpl); err != nil {
		t.Fatalf("transform output is not JSON: %v", err)
	}
	return tmpl
}

func runTransform(root string) ([]byte, error) {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, errors.New("python3 is not on PATH; it is needed (with `pip install aws-sam-translator`) to transform the SAM template offline")
	}
	script := filepath.Join(root, "internal", "infratest", "testdata", "transform.py")
	cmd := exec.Command(py, script, filepath.Join(root, templateFile))
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No module named 'samtranslator'") {
			msg += "\n(install it with: python3 -m pip install aws-sam-translator)"
		}
		return nil, fmt.Errorf("%s %s: %v\n%s", filepath.Base(py), script, err, msg)
	}
	return stdout.Bytes(), nil
}

// TestCfnLint runs cfn-lint on the template; any error, warning or informational finding fails.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint is not on PATH: install it (python3 -m pip install cfn-lint); the template must lint clean")
	}
	start := time.Now()
	cmd := exec.Command(bin, "--", templateFile)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint %s failed (%v):\n%s", templateFile, err, out)
	}
	t.Logf("cfn-lint clean in %v", time.Since(start).Round(time.Millisecond))
}

// TestTransform makes the translation's own failure a single clear test failure.
func TestTransform(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	res := resources(tmpl)
	if len(res) == 0 {
		t.Fatal("transformed template has no resources")
	}
	for id, r := range res {
		if typ := str(asMap(r)["Type"]); strings.HasPrefix(typ, "AWS::Serverless::") {
			t.Errorf("resource %s is still %s after the transform", id, typ)
		}
	}
}

// ---- navigation helpers ----------------------------------------------------------------------

func asMap(v any) cfn {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// get follows a path of object keys; nil if any step is missing.
func get(v any, path ...string) any {
	for _, k := range path {
		m := asMap(v)
		if m == nil {
			return nil
		}
		v = m[k]
	}
	return v
}

func resources(tmpl cfn) cfn { return asMap(tmpl["Resources"]) }

// resourcesOfType returns the logical ids of all resources of one type, sorted.
func resourcesOfType(tmpl cfn, typ string) []string {
	var ids []string
	for id, r := range resources(tmpl) {
		if str(get(r, "Type")) == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func props(tmpl cfn, id string) cfn { return asMap(get(resources(tmpl), id, "Properties")) }

// stringsOf accepts a string or a list of strings (IAM Action/Resource style).
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func isRef(v any, name string) bool { return str(get(v, "Ref")) == name }

var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// referencedResources lists the logical ids a value points at through Ref, Fn::GetAtt or
// ${Name} / ${Name.Attr} in Fn::Sub (pseudo parameters excluded), sorted and unique.
func referencedResources(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Ref"].(string); ok && !strings.HasPrefix(r, "AWS::") {
				seen[r] = true
			}
			if ga := asList(x["Fn::GetAtt"]); len(ga) > 0 {
				seen[str(ga[0])] = true
			}
			if s, ok := x["Fn::GetAtt"].(string); ok {
				seen[strings.SplitN(s, ".", 2)[0]] = true
			}
			if sub, ok := x["Fn::Sub"]; ok {
				var tmplStr string
				vars := cfn{}
				switch s := sub.(type) {
				case string:
					tmplStr = s
				case []any:
					if len(s) > 0 {
						tmplStr = str(s[0])
					}
					if len(s) > 1 {
						vars = asMap(s[1])
					}
				}
				for _, m := range subVar.FindAllStringSubmatch(tmplStr, -1) {
					if _, local := vars[m[1]]; !local {
						seen[m[1]] = true
					}
				}
				for _, vv := range vars {
					walk(vv)
				}
				return
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// referencedOfType keeps the references that are resources of the given type.
func referencedOfType(tmpl cfn, v any, typ string) []string {
	var out []string
	for _, id := range referencedResources(v) {
		if str(get(resources(tmpl), id, "Type")) == typ {
			out = append(out, id)
		}
	}
	return out
}

// diffSets reports the elements missing from got and the unexpected ones in it.
func diffSets(what string, want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, fmt.Sprintf("%s: missing %q", what, w))
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			out = append(out, fmt.Sprintf("%s: unexpected %q", what, g))
		}
	}
	return out
}

func reportDiffs(t *testing.T, context string, diffs []string) {
	t.Helper()
	for _, d := range diffs {
		t.Errorf("%s: %s", context, d)
	}
}

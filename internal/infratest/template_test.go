package infratest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"streamspace/internal/testenv/tier"
)

// templateFile is the SAM template, relative to the repository root.
const templateFile = "template.yaml"

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
	tier.Integration(t, "python3 with aws-sam-translator")
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
	tier.Integration(t, "cfn-lint")
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

// ---- navigation helpers: checks.go ------------------------------------------------------

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

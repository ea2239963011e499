package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The tests synthesize the stack once (placeholder code: CodeStub), then check it with CDK
// assertions (stack_test.go), against the SAM template (parity_test.go), with cfn-lint and the
// least-privilege rules of internal/infratest (lint_test.go). TestLocalBundling builds one real
// function the way `cdk synth` does.

var (
	root    string              // repository root
	synthed assertions.Template // the stack, for CDK assertions
	cdkJSON []byte              // its template, for the JSON-level checks
)

func TestMain(m *testing.M) {
	// jsii warns on every run that Node 20 is past its end of life; it works.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code, err := setup(m)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra/stack tests:", err)
		code = 1
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	var err error
	if root, err = RepoRoot(); err != nil {
		return 1, err
	}
	out, err := os.MkdirTemp("", "streamspace-cdk-test-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(out)
	// The context of cdk.json (feature flags, if any are ever set there), so the tests
	// synthesize what `cdk synth` does.
	var cdkJSONFile struct {
		Context map[string]any `json:"context"`
	}
	b, err := os.ReadFile(filepath.Join(root, "infra", "cdk.json"))
	if err != nil {
		return 1, err
	}
	if err := json.Unmarshal(b, &cdkJSONFile); err != nil {
		return 1, fmt.Errorf("infra/cdk.json: %w", err)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out), Context: &cdkJSONFile.Context})
	s := New(app, "StreamSpace", &Props{Root: root, Code: CodeStub})
	synthed = assertions.Template_FromStack(s, nil)
	if cdkJSON, err = json.Marshal(synthed.ToJSON()); err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// cdkTemplate is a fresh copy of the synthesized template (callers may change it).
func cdkTemplate(t testing.TB) map[string]any {
	t.Helper()
	var tmpl map[string]any
	if err := json.Unmarshal(cdkJSON, &tmpl); err != nil {
		t.Fatalf("synthesized template: %v", err)
	}
	return tmpl
}

var (
	samOnce sync.Once
	samJSON []byte
	samErr  error
)

// samTemplate is a fresh copy of template.yaml after the AWS::Serverless transform.
func samTemplate(t testing.TB) map[string]any {
	t.Helper()
	samOnce.Do(func() { samJSON, samErr = transform(filepath.Join(root, "template.yaml")) })
	if samErr != nil {
		t.Fatal(samErr)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(samJSON, &tmpl); err != nil {
		t.Fatalf("transformed template: %v", err)
	}
	return tmpl
}

// transform runs the offline SAM transform of internal/infratest (aws-sam-translator) on a
// SAM template file.
func transform(path string) ([]byte, error) {
	cmd := exec.Command("python3", filepath.Join(root, "internal", "infratest", "testdata", "transform.py"), path)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("transform %s (needs python3 with aws-sam-translator): %v\n%s", path, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// must runs CDK assertions: a failed one panics (jsii), and becomes a test error here.
func must(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", what, r)
		}
	}()
	assertion()
}

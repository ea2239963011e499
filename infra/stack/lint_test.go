package stack

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"streamspace/internal/infratest"
)

// TestCfnLint: the CDK template lints clean, like template.yaml (any error, warning or
// informational finding fails).
func TestCfnLint(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatal("cfn-lint is not on PATH: install it (python3 -m pip install cfn-lint); the CDK template must lint clean")
	}
	path := filepath.Join(t.TempDir(), "StreamSpace.template.json")
	b, _ := json.MarshalIndent(cdkTemplate(t), "", " ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--", path).CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint on the CDK template failed (%v):\n%s", err, out)
	}
}

// TestLeastPrivilege runs internal/infratest's least-privilege rules (no "*" actions, no "*" or
// literal resources, only the AWS managed policies SAM itself attaches) on the CDK template.
func TestLeastPrivilege(t *testing.T) {
	t.Parallel()
	for _, f := range infratest.LeastPrivilegeFindings(cdkTemplate(t)) {
		t.Error(f)
	}
}

// TestLeastPrivilegeRulesSeeCDK: the rules read CDK's way of writing policies (a wildcard
// grant added the CDK way is found), so TestLeastPrivilege passing means something.
func TestLeastPrivilegeRulesSeeCDK(t *testing.T) {
	t.Parallel()
	tmpl := cdkTemplate(t)
	res := tmpl["Resources"].(map[string]any)
	res["WideOpen"] = map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
		"PolicyName": "WideOpen",
		"Roles":      []any{map[string]any{"Ref": "SessionsFunctionRole"}},
		"PolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Effect": "Allow", "Action": "dynamodb:*",
			"Resource": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{"MainTable", "Arn"}}, "/*"}}},
		}, map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}},
	}}
	if got := len(infratest.LeastPrivilegeFindings(tmpl)); got != 2 {
		t.Errorf("least-privilege rules found %d problems in a policy with a service-wide action and a \"*\" resource, want 2", got)
	}
}

// TestLocalBundling builds one function the way `cdk synth` does (CodeBuild: go build on this
// machine, no Docker) and checks the asset: a static linux/arm64 executable named bootstrap,
// built from functions/<name>.
func TestLocalBundling(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	if ok := (&goBundler{root: root, name: "meta", mode: CodeBuild}).TryBundle(&out, nil); ok == nil || !*ok {
		t.Fatal("local bundling declined")
	}
	bin := filepath.Join(out, "bootstrap")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("bootstrap is not an ELF executable: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
		t.Errorf("bootstrap is %v %v %v, want a 64-bit arm64 executable", f.Class, f.Machine, f.Type)
	}
	if interp := f.Section(".interp"); interp != nil {
		t.Error("bootstrap is dynamically linked (CGO_ENABLED=0 makes it static)")
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("build info: %v", err)
	}
	if info.Path != "streamspace/functions/meta" {
		t.Errorf("bootstrap is built from %s, want streamspace/functions/meta", info.Path)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-tags": "lambda.norpc", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
		}
	}
	if _, ok := settings["vcs.revision"]; ok {
		t.Error("the binary embeds the commit (-buildvcs=false keeps the asset hash stable across commits)")
	}
}

// TestHardening runs internal/infratest's hardening rules (no public sign-up, stage throttling
// and access log, reserved concurrency, a non-overlapping scheduler, X-Ray off by default,
// partition-neutral Cognito URLs) on the CDK template.
func TestHardening(t *testing.T) {
	t.Parallel()
	for _, f := range infratest.HardeningFindings(cdkTemplate(t)) {
		t.Error(f)
	}
}

// TestGoModTidy (deploy finding 19): infra/go.mod and go.sum are what `go mod tidy` makes of
// them (internal/infratest checks the main module the same way).
func TestGoModTidy(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	cmd := exec.Command(goBin, "mod", "tidy", "-diff")
	cmd.Dir = ".." // the infra module
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("infra/go.mod / go.sum are not tidy (%v); run `cd infra && go mod tidy`:\n%s", err, out)
	}
}

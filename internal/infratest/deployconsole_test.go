package infratest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAWS is an AWS CLI that answers describe-stacks from the environment (OUTPUT_<key>) and
// logs every other call, one line each, to $AWS_LOG.
const fakeAWS = `#!/bin/sh
case "$1 $2" in
"cloudformation describe-stacks")
	key=$(printf '%s' "$*" | sed -n "s/.*OutputKey=='\([A-Za-z]*\)'.*/\1/p")
	eval "printf '%s' \"\${OUTPUT_$key:-None}\""
	;;
*)
	echo "$*" >>"$AWS_LOG"
	case "$1 $2" in "s3 cp") [ -d "$3" ] || cp "$3" "$AWS_LOG.$(basename "$4")" ;; esac
	;;
esac
`

// TestDeployConsoleScript runs scripts/deploy-console.sh against a fake AWS CLI: hashed assets
// cached for a year, index.html and config.json (the stack's ConsoleConfig, byte for byte)
// revalidated, written after the assets they name, both invalidated, and the URL to open said.
func TestDeployConsoleScript(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dist, "assets"), 0o755))
	must(os.WriteFile(filepath.Join(dist, "index.html"), []byte("<!doctype html>"), 0o644))
	must(os.WriteFile(filepath.Join(dist, "assets", "index-1.js"), []byte("1"), 0o644))
	aws := filepath.Join(dir, "aws")
	must(os.WriteFile(aws, []byte(fakeAWS), 0o755))
	logFile := filepath.Join(dir, "calls")
	config := `{"signIn":"oidc","websocketUrl":"wss://d1.cloudfront.net/prod"}`

	run := func(outputs map[string]string) (string, error) {
		cmd := exec.Command(filepath.Join(root, "scripts", "deploy-console.sh"))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "AWS_CLI="+aws, "AWS_LOG="+logFile, "CONSOLE_DIST="+dist, "STACK=s1")
		for k, v := range outputs {
			cmd.Env = append(cmd.Env, "OUTPUT_"+k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	outputs := map[string]string{"ConsoleBucketName": "b1", "DistributionId": "E1", "ConsoleUrl": "https://d1.cloudfront.net/", "ConsoleConfig": config}
	out, err := run(outputs)
	if err != nil {
		t.Fatalf("deploy-console: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Open https://d1.cloudfront.net/") {
		t.Errorf("output %q does not say which URL to open", out)
	}
	b, err := os.ReadFile(logFile)
	must(err)
	calls := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		"s3 cp " + filepath.Join(dist, "assets") + " s3://b1/assets --recursive --only-show-errors --cache-control public, max-age=31536000, immutable",
		"s3 cp * s3://b1/config.json --only-show-errors --content-type application/json --cache-control no-cache",
		"s3 cp " + filepath.Join(dist, "index.html") + " s3://b1/index.html --only-show-errors --content-type text/html; charset=utf-8 --cache-control no-cache",
		"cloudfront create-invalidation --distribution-id E1 --paths /index.html /config.json --query Invalidation.Id --output text",
	}
	if len(calls) != len(want) {
		t.Fatalf("calls %q, want %d", calls, len(want))
	}
	for i, w := range want {
		before, after, wild := strings.Cut(w, "*")
		if ok := calls[i] == w || (wild && strings.HasPrefix(calls[i], before) && strings.HasSuffix(calls[i], after)); !ok {
			t.Errorf("call %d: %q, want %q", i, calls[i], w)
		}
	}
	written, err := os.ReadFile(logFile + ".config.json")
	must(err)
	if string(written) != config {
		t.Errorf("config.json %q, want the ConsoleConfig output %q", written, config)
	}

	// A stack without the console's outputs (deployed before it existed): a sentence, no upload.
	must(os.Remove(logFile))
	delete(outputs, "ConsoleConfig")
	if out, err := run(outputs); err == nil || !strings.Contains(out, "has no output ConsoleConfig") {
		t.Errorf("without ConsoleConfig: err %v, output %q", err, out)
	}
	if _, err := os.Stat(logFile); err == nil {
		t.Error("files were uploaded although the stack lacks an output")
	}
}

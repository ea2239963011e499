package stack

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
)

// CodeMode says how the functions' code assets are made.
type CodeMode string

const (
	// CodeBuild cross-compiles each function on this machine (no Docker): `go build` for
	// linux/arm64 into the asset folder as `bootstrap`, with the flags of `make build`. What
	// `cdk synth`, `cdk deploy` and `make synth` use.
	CodeBuild CodeMode = "build"
	// CodeStub writes a small placeholder `bootstrap` instead of compiling: same template, same
	// asset wiring, no twelve builds. For the tests only; the placeholder cannot run.
	CodeStub CodeMode = "stub"
)

// CodeContextKey is the CDK context key that selects the CodeMode (`cdk synth -c
// streamspace:code=stub`); the default is CodeBuild.
const CodeContextKey = "streamspace:code"

// SourceMetadataKey is the function resource's Metadata entry naming the folder its code is
// built from (functions/<name>). The parity test reads it; in the SAM template the same fact is
// the Makefile's build-<LogicalId> target.
const SourceMetadataKey = "StreamSpace::Source"

// lambdaFlags are the flags of `make build` / `make build-<LogicalId>` (Makefile LAMBDA_FLAGS),
// plus -buildvcs=false: without it the binary embeds the commit, and the output-hashed asset
// (and so the deployed function) would change on every commit even when the code does not.
var lambdaFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-buildvcs=false"}

// functionCode is the code asset of functions/<name>. The asset is hashed on the bundled output
// (the binary), not on the folder: the binary also depends on internal/ and go.mod, which a
// hash of functions/<name> would miss.
func functionCode(root, name string, mode CodeMode) awslambda.Code {
	dir := filepath.Join(root, "functions", name)
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		panic(fmt.Sprintf("function %s: no %s: %v", name, filepath.Join(dir, "main.go"), err))
	}
	return awslambda.Code_FromAsset(jsii.String(dir), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Only used if the local bundler declines, which it never does: a failed local build
			// fails the synth instead of falling back to Docker.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang:1.26")),
			Local: &goBundler{root: root, name: name, mode: mode},
		},
	})
}

// goBundler builds one function on the local machine (awscdk.ILocalBundling).
type goBundler struct {
	root, name string
	mode       CodeMode
}

func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	out := filepath.Join(*outputDir, "bootstrap")
	if b.mode == CodeStub {
		stub := fmt.Sprintf("#!/bin/sh\necho 'placeholder for functions/%s (synthesized with %s=stub)' >&2\nexit 1\n", b.name, CodeContextKey)
		if err := os.WriteFile(out, []byte(stub), 0o755); err != nil {
			panic(fmt.Sprintf("function %s: write placeholder: %v", b.name, err))
		}
		return jsii.Bool(true)
	}
	if err := BuildFunction(b.root, b.name, out); err != nil {
		// Stop the synth here with the compiler's message. Returning false would fall back to
		// Docker, which this project does not use; a panic inside this jsii callback also stops
		// it, but buries the message under the jsii kernel's own errors.
		fmt.Fprintf(os.Stderr, "\ninfra: the code asset of %s could not be built:\n%v\n", b.name, err)
		os.Exit(1)
	}
	return jsii.Bool(true)
}

// BuildFunction cross-compiles functions/<name> for the Lambda runtime (linux/arm64, static)
// into out.
func BuildFunction(root, name, out string) error {
	args := append([]string{"build"}, lambdaFlags...)
	args = append(args, "-o", out, "./functions/"+name)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("function %s: go %s: %v\n%s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// RepoRoot finds the repository root (the folder whose go.mod declares module streamspace),
// walking up from the working directory: `cdk synth` runs the app in infra/, the tests in
// infra/stack/.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isMainModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no parent folder holds the go.mod of module streamspace")
		}
		dir = parent
	}
}

func isMainModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "streamspace"
		}
	}
	return false
}

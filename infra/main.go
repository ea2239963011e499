// Command infra is the CDK app of StreamSpace: `cdk synth` / `cdk deploy` run it (cdk.json),
// `make synth` too. It defines one stack, the same resources as template.yaml (package stack).
//
// Context: -c stackName=NAME (default streamspace) names the CloudFormation stack;
// -c streamspace:code=stub skips compiling the functions (placeholder code, for tests and quick
// looks at the template: never deploy it). Deploy-time settings are CloudFormation parameters,
// as in template.yaml: cdk deploy --parameters AlarmEmail=ops@example.com.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"streamspace/infra/stack"
)

// StackID is the construct id of the stack, and so the name of its template in cdk.out
// (StreamSpace.template.json).
const StackID = "StreamSpace"

func main() {
	defer jsii.Close()
	root, err := stack.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	// The CDK CLI tells the app where to write (CDK_OUTDIR); `go run .` alone writes to
	// cdk.out too, instead of a temporary folder.
	var appProps *awscdk.AppProps
	if os.Getenv("CDK_OUTDIR") == "" {
		appProps = &awscdk.AppProps{Outdir: jsii.String("cdk.out")}
	}
	app := awscdk.NewApp(appProps)
	stackName := "streamspace"
	if v, ok := app.Node().TryGetContext(jsii.String("stackName")).(string); ok && v != "" {
		stackName = v
	}
	code := stack.CodeBuild
	if v, ok := app.Node().TryGetContext(jsii.String(stack.CodeContextKey)).(string); ok && v != "" {
		code = stack.CodeMode(v)
	}
	if code != stack.CodeBuild && code != stack.CodeStub {
		fmt.Fprintf(os.Stderr, "infra: context %s=%q: want %q or %q\n", stack.CodeContextKey, code, stack.CodeBuild, stack.CodeStub)
		os.Exit(1)
	}
	stack.New(app, StackID, &stack.Props{
		StackProps: awscdk.StackProps{StackName: jsii.String(stackName)},
		Root:       root,
		Code:       code,
	})
	app.Synth(nil)
}

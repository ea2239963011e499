package archtest

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"streamspace/internal/app"
	"streamspace/internal/routes"
)

// checklist is where a failure sends the reader: the list of every place a function is wired.
const checklist = `docs/architecture.md, "Adding a function"`

// localWiring is how the local stack (internal/local/stack) runs each function that is not an
// HTTP area: the App constructor it calls, or why the function has no local counterpart.
var localWiring = map[string]struct{ call, none string }{
	"authorizer": {call: "App.Authorizer()"},
	"websocket":  {call: "App.WebSocket()"},
	"notifier":   {call: "App.Notifier()"},
	"processor":  {call: "App.Processor("},
	"scheduler":  {call: "App.Scheduler()"},
	"taskevents": {none: "ECS task events exist only in AWS: locally the runtime driver reports states itself"},
	"presignup":  {none: "a Cognito trigger: the local issuer has no sign-up"},
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// functionDirs is every functions/<name> with a main.go.
func functionDirs(t *testing.T) []string {
	t.Helper()
	mains, err := filepath.Glob(filepath.Join("..", "..", "functions", "*", "main.go"))
	if err != nil || len(mains) == 0 {
		t.Fatalf("no functions/*/main.go: %v", err)
	}
	var out []string
	for _, m := range mains {
		out = append(out, filepath.Base(filepath.Dir(m)))
	}
	return out
}

// logicalIDs are the <X>Function names of a text (template resources or Makefile targets),
// lower-cased without "Function": the directory each builds from (the Makefile's rule).
func logicalIDs(text string, re *regexp.Regexp) map[string]bool {
	out := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out[strings.ToLower(m[1])] = true
	}
	return out
}

// TestEveryFunctionIsWiredEverywhere: a directory under functions/ is a Lambda function only once
// it is in every place below. Each failure names the place and the checklist that lists them all.
func TestEveryFunctionIsWiredEverywhere(t *testing.T) {
	dirs := functionDirs(t)
	makefile := read(t, "Makefile")
	fnLine := regexp.MustCompile(`(?m)^FUNCTIONS := (.*)$`).FindStringSubmatch(makefile)
	if fnLine == nil {
		t.Fatal("the Makefile has no FUNCTIONS line")
	}
	inFunctions := strings.Fields(fnLine[1])
	samTargets := logicalIDs(makefile, regexp.MustCompile(`build-(\w+)Function\b`))
	template := read(t, "template.yaml")
	// Lambda functions only (a CloudFront function is named …Function too).
	resources := logicalIDs(template, regexp.MustCompile(`(?m)^  (\w+)Function:\s*\n    Type: AWS::Serverless::Function\s*$`))
	stack := read(t, "internal/local/stack/stack.go")
	samples, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	http := routes.Functions()
	a := app.New(app.Config{}, aws.Config{Region: "us-east-1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	for _, fn := range dirs {
		if !slices.Contains(inFunctions, fn) {
			t.Errorf("functions/%s is not in the Makefile's FUNCTIONS (make build skips it): add it (%s)", fn, checklist)
		}
		if !samTargets[fn] {
			t.Errorf("functions/%s has no build-<Name>Function target in the Makefile (sam build cannot build it): add it (%s)", fn, checklist)
		}
		if !resources[fn] {
			t.Errorf("functions/%s has no <Name>Function resource in template.yaml: add it there and in infra/ (%s)", fn, checklist)
		}
		hasSample := false
		for _, s := range samples {
			hasSample = hasSample || strings.HasPrefix(filepath.Base(s), fn+"-")
		}
		if !hasSample {
			t.Errorf("functions/%s has no events/%s-*.json sample: add one, with its row in events/README.md and events_test.go (%s)", fn, fn, checklist)
		}
		if slices.Contains(http, fn) {
			if _, err := a.HTTPHandler(fn); err != nil {
				t.Errorf("functions/%s is an HTTP area of internal/routes, but the local stack cannot build it: %v (app.HTTPHandler; %s)", fn, err, checklist)
			}
			continue
		}
		w, ok := localWiring[fn]
		switch {
		case !ok:
			t.Errorf("functions/%s: say how the local stack runs it (wire it in internal/local/stack and add it to localWiring in internal/archtest/functions_test.go; %s)", fn, checklist)
		case w.call != "" && !strings.Contains(stack, strings.TrimPrefix(w.call, "App")):
			t.Errorf("functions/%s: internal/local/stack/stack.go does not call %s: the local stack does not run it (%s)", fn, w.call, checklist)
		}
	}
	for id := range resources {
		if !slices.Contains(dirs, id) {
			t.Errorf("template.yaml has %sFunction but there is no functions/%s (the Makefile builds ./functions/<id in lower case>)", id, id)
		}
	}
	deploy := read(t, "docs/deploy.md")
	if m := regexp.MustCompile(`In all: (\d+) functions`).FindStringSubmatch(deploy); m == nil {
		t.Errorf("docs/deploy.md no longer says \"In all: N functions\": keep the count there (%s)", checklist)
	} else if n, _ := strconv.Atoi(m[1]); n != len(dirs) {
		t.Errorf("docs/deploy.md says %d functions, functions/ has %d: update its counts (functions, alarms; %s)", n, len(dirs), checklist)
	}
}

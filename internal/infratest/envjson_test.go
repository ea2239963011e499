package infratest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// envJSONDiffs (deploy finding 11) checks env.json, the --env-vars file of `sam local invoke`
// (events/README.md): sam local resolves a Ref to a resource to its logical id ("AuditTable")
// and cannot resolve Fn::GetAtt, so every variable of a function whose value points at a
// resource of the template must be set there (in Parameters, for every function, or in the
// function's own section), and DYNAMODB_ENDPOINT too (the local stack's DynamoDB). Every
// entry must be a variable the function declares: sam local ignores the others.
func envJSONDiffs(tmpl cfn, env map[string]map[string]string) []string {
	var diffs []string
	declared := map[string]bool{}
	for _, fn := range resourcesOfType(tmpl, "AWS::Lambda::Function") {
		vars := asMap(get(props(tmpl, fn), "Environment", "Variables"))
		names := make([]string, 0, len(vars))
		for k := range vars {
			names = append(names, k)
			declared[k] = true
		}
		sort.Strings(names)
		for _, k := range names {
			needs := k == "DYNAMODB_ENDPOINT" || len(existingResources(tmpl, vars[k])) > 0
			_, global := env["Parameters"][k]
			_, own := env[fn][k]
			if needs && !global && !own {
				diffs = append(diffs, fmt.Sprintf("%s: %s (%v) is not in env.json", fn, k, vars[k]))
			}
		}
		for k := range env[fn] {
			if _, ok := vars[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("env.json %s.%s: the function declares no such variable", fn, k))
			}
		}
	}
	for section := range env {
		if section != "Parameters" && props(tmpl, section) == nil {
			diffs = append(diffs, fmt.Sprintf("env.json section %s: no such function", section))
		}
	}
	for k := range env["Parameters"] {
		if !declared[k] {
			diffs = append(diffs, fmt.Sprintf("env.json Parameters.%s: no function declares it", k))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func loadEnvJSON(t *testing.T) map[string]map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("env.json: %v", err)
	}
	return env
}

func TestEnvJSON(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "env.json", envJSONDiffs(transformed(t), loadEnvJSON(t)))
}

// TestEnvJSONDetectsDrift: the file as the review found it (no AUDIT_TABLE_NAME) is reported,
// and so is a stale entry.
func TestEnvJSONDetectsDrift(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	env := loadEnvJSON(t)
	delete(env["Parameters"], "AUDIT_TABLE_NAME")
	env["ProcessorFunction"]["NO_SUCH_VARIABLE"] = "x"
	want := map[string]bool{"ProcessorFunction: AUDIT_TABLE_NAME": false, "env.json ProcessorFunction.NO_SUCH_VARIABLE": false}
	for _, d := range envJSONDiffs(tmpl, env) {
		for w := range want {
			if len(d) >= len(w) && d[:len(w)] == w {
				want[w] = true
			}
		}
	}
	for w, seen := range want {
		if !seen {
			t.Errorf("no difference starting %q", w)
		}
	}
}

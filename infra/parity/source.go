package parity

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
)

// MetadataKey is the CDK function resources' Metadata entry naming the folder their code is
// built from (the stack package writes it).
const MetadataKey = "StreamSpace::Source"

// MetadataSource is the CodeSource of the CDK template (F1).
func MetadataSource(id string, r map[string]any) (string, error) {
	src, _ := asMap(r["Metadata"])[MetadataKey].(string)
	if src == "" {
		return "", fmt.Errorf("no %s metadata: the code's source folder is unknown", MetadataKey)
	}
	return src, nil
}

// MakefileSource is the CodeSource of the SAM template (F1): a function with BuildMethod
// makefile is built by `make build-<LogicalId>`, and the folder is the ./functions/<name> that
// target compiles, as `make -n` (dry run) prints it. root is the folder of the Makefile.
func MakefileSource(root string) CodeSource {
	var mu sync.Mutex
	cache := map[string]string{}
	return func(id string, r map[string]any) (string, error) {
		if m, _ := asMap(r["Metadata"])["BuildMethod"].(string); m != "makefile" {
			return "", fmt.Errorf("Metadata.BuildMethod is %q, want makefile (the only build this project uses)", m)
		}
		mu.Lock()
		defer mu.Unlock()
		if src, ok := cache[id]; ok {
			return src, nil
		}
		cmd := exec.Command("make", "-n", "-s", "build-"+id, "ARTIFACTS_DIR=/artifacts")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("make -n build-%s: %v\n%s", id, err, out)
		}
		folders := map[string]bool{}
		for _, m := range buildTarget.FindAllStringSubmatch(string(out), -1) {
			folders["functions/"+m[1]] = true
		}
		if len(folders) != 1 {
			return "", fmt.Errorf("make -n build-%s compiles %d function folders, want 1:\n%s", id, len(folders), strings.TrimSpace(string(out)))
		}
		for f := range folders {
			cache[id] = f
		}
		return cache[id], nil
	}
}

var buildTarget = regexp.MustCompile(`\s\./functions/([A-Za-z0-9_-]+)\b`)

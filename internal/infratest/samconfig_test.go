package infratest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// samconfigSettings reads one [section] of samconfig.toml as key → raw value (the file uses
// plain key = value lines only).
func samconfigSettings(t *testing.T, section string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, in := map[string]string{}, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			in = line == "["+section+"]"
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// TestSamBuildInSource (deploy finding 12): with CodeUri "." and BuildMethod makefile, sam build
// would copy the whole repository (.cache/, .local/ and any socket in them) once per function
// unless it builds in the source folder.
func TestSamBuildInSource(t *testing.T) {
	t.Parallel()
	if got := samconfigSettings(t, "default.build.parameters")["build_in_source"]; got != "true" {
		t.Errorf("samconfig.toml [default.build.parameters] build_in_source = %q, want true", got)
	}
}

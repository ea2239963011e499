package infratest

import (
	"os/exec"
	"testing"

	"streamspace/internal/testenv/tier"
)

// goModTidyDiff runs `go mod tidy -diff` in dir (Go 1.23+: prints the changes tidy would make
// and exits non-zero when there are any); "" means the module is tidy or the go command is
// not available (skipped by the caller).
func goModTidyDiff(t testing.TB, dir string) string {
	t.Helper()
	tier.Integration(t, "the go command")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	cmd := exec.Command(goBin, "mod", "tidy", "-diff")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out) + "\n(" + err.Error() + ")"
	}
	return ""
}

// TestGoModTidy (deploy finding 19): go.mod and go.sum of the main module are what `go mod
// tidy` makes of them (infra/stack checks the CDK module the same way).
func TestGoModTidy(t *testing.T) {
	t.Parallel()
	if diff := goModTidyDiff(t, repoRoot(t)); diff != "" {
		t.Errorf("go.mod / go.sum are not tidy; run `go mod tidy`:\n%s", diff)
	}
}

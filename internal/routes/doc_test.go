package routes_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"streamspace/internal/routes"
)

const begin, end = "<!-- routes:begin -->", "<!-- routes:end -->"

// renderTable is the route table as docs/api-keys.md shows it.
func renderTable() string {
	var b strings.Builder
	b.WriteString("| route | function | API-key scope |\n|---|---|---|\n")
	for _, r := range routes.All {
		scope := "`" + r.Scope + "`"
		switch {
		case r.Public:
			scope = "public (no credentials)"
		case r.TokenOnly:
			scope = "tokens only (keys cannot manage keys)"
		case r.Scope == "":
			scope = "any"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.Key(), r.Function, scope)
	}
	return b.String()
}

// The documented scope table is the route table: regenerate with UPDATE_DOCS=1 go test ./internal/routes.
func TestDocumentedScopesMatchRouteTable(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "api-keys.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %s … %s markers", path, begin, end)
	}
	want := renderTable()
	if got := s[i+len(begin)+1 : j]; got != want {
		if os.Getenv("UPDATE_DOCS") == "1" {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)+1]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("docs/api-keys.md's route table is out of date; run UPDATE_DOCS=1 go test ./internal/routes")
	}
}

func TestEveryScopeIsUsedOrReserved(t *testing.T) {
	used := map[string]bool{}
	for _, r := range routes.All {
		used[r.Scope] = true
	}
	for _, ro := range routes.ReadOnlyScopes {
		if !strings.HasSuffix(ro, ":read") {
			t.Errorf("read-only default %q is not a read scope", ro)
		}
	}
	for _, r := range routes.All {
		if r.Scope != "" && !contains(routes.Scopes, r.Scope) {
			t.Errorf("route %s uses scope %q outside the vocabulary", r.Key(), r.Scope)
		}
		if !r.Public && !r.TokenOnly && r.Scope == "" {
			t.Errorf("route %s has no scope: every authenticated route names one", r.Key())
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package ddb

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const keysBegin, keysEnd = "<!-- keys:begin -->", "<!-- keys:end -->"

func code(s string) string { return "`" + s + "`" }

func codes(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = code(s)
	}
	return strings.Join(out, ", ")
}

// renderKeys is docs/data-model.md's generated key catalogue: one table of keys per table, then
// which items each index holds.
func renderKeys() string {
	var b strings.Builder
	cat := Catalogue()
	for _, tbl := range AllTables {
		fmt.Fprintf(&b, "**%s**\n\n| Item | `PK` | `SK` |", tbl.LogicalID)
		for _, g := range tbl.GSIs {
			fmt.Fprintf(&b, " %s (PK / SK) |", g)
		}
		b.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(tbl.GSIs)) + "\n")
		for _, it := range cat {
			if it.Table != tbl.LogicalID {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s |", it.Item, code(it.PK), codes(it.SK))
			for _, g := range tbl.GSIs {
				if k, ok := it.Indexes[g]; ok {
					fmt.Fprintf(&b, " %s / %s |", code(k[0]), code(k[1]))
				} else {
					b.WriteString(" — |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("Connections-table audiences (GSI1 partitions): " + codes(Audiences()) + ".\n\n")
	b.WriteString("| Index | Partitions (items) |\n|---|---|\n")
	for _, tbl := range AllTables {
		for _, g := range tbl.GSIs {
			var uses []string
			for _, it := range cat {
				if k, ok := it.Indexes[g]; ok && it.Table == tbl.LogicalID {
					uses = append(uses, code(k[0])+" ("+it.Item+")")
				}
			}
			if len(uses) == 0 {
				uses = []string{"unused"}
			}
			fmt.Fprintf(&b, "| %s %s | %s |\n", tbl.LogicalID, g, strings.Join(uses, ", "))
		}
	}
	return b.String()
}

// The key tables of docs/data-model.md are the catalogue: regenerate with
// UPDATE_DOCS=1 go test ./internal/ddb.
func TestDataModelDocMatchesCatalogue(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "data-model.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, keysBegin), strings.Index(doc, keysEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %s … %s markers", path, keysBegin, keysEnd)
	}
	if want := renderKeys(); doc[i+len(keysBegin)+1:j] != want {
		if os.Getenv("UPDATE_DOCS") != "1" {
			t.Fatalf("docs/data-model.md's key catalogue is out of date; run UPDATE_DOCS=1 go test ./internal/ddb")
		}
		doc = doc[:i+len(keysBegin)+1] + want + doc[j:]
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prose := doc[:i] + doc[j:]
	checkItemRows(t, prose)
	checkKeyTokens(t, prose)
}

var backticked = regexp.MustCompile("`([^`]+)`")

// checkItemRows: in the hand-written item tables (a header starting "| Item |"), the row of an
// item of the catalogue (its first cell is the item's name, a parenthesis aside) names the item's
// partition and sort keys as they are built.
func checkItemRows(t *testing.T, prose string) {
	byName := map[string]ItemKeys{}
	for _, it := range Catalogue() {
		byName[it.Item] = it
	}
	seen := map[string]bool{}
	itemTable, prev := false, ""
	for _, line := range strings.Split(prose, "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(prev, "|") && len(cells) > 1 {
			itemTable = strings.TrimSpace(cells[1]) == "Item"
		}
		prev = line
		if len(cells) < 4 || !itemTable {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSpace(cells[1]), " (")
		it, ok := byName[name]
		if !ok {
			continue
		}
		seen[name] = true
		tokens := map[string]bool{}
		for _, m := range backticked.FindAllStringSubmatch(line, -1) {
			tokens[m[1]] = true
		}
		for _, k := range append([]string{it.PK}, it.SK...) {
			if !tokens[k] {
				t.Errorf("data-model.md's row %q does not name the key %q the code builds", name, k)
			}
		}
	}
	for name := range byName {
		if !seen[name] {
			t.Errorf("data-model.md has no row describing %q", name)
		}
	}
}

var keyToken = regexp.MustCompile(`^[A-Z][A-Z0-9]*#[^ /]*`)

// shape turns placeholders (<…>, …, ~) into "*".
func shape(s string) string {
	s = regexp.MustCompile(`<[^>]*>|…|~`).ReplaceAllString(s, "*")
	return regexp.MustCompile(`\*+`).ReplaceAllString(s, "*")
}

// checkKeyTokens: every key the prose mentions (`SESSION#<id>`, `TYPE#user`, a prefix such as
// `SHARE#`) is one the catalogue builds, so a renamed or invented key cannot stay documented.
func checkKeyTokens(t *testing.T, prose string) {
	var known []string
	for _, it := range Catalogue() {
		known = append(known, it.PK)
		known = append(known, it.SK...)
		for _, k := range it.Indexes {
			known = append(known, k[0], k[1])
		}
	}
	known = append(known, Audiences()...)
	var patterns []*regexp.Regexp
	var shapes []string
	for _, k := range known {
		if !keyToken.MatchString(k) && !regexp.MustCompile(`^[A-Z]+$`).MatchString(k) {
			continue // a sort key that is all placeholder (an id, a time) would match anything
		}
		s := shape(k)
		shapes = append(shapes, s)
		patterns = append(patterns, regexp.MustCompile("^"+strings.ReplaceAll(regexp.QuoteMeta(s), `\*`, ".*")+"$"))
	}
	for _, m := range backticked.FindAllStringSubmatch(prose, -1) {
		tok := keyToken.FindString(m[1])
		if tok == "" {
			continue
		}
		s, ok := shape(tok), false
		for i, p := range patterns {
			if p.MatchString(s) || strings.HasPrefix(shapes[i], s) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("data-model.md mentions the key %q, which no catalogue entry builds", tok)
		}
	}
}

package ids

import (
	"slices"
	"strings"
	"testing"
)

func TestNewIsValidAndSorts(t *testing.T) {
	var made []string
	for range 1000 {
		id := New("sess")
		if !Valid("sess", id) {
			t.Fatalf("New made %q, which Valid refuses", id)
		}
		if id != strings.ToLower(id) {
			t.Fatalf("%q is not lower case", id)
		}
		made = append(made, id)
	}
	// Monotonic within one process: creation order is sort order, and no id repeats.
	if !slices.IsSorted(made) {
		t.Error("ids made one after another do not sort in creation order")
	}
	if len(slices.Compact(slices.Clone(made))) != len(made) {
		t.Error("an id repeated")
	}
}

func TestValid(t *testing.T) {
	good := New("team")
	rest := strings.TrimPrefix(good, "team_")
	for _, c := range []struct {
		prefix, id string
		ok         bool
	}{
		{"team", good, true},
		{"sess", good, false}, // another kind's id
		{"team", "team" + rest, false},
		{"team", "team_" + rest[:25], false},
		{"team", "team_" + rest + "0", false},
		{"team", "team_8" + rest[1:], false}, // first character past the 48-bit time range
		{"team", "team_" + rest[:10] + "ilou0123456789", false},
		{"team", "", false},
		{"team", "team_" + strings.ToUpper(rest), false}, // one spelling: New's, lower case
		{"team", "team_../../etc/passwd", false},
	} {
		if got := Valid(c.prefix, c.id); got != c.ok {
			t.Errorf("Valid(%q, %q) = %v", c.prefix, c.id, got)
		}
	}
}

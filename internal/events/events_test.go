package events

import (
	"regexp"
	"testing"
)

// An event's id is stable for one committed change (a redelivered record gets the same id, so
// clients drop it) and distinct across records and event types.
func TestID(t *testing.T) {
	id := ID("stream-record-1", SessionStateChanged)
	if !regexp.MustCompile(`^evt_[0-9a-f]{26}$`).MatchString(id) {
		t.Fatalf("id %q", id)
	}
	if ID("stream-record-1", SessionStateChanged) != id {
		t.Error("the same record and type gave another id")
	}
	seen := map[string]string{}
	for _, rec := range []string{"stream-record-1", "stream-record-2", "stream-record-10"} {
		for _, typ := range []string{SessionStateChanged, SessionUpdated, SessionCreated, SessionShared, SessionUnshared} {
			got := ID(rec, typ)
			if prev, dup := seen[got]; dup {
				t.Errorf("%s/%s and %s share id %s", rec, typ, prev, got)
			}
			seen[got] = rec + "/" + typ
		}
	}
}

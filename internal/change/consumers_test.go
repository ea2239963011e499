package change_test

import (
	"slices"
	"testing"
	"time"

	"streamspace/internal/activity"
	"streamspace/internal/change"
	"streamspace/internal/events"
	"streamspace/internal/notifier"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// One Diff, three readings: the notifier's events, the auditor's entries and the runtime's
// action all come from the same typed change, with nothing re-decoded or re-compared.
func TestOneDiffThreeConsumers(t *testing.T) {
	old := sessions.Session{ID: "sess_1", OwnerID: "alice", State: sessions.StatePending, DesiredState: sessions.StateRunning,
		Runtime: &sessions.Runtime{Secret: "s"}}
	cur := old
	cur.State, cur.URL = sessions.StateRunning, "https://gw/s/sess_1"
	cur.Runtime = &sessions.Runtime{Secret: "s", Action: sessions.ActionStart}
	d := change.Diff{Op: change.Modify, EventID: "ev", Seq: "7", At: time.Unix(1700000000, 0).UTC(),
		Session: &change.Session{Old: old, New: cur, Changed: change.Fields(change.State) | change.Fields(change.URL) | change.Fields(change.Runtime)}}

	var evs []string
	for _, c := range notifier.Events(d) {
		evs = append(evs, c.Event.Type)
	}
	if !slices.Equal(evs, []string{events.SessionStateChanged}) {
		t.Errorf("events %v, want only the state change (the URL came with it)", evs)
	}
	var acts []string
	for _, a := range activity.Entries(d) {
		acts = append(acts, a.EventType)
	}
	if !slices.Equal(acts, []string{"state.changed", "session.started"}) {
		t.Errorf("activities %v", acts)
	}
	if id := runtime.Needed(d); id != "" {
		t.Errorf("runtime acts on %q: the start was already asked", id)
	}

	// The same session asked to hibernate: a setting for the notifier and the log, work for the runtime.
	d.Session.Old, d.Session.Changed = cur, change.Fields(change.DesiredState)
	d.Session.New.DesiredState = sessions.StateHibernated
	evs = evs[:0]
	for _, c := range notifier.Events(d) {
		evs = append(evs, c.Event.Type)
	}
	if !slices.Equal(evs, []string{events.SessionUpdated}) {
		t.Errorf("events %v, want session.updated", evs)
	}
	if a := activity.Entries(d); len(a) != 1 || a[0].EventType != "config.updated" || a[0].Metadata["desiredState"] != sessions.StateHibernated {
		t.Errorf("activities %+v, want config.updated with the desired state", a)
	}
	if id := runtime.Needed(d); id != "sess_1" {
		t.Errorf("runtime acts on %q, want sess_1 (hibernate)", id)
	}
	d.Op = change.Remove
	if id := runtime.Needed(d); id != "" {
		t.Errorf("runtime acts on a removed session %q", id)
	}
}

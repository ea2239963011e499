package activity

import (
	"strings"
	"testing"
	"time"
)

// A batch's counters land in one shard partition and in two items, that day's and the total:
// several sessions' entries of several kinds share two updates (the point of counting per
// batch), whatever shards their sessions hash to.
func TestBatchCountersShareTwoItems(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	c := Counts{}
	kinds := []struct{ cat, typ string }{{"lifecycle", "state.changed"}, {"sharing", "share.granted"}, {"lifecycle", "session.created"}}
	for i, id := range []string{"sess_a", "sess_b", "sess_c", "sess_d", "sess_e"} {
		k := kinds[i%len(kinds)]
		c.Add(Activity{SessionID: id, Timestamp: now.Add(time.Duration(i) * 30 * time.Minute), EventCategory: k.cat, EventType: k.typ})
	}
	if len(c.items()) <= 2 {
		t.Fatalf("the five sessions hashed to one shard (%d items): pick other ids", len(c.items()))
	}
	one := c.inOnePartition()
	items := one.items()
	if len(items) != 2 {
		t.Fatalf("%d counter items after merging, want 2 (the day, the total): %v", len(items), items)
	}
	got := map[string]int64{}
	for _, keys := range items {
		for _, k := range keys {
			got[k.sk+" "+k.attr] = one[k].n
		}
	}
	want := map[string]int64{"TOTAL count": 5, "DAY#20261206 h07": 2, "DAY#20261206 h08": 2, "DAY#20261206 h09": 1,
		"DAY#20261206 c#lifecycle": 3, "DAY#20261206 c#sharing": 2,
		"DAY#20261206 t#state.changed": 2, "DAY#20261206 t#share.granted": 2, "DAY#20261206 t#session.created": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counters %v, want exactly %v", got, want)
	}
	// One update per item: every attribute added, the day's expiry after the 7 days read.
	st := &Store{Table: "audit"}
	for _, keys := range items {
		u := st.itemUpdate(one, keys)
		if !strings.HasPrefix(*u.UpdateExpression, "ADD ") || strings.Count(*u.UpdateExpression, ":v") != len(keys) {
			t.Errorf("update %q for %d counters", *u.UpdateExpression, len(keys))
		}
	}
}

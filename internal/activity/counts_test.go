package activity

import (
	"testing"
	"time"
)

// A batch's counters land in one shard partition, summed: several sessions' entries share one
// update per counter (the point of counting per batch), whatever shards their sessions hash to.
func TestBatchCountersShareOnePartition(t *testing.T) {
	now := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	c := Counts{}
	for _, id := range []string{"sess_a", "sess_b", "sess_c", "sess_d", "sess_e"} {
		c.Add(Activity{SessionID: id, Timestamp: now, EventCategory: "lifecycle", EventType: "state.changed"})
	}
	if len(c) <= 4 {
		t.Fatalf("the five sessions hashed to one shard (%d counters): pick other ids", len(c))
	}
	one := c.inOnePartition()
	if len(one) != 4 { // total, hour, day × category, day × type
		t.Fatalf("%d counters after merging, want 4: %v", len(one), one)
	}
	for k, d := range one {
		if d.n != 5 {
			t.Errorf("counter %s %s = %d, want 5", k.pk, k.sk, d.n)
		}
	}
}

package gateway

import (
	"testing"
	"time"
)

// Viewers' input marks the session active often enough that a typing user is never idle (a
// quarter of the idle timeout), at least every 60 s as heartbeats did for short timeouts, and
// at most every 5 minutes (each mark is a session write all three stream consumers read).
func TestActivityEveryIsAQuarterOfTheIdleTimeout(t *testing.T) {
	for _, c := range []struct {
		idle int
		want time.Duration
	}{
		{0, 60 * time.Second}, {60, 60 * time.Second}, {240, 60 * time.Second}, {600, 150 * time.Second},
		{1200, 5 * time.Minute}, {1800, 5 * time.Minute}, {86400, 5 * time.Minute},
	} {
		got := ActivityEvery(c.idle)
		if got != c.want {
			t.Errorf("idle timeout %d s: mark every %s, want %s", c.idle, got, c.want)
		}
		if c.idle >= 240 && got+2*time.Second >= time.Duration(c.idle)*time.Second {
			t.Errorf("idle timeout %d s: marks every %s could let a typing user go idle", c.idle, got)
		}
	}
}

package testenv

import (
	"testing"
	"time"
)

// Target logs how long something the product promises took against the promise. Ordinary
// tests do not fail on it: on a saturated 2-core machine a 5 s promise can take 6 s without
// anything being wrong, and timings never gate ordinary tests. `make bench` measures these
// figures alone (BenchmarkAccessEnded); the test still fails if the thing never happens.
func Target(t testing.TB, what string, took, target time.Duration) {
	t.Helper()
	if took > target {
		t.Logf("%s: %s, over its %s target on this machine (measured alone by make bench)", what, took.Round(time.Millisecond), target)
		return
	}
	t.Logf("%s: %s (target %s)", what, took.Round(time.Millisecond), target)
}

// Package clock is the time every service reads: the wall clock, or the one a test installs.
package clock

import "time"

// UTC is now's time in UTC, or the wall clock's when now is nil (services keep a Now field that
// tests set and production leaves empty).
func UTC(now func() time.Time) time.Time {
	if now != nil {
		return now().UTC()
	}
	return time.Now().UTC()
}

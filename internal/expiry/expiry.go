// Package expiry reads the relative lifetimes clients give ("12h", "30d", "2w", "6m", "1y").
package expiry

import (
	"regexp"
	"strconv"
	"time"

	"streamspace/internal/problem"
)

var re = regexp.MustCompile(`^([1-9][0-9]{0,4})([hdwmy])$`)

// Parse turns a lifetime into an expiry time, at most max from now; field names the input in
// the 400 it answers otherwise.
func Parse(field, s string, now time.Time, max time.Duration) (time.Time, error) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, problem.Invalid(field, `must be a number and a unit: h, d, w, m (months) or y, e.g. "30d"`)
	}
	n, _ := strconv.Atoi(m[1])
	var t time.Time
	switch m[2] {
	case "h":
		t = now.Add(time.Duration(n) * time.Hour)
	case "d":
		t = now.AddDate(0, 0, n)
	case "w":
		t = now.AddDate(0, 0, 7*n)
	case "m":
		t = now.AddDate(0, n, 0)
	case "y":
		t = now.AddDate(n, 0, 0)
	}
	if t.Sub(now) > max {
		return time.Time{}, problem.Invalid(field, "is too far in the future")
	}
	return t, nil
}

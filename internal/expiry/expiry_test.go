package expiry

import (
	"testing"
	"time"

	"streamspace/internal/problem"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
	year := 366 * 24 * time.Hour
	for _, c := range []struct {
		in   string
		max  time.Duration
		want time.Time // zero: refused
	}{
		{"12h", year, now.Add(12 * time.Hour)},
		{"30d", year, now.AddDate(0, 0, 30)},
		{"2w", year, now.AddDate(0, 0, 14)},
		{"1m", year, time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)}, // calendar months: 31 Jan + 1 month
		{"1y", year, now.AddDate(1, 0, 0)},
		{"8784h", year, now.Add(year)}, // exactly the maximum
		{"8785h", year, time.Time{}},   // one hour past it
		{"2y", year, time.Time{}},
		{"25h", 24 * time.Hour, time.Time{}},
		{"0d", year, time.Time{}},
		{"01d", year, time.Time{}},
		{"123456h", 100 * year, time.Time{}}, // at most five digits
		{"99999h", 100 * year, now.Add(99999 * time.Hour)},
		{"-1d", year, time.Time{}},
		{"1.5d", year, time.Time{}},
		{"1D", year, time.Time{}},
		{"1 d", year, time.Time{}},
		{"d", year, time.Time{}},
		{"", year, time.Time{}},
		{"30s", year, time.Time{}},
	} {
		got, err := Parse("expiresIn", c.in, now, c.max)
		if c.want.IsZero() {
			if p := problem.As(err); p == nil || p.Status != 400 || p.Errors[0].Field != "expiresIn" {
				t.Errorf("%q: %v, %v; want a 400 on expiresIn", c.in, got, err)
			}
		} else if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

package apikeys

import (
	"slices"
	"strings"
	"testing"
	"time"

	"streamspace/internal/problem"
	"streamspace/internal/routes"
)

func TestSecrets(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if !WellFormed(a) || !WellFormed(b) || a == b {
		t.Fatalf("secrets %q %q", a, b)
	}
	if Prefix(a) != a[:8] || !strings.HasPrefix(Prefix(a), SecretPrefix) {
		t.Errorf("prefix %q", Prefix(a))
	}
	if Hash(a) == Hash(b) || len(Hash(a)) != 64 || !HashesEqual(Hash(a), Hash(a)) || HashesEqual(Hash(a), Hash(b)) {
		t.Error("hashes do not tell keys apart")
	}
	for _, s := range []string{"", a[:len(a)-1], a + "x", "pk_" + a[3:], strings.Replace(a, a[5:6], "+", 1), " " + a[1:]} {
		if WellFormed(s) {
			t.Errorf("WellFormed(%q)", s)
		}
	}
}

func TestExpired(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) *time.Time { x := now.Add(d); return &x }
	for _, c := range []struct {
		exp  *time.Time
		want bool
	}{{nil, false}, {at(time.Second), false}, {at(0), true}, {at(-time.Hour), true}} {
		if got := (Key{ExpiresAt: c.exp}).Expired(now); got != c.want {
			t.Errorf("expires %v: expired %v", c.exp, got)
		}
	}
}

// A key lives at most 5 calendar years, as docs/api-keys.md says: "5y" always spans a 29
// February, and a cap of 5 × 365 days used to refuse it.
func TestParseExpiresIn(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC() // 2027-01-15: the next 5 years hold 29 February 2028
	for s, want := range map[string]time.Time{"4y": now.AddDate(4, 0, 0), "5y": now.AddDate(5, 0, 0), "60m": now.AddDate(0, 60, 0),
		"1826d": now.AddDate(0, 0, 1826), "59m": now.AddDate(0, 59, 0)} {
		if got, err := ParseExpiresIn(s, now); err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	for _, s := range []string{"1827d", "6y", "61m", "261w", "0d", "forever"} {
		if _, err := ParseExpiresIn(s, now); problem.As(err) == nil || problem.As(err).Errors[0].Field != "expiresIn" {
			t.Errorf("%q: %v, want a 400 on expiresIn", s, err)
		}
	}
}

func TestNormalizeScopes(t *testing.T) {
	if got, _ := NormalizeScopes(nil); !slices.Equal(got, routes.ReadOnlyScopes) {
		t.Errorf("no scopes: %v, want the read-only ones", got)
	}
	got, _ := NormalizeScopes(nil)
	got[0] = "changed"
	if routes.ReadOnlyScopes[0] == "changed" {
		t.Fatal("the default scopes are shared with the caller")
	}
	if got, err := NormalizeScopes([]string{routes.ScopeSessionsWrite, routes.ScopeSessionsRead, routes.ScopeSessionsWrite}); err != nil ||
		!slices.Equal(got, []string{routes.ScopeSessionsWrite, routes.ScopeSessionsRead}) {
		t.Errorf("duplicates: %v %v", got, err)
	}
	for _, s := range []string{"sessions:*", "admin", "", "SESSIONS:READ"} {
		if _, err := NormalizeScopes([]string{routes.ScopeSessionsRead, s}); problem.As(err) == nil || problem.As(err).Errors[0].Field != "scopes" {
			t.Errorf("scope %q accepted: %v", s, err)
		}
	}
}

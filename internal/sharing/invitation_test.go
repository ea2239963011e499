package sharing

import (
	"context"
	"testing"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
)

// An invitation is usable until it is revoked, expires or is used up, whichever comes first.
func TestInvitationUsable(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	valid := Invitation{MaxUses: 3, Uses: 0, ValidUntil: now.Add(time.Hour)}
	with := func(f func(*Invitation)) Invitation { i := valid; f(&i); return i }
	for _, c := range []struct {
		name string
		inv  Invitation
		want string
	}{
		{"fresh", valid, ""},
		{"one use left", with(func(i *Invitation) { i.Uses = 2 }), ""},
		{"a second before expiry", with(func(i *Invitation) { i.ValidUntil = now.Add(time.Second) }), ""},
		{"used up", with(func(i *Invitation) { i.Uses = 3 }), "the invitation has been used up"},
		{"over-used", with(func(i *Invitation) { i.Uses = 4 }), "the invitation has been used up"},
		{"no uses at all", with(func(i *Invitation) { i.MaxUses = 0 }), "the invitation has been used up"},
		{"expires now", with(func(i *Invitation) { i.ValidUntil = now }), "the invitation has expired"},
		{"expired", with(func(i *Invitation) { i.ValidUntil = now.Add(-time.Hour) }), "the invitation has expired"},
		{"revoked", with(func(i *Invitation) { i.Revoked = true }), "the invitation was revoked"},
		// Revocation is the reason given first, then expiry, then uses.
		{"revoked, expired and used up", with(func(i *Invitation) { i.Revoked, i.ValidUntil, i.Uses = true, now, 3 }), "the invitation was revoked"},
		{"expired and used up", with(func(i *Invitation) { i.ValidUntil, i.Uses = now, 3 }), "the invitation has expired"},
	} {
		if got := c.inv.Usable(now); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// A share grants until its expiry second (0: never expires).
func TestShareActive(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for expiry, want := range map[int64]bool{0: true, now.Unix() + 1: true, now.Unix(): false, now.Unix() - 1: false} {
		if got := (Share{Expiry: expiry}).Active(now); got != want {
			t.Errorf("expiry %d: active %v", expiry, got)
		}
	}
}

// Invitations are stored and found by the token's SHA-256, never the token.
func TestTokenHash(t *testing.T) {
	if got := TokenHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("TokenHash(abc) = %s", got)
	}
	if TokenHash("abc") == TokenHash("abd") {
		t.Error("two tokens, one hash")
	}
}

// SEC-03's store-free rules of an accept: its creator cannot accept it, nor anyone who already
// manages the session, and a transfer ends the invitations made before it. (Whether the creator
// may still share needs the user store: TestSEC03InvitationsAreNoBackdoor covers it.)
func TestAcceptableWithoutStore(t *testing.T) {
	made := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := made.Add(time.Minute), made.Add(-time.Minute)
	sv := &Service{Access: &access.Decider{}} // no table: grants from owner and platform role only
	se := sessions.Session{ID: "sess_1", OwnerID: "olivia"}
	inv := Invitation{CreatedBy: "olivia", CreatedAt: made}
	// check runs the rules; reaching the creator's check (the user store, nil here) is reported
	// as such rather than as a crash.
	check := func(c auth.Caller, se sessions.Session) (reachedStore bool, err error) {
		defer func() {
			if recover() != nil {
				reachedStore = true
			}
		}()
		return false, sv.acceptable(context.Background(), c, se, inv)
	}
	for _, c := range []struct {
		name        string
		caller      auth.Caller
		transferred *time.Time
		status      int
	}{
		{"its creator", auth.Caller{UserID: "olivia", Role: auth.RoleUser}, nil, 409},
		{"an admin, who manages every session", auth.Caller{UserID: "ada", Role: auth.RoleAdmin}, nil, 409},
		{"after a transfer", auth.Caller{UserID: "sam", Role: auth.RoleUser}, &later, 410},
		{"an operator after a transfer", auth.Caller{UserID: "oscar", Role: auth.RoleOperator}, &later, 410},
	} {
		se := se
		se.TransferredAt = c.transferred
		reached, err := check(c.caller, se)
		if p := problem.As(err); reached || p == nil || p.Status != c.status {
			t.Errorf("%s: %v (went on to the creator's check: %v), want %d", c.name, err, reached, c.status)
		}
	}
	// An invitation made after the last transfer goes on to the creator's check.
	se.TransferredAt = &earlier
	if reached, err := check(auth.Caller{UserID: "sam", Role: auth.RoleUser}, se); !reached {
		t.Errorf("accept of an invitation made after the transfer stopped before the creator's check: %v", err)
	}
}

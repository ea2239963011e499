package e2e

import (
	"testing"

	"streamspace/internal/testenv"
)

// Regressions for the December 2026 security review (../shared/reviews/security-2026-12.md):
// each test failed before its fix.

// SEC-07: replaying POST /sessions after losing access to the session answers 404, not the
// session as it now is.
func TestSEC07IdempotentReplayChecksAccess(t *testing.T) {
	e := testenv.Start(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	body := map[string]any{"templateName": "terminal"}
	var s session
	e.Do("POST", "/api/v1/sessions", alice, body, "Idempotency-Key", "k-sec07").Want(t, 201).Decode(t, &s)
	e.Do("POST", "/api/v1/sessions", alice, body, "Idempotency-Key", "k-sec07").Want(t, 201) // still hers: replayed
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer", alice, map[string]string{"newOwnerUserId": "bob"}).Want(t, 200)
	e.Do("POST", "/api/v1/sessions", alice, body, "Idempotency-Key", "k-sec07").Want(t, 404)
}

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

// SEC-17: a token in the query string opens nothing on the HTTP API (it is only for the
// WebSocket handshake, where browsers cannot set headers).
func TestSEC17NoTokensInHTTPQueryStrings(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	e.Do("GET", "/api/v1/users/me?token="+alice, "", nil).Want(t, 401)
	e.Do("GET", "/api/v1/users/me", alice, nil).Want(t, 200)
	e.MustDialWS(alice, nil) // the WebSocket still takes ?token=
}

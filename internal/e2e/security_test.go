package e2e

import (
	"strings"
	"testing"
	"time"

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

// SEC-12: a view-level reader of the activity log sees neither where people were (IP address,
// User-Agent) nor whom the session is shared with; the owner sees both.
func TestSEC12ActivityHidesPeopleFromViewers(t *testing.T) {
	e := testenv.Start(t)
	alice, carol := e.Token("alice", ""), e.Token("carol", "")
	seen(t, e, carol)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"x"}}, "User-Agent", "AliceLaptop/1.0 (private device id 1234)").Want(t, 200)
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view"}).Want(t, 201)
	waitActivity(t, e, alice, p+"/activity/timeline", 4)
	for _, route := range []string{p + "/activity?limit=100", p + "/activity/timeline?limit=100"} {
		owner := string(e.Do("GET", route, alice, nil).Want(t, 200).Body)
		viewer := string(e.Do("GET", route, carol, nil).Want(t, 200).Body)
		if !strings.Contains(owner, "AliceLaptop") || !strings.Contains(owner, `"sharedWithUserId":"carol"`) {
			t.Fatalf("%s: the owner should see the details: %s", route, owner)
		}
		for _, private := range []string{"AliceLaptop", `"ip":`, `"sharedWithUserId"`, "shared with carol"} {
			if strings.Contains(viewer, private) {
				t.Errorf("%s: a view-level reader sees %s", route, private)
			}
		}
	}
}

// SEC-14: the usage log of an API key records the route with its secret parameters left out:
// an invitation token accepted with a key is not kept, nor shown.
func TestSEC14UsageLogKeepsNoInvitationToken(t *testing.T) {
	e := testenv.Start(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	var inv struct{ Token string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/invitations", alice, map[string]any{"permissionLevel": "view", "maxUses": 2}).Want(t, 201).Decode(t, &inv)
	var key struct{ ID, Key string }
	e.Do("POST", "/api/v1/api-keys", bob, map[string]any{"name": "k", "scopes": []string{"sharing:write", "sessions:read"}}).Want(t, 201).Decode(t, &key)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", key.Key, nil).Want(t, 200)
	var usage struct {
		RecentRequests []struct{ Path, Route string }
	}
	waitUntil(t, 10*time.Second, "the accept is in the usage log", func() bool {
		e.Do("GET", "/api/v1/api-keys/"+key.ID+"/usage", bob, nil).Want(t, 200).Decode(t, &usage)
		return len(usage.RecentRequests) > 0
	})
	body := string(e.Do("GET", "/api/v1/api-keys/"+key.ID+"/usage", bob, nil).Want(t, 200).Body)
	if strings.Contains(body, inv.Token) || usage.RecentRequests[0].Path != "/api/v1/invitations/{token}/accept" {
		t.Fatalf("usage log: %s", body)
	}
}

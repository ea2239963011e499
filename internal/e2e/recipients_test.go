package e2e

import (
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"streamspace/internal/testenv"
)

// Every event type reaches exactly the clients that may see it, and no other.
func TestEachEventReachesExactlyItsAudience(t *testing.T) {
	e := testenv.Start(t)
	tok := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol", "dave", "mallory"} {
		tok[u] = e.Token(u, "")
	}
	tok["root"], tok["olga"] = e.Token("root", "admin"), e.Token("olga", "operator")
	seen(t, e, tok["alice"], tok["bob"], tok["carol"], tok["dave"], tok["mallory"], tok["olga"])
	tm := newTeam(t, e, tok["alice"], "crew")
	e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", tok["alice"], map[string]string{"userId": "bob", "role": "member"}).Want(t, 201)

	clients := map[string]*testenv.WS{
		"alice":               e.MustDialWS(tok["alice"], nil),
		"bob (team)":          e.MustDialWS(tok["bob"], nil),
		"carol (share)":       e.MustDialWS(tok["carol"], nil),
		"mallory":             e.MustDialWS(tok["mallory"], nil),
		"olga (default)":      e.MustDialWS(tok["olga"], nil),
		"root watching alice": e.MustDialWS(tok["root"], url.Values{"user_id": {"alice"}}),
	}
	settle := func() {
		time.Sleep(150 * time.Millisecond)
		for _, c := range clients {
			c.Drain(time.Millisecond)
		}
	}
	// expect: after act, exactly the named clients receive an event of type typ. It waits until
	// every named client has it (up to 15 s: a loaded machine is slow, not wrong), then 300 ms
	// more for the ones that must not get it.
	expect := func(typ string, want []string, act func()) {
		t.Helper()
		settle()
		act()
		reached := map[string]bool{}
		look := func(d time.Duration) {
			for name, c := range clients {
				for _, m := range c.Drain(d) {
					if m.Type == typ {
						reached[name] = true
					}
				}
			}
		}
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			look(20 * time.Millisecond)
			all := true
			for _, w := range want {
				all = all && reached[w]
			}
			if all {
				break
			}
		}
		time.Sleep(300 * time.Millisecond)
		look(time.Millisecond)
		var got []string
		for name := range reached {
			got = append(got, name)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s reached %v, want %v", typ, got, want)
		}
	}
	var s session
	expect("session.created", []string{"alice", "bob (team)", "root watching alice"}, func() {
		e.Do("POST", "/api/v1/sessions", tok["alice"], map[string]any{"templateName": "terminal", "teamId": tm.ID}).Want(t, 201).Decode(t, &s)
	})
	p := "/api/v1/sessions/" + s.ID
	var sh struct{ ID string }
	all := []string{"alice", "bob (team)", "carol (share)", "root watching alice"}
	expect("session.shared", all, func() {
		e.Do("POST", p+"/share", tok["alice"], map[string]string{"sharedWithUserId": "carol", "permissionLevel": "collaborate"}).Want(t, 201).Decode(t, &sh)
	})
	clients["olga subscribed"] = e.MustDialWS(tok["olga"], url.Values{"session_id": {s.ID}})
	all = append(all, "olga subscribed")
	expect("session.tags.updated", all, func() { e.Do("PUT", p+"/tags", tok["alice"], map[string]any{"tags": []string{"t"}}).Want(t, 200) })
	expect("session.resources.updated", all, func() {
		e.Do("PATCH", p, tok["alice"], map[string]any{"resources": map[string]string{"cpu": "1", "memory": "1Gi"}}).Want(t, 200)
	})
	expect("session.state.changed", all, func() {
		e.Do("POST", p+"/status", tok["root"], map[string]any{"state": "running", "url": "http://x"}).Want(t, 200)
	})
	expect("session.updated", all, func() { e.Do("PATCH", p, tok["alice"], map[string]any{"idleTimeout": 900}).Want(t, 200) })
	var c struct{ ConnectionID string }
	expect("session.connected", all, func() { c.ConnectionID = openAsGateway(t, e, tok["carol"], s.ID) })
	expect("session.heartbeat", all, func() { e.Do("POST", p+"/heartbeat", tok["carol"], nil).Want(t, 200) })
	expect("session.disconnected", all, func() {
		e.Do("POST", p+"/disconnect", tok["carol"], map[string]string{"connectionId": c.ConnectionID}).Want(t, 204)
	})
	expect("session.unshared", all, func() { e.Do("DELETE", p+"/shares/"+sh.ID, tok["alice"], nil).Want(t, 204) })
	all = []string{"alice", "bob (team)", "root watching alice", "olga subscribed"}
	expect("session.tags.updated", all, func() { e.Do("PUT", p+"/tags", tok["alice"], map[string]any{"tags": []string{"u"}}).Want(t, 200) })
	expect("team.member.added", []string{"alice", "bob (team)", "carol (share)"}, func() { // carol is the member added
		e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", tok["alice"], map[string]string{"userId": "carol", "role": "viewer"}).Want(t, 201)
	})
	expect("team.member.role.changed", []string{"alice", "bob (team)", "carol (share)"}, func() {
		e.Do("PATCH", "/api/v1/teams/"+tm.ID+"/members/carol", tok["alice"], map[string]string{"role": "member"}).Want(t, 200)
	})
	expect("team.member.removed", []string{"alice", "bob (team)", "carol (share)"}, func() {
		e.Do("DELETE", "/api/v1/teams/"+tm.ID+"/members/carol", tok["alice"], nil).Want(t, 204)
	})
	expect("session.error", all, func() {
		e.Do("POST", p+"/status", tok["root"], map[string]any{"state": "failed", "error": "boom"}).Want(t, 200)
	})
	expect("session.transferred", []string{"alice", "bob (team)", "olga subscribed", "root watching alice"}, func() {
		e.Do("POST", p+"/transfer", tok["alice"], map[string]string{"newOwnerUserId": "bob"}).Want(t, 202)
		e.Do("POST", p+"/transfer/accept", tok["bob"], nil).Want(t, 200)
	})
	expect("session.deleted", []string{"alice", "bob (team)", "olga subscribed"}, func() { e.Do("DELETE", p, tok["bob"], nil).Want(t, 200) })
	k := newKey(t, e, tok["alice"], map[string]any{"name": "k"})
	expect("apikey.revoked", []string{"alice"}, func() { e.Do("POST", "/api/v1/api-keys/"+k.ID+"/revoke", tok["alice"], nil).Want(t, 200) })
}

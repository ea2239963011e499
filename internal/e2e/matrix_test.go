package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"streamspace/internal/apikeys"
	"streamspace/internal/local/issuer"
	"streamspace/internal/local/stack"
	"streamspace/internal/routes"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// The authorization matrix: every route × every kind of caller → the expected class of answer.
// "ok" means the caller was let through (any answer but 401/403/404 and never a 5xx); the others
// are the exact status. Zero leaks: a caller without view access always gets 404.

type grant struct {
	level          int // 0 none, 1 view, 2 collaborate, 3 control
	manage, delete bool
}

type actor struct {
	name     string
	session  grant  // on the fixture session
	teamRole string // in the fixture team
	platform string // user, operator, admin
}

var actors = []actor{
	{"owner", grant{3, true, true}, "member", "user"},
	{"towner", grant{3, true, true}, "owner", "user"},
	{"tadmin", grant{3, true, true}, "admin", "user"},
	{"tmember", grant{2, false, false}, "member", "user"},
	{"tviewer", grant{1, false, false}, "viewer", "user"},
	{"sview", grant{1, false, false}, "", "user"},
	{"scollab", grant{2, false, false}, "", "user"},
	{"scontrol", grant{3, false, false}, "", "user"},
	{"stranger", grant{}, "", "user"},
	{"olga", grant{1, false, false}, "", "operator"},
	{"admin", grant{3, true, true}, "", "admin"},
}

const unknownConn = "conn_01jd0000000000000000000000"

type fixture struct {
	team, session, shareID string
}

// matrixEnv is one stack with generous quotas and every actor known.
func matrixEnv(t *testing.T) (*testenv.Env, map[string]string) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.Limits = sessions.Limits{MaxSessions: 10000, MaxCPUMillis: 1 << 30, MaxMemoryMiB: 1 << 30}
	})
	toks := map[string]string{}
	for _, a := range actors {
		role := ""
		if a.platform == "operator" {
			role = "operator"
		}
		toks[a.name] = e.Token(a.name, role)
		e.Do("GET", "/api/v1/users/me", toks[a.name], nil).Want(t, 200)
	}
	return e, toks
}

// newTeamFixture builds a team with every team role.
func newTeamFixture(t *testing.T, e *testenv.Env, toks map[string]string) string {
	t.Helper()
	var tm struct{ ID string }
	e.Do("POST", "/api/v1/teams", toks["towner"], map[string]string{"name": "m"}).Want(t, 201).Decode(t, &tm)
	for _, a := range actors {
		if a.teamRole != "" && a.teamRole != "owner" {
			e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", toks["towner"], map[string]string{"userId": a.name, "role": a.teamRole}).Want(t, 201)
		}
	}
	e.Do("PUT", "/api/v1/teams/"+tm.ID+"/quota", toks["towner"], map[string]int{"maxSessions": 1000, "maxCpuMillis": 10_000_000, "maxMemoryMiB": 100_000_000}).Want(t, 200)
	return tm.ID
}

// newFixture adds to a team a session of "owner" with three shares.
func newFixture(t *testing.T, e *testenv.Env, toks map[string]string, teamID string) fixture {
	t.Helper()
	f := fixture{team: teamID}
	var s struct{ ID string }
	e.Do("POST", "/api/v1/sessions", toks["owner"], map[string]any{"templateName": "terminal", "teamId": f.team}).Want(t, 201).Decode(t, &s)
	f.session = s.ID
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/status", toks["admin"], map[string]any{"state": "running", "url": "http://127.0.0.1:1/vnc.html"}).Want(t, 200)
	for _, sh := range []struct{ user, level string }{{"sview", "view"}, {"scollab", "collaborate"}, {"scontrol", "control"}} {
		var got struct{ ID string }
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", toks["owner"], map[string]string{"sharedWithUserId": sh.user, "permissionLevel": sh.level}).Want(t, 201).Decode(t, &got)
		if sh.user == "sview" {
			f.shareID = got.ID
		}
	}
	return f
}

// sessionRule says what a session-scoped route needs.
type sessionRule struct {
	level          int
	manage, delete bool
	adminOnly      bool
	recipientOnly  bool // the recipient of a transfer offer, and nobody here is one: 404 for all
	body           any
	allowedDetail  string // for routes whose permitted answer is itself a 404 (unknown connection…)
}

var sessionRules = map[string]sessionRule{
	"GET /api/v1/sessions/{id}":                               {level: 1},
	"PATCH /api/v1/sessions/{id}":                             {level: 3, body: map[string]any{"idleTimeout": 900}},
	"DELETE /api/v1/sessions/{id}":                            {level: 1, delete: true},
	"PUT /api/v1/sessions/{id}/tags":                          {level: 3, body: map[string]any{"tags": []string{"x"}}},
	"PATCH /api/v1/sessions/{id}/tags":                        {level: 3, body: map[string]any{"add": []string{"y"}}},
	"POST /api/v1/sessions/{id}/connect":                      {level: 1},
	"POST /api/v1/sessions/{id}/disconnect":                   {level: 1, body: map[string]string{"connectionId": unknownConn}, allowedDetail: "connection not found"},
	"POST /api/v1/sessions/{id}/heartbeat":                    {level: 2},
	"POST /api/v1/sessions/{id}/status":                       {level: 1, adminOnly: true, body: map[string]any{"state": "running", "url": "http://y"}},
	"POST /api/v1/sessions/{id}/transfer":                     {level: 1, manage: true, body: map[string]string{"newOwnerUserId": "stranger"}},
	"DELETE /api/v1/sessions/{id}/transfer":                   {level: 1, manage: true, allowedDetail: "transfer offer not found"},
	"POST /api/v1/sessions/{id}/transfer/accept":              {recipientOnly: true},
	"POST /api/v1/sessions/{id}/transfer/decline":             {recipientOnly: true},
	"POST /api/v1/sessions/{id}/share":                        {level: 1, manage: true, body: map[string]string{"sharedWithUserId": "stranger", "permissionLevel": "view"}},
	"GET /api/v1/sessions/{id}/shares":                        {level: 1, manage: true},
	"DELETE /api/v1/sessions/{id}/shares/{shareId}":           {level: 1, manage: true},
	"POST /api/v1/sessions/{id}/invitations":                  {level: 1, manage: true, body: map[string]string{"permissionLevel": "view"}},
	"GET /api/v1/sessions/{id}/invitations":                   {level: 1, manage: true},
	"DELETE /api/v1/sessions/{id}/invitations/{invitationId}": {level: 1, manage: true, allowedDetail: "invitation not found"},
	"GET /api/v1/sessions/{id}/collaborators":                 {level: 1},
	"POST /api/v1/sessions/{id}/activity/log":                 {level: 1, body: map[string]string{"eventType": "user.heartbeat"}},
	"GET /api/v1/sessions/{id}/activity":                      {level: 1},
	"GET /api/v1/sessions/{id}/activity/timeline":             {level: 1},
	"POST /api/v1/sessions/{id}/recordings":                   {level: 3, body: map[string]string{"type": "video", "format": "webm"}},
	"GET /api/v1/sessions/{id}/recordings":                    {level: 1},
	"GET /api/v1/sessions/{id}/recordings/{recordingId}":      {level: 1, allowedDetail: "recording not found"},
	"PATCH /api/v1/sessions/{id}/recordings/{recordingId}":    {level: 3, body: map[string]string{"status": "completed"}, allowedDetail: "recording not found"},
	"DELETE /api/v1/sessions/{id}/recordings/{recordingId}":   {level: 3, allowedDetail: "recording not found"},
	"DELETE /api/v1/sessions/{id}/collaborators/{userId}":     {level: 1, manage: true, allowedDetail: "collaborator not found"},
}

func expectSession(r sessionRule, a actor) string {
	switch {
	case a.session.level == 0, r.recipientOnly:
		return "404"
	case r.adminOnly && a.platform != "admin":
		return "403"
	case a.session.level < r.level, r.manage && !a.session.manage, r.delete && !a.session.delete:
		return "403"
	}
	return "ok"
}

// teamRule says what a team route needs: a permission, any membership ("member"), or the
// caller's own membership ("self": platform roles do not count).
type teamRule struct {
	perm, path string
	body       any
	leave      bool // the member named in the path may do it to themselves
}

var teamRules = map[string]teamRule{
	"GET /api/v1/teams/{teamId}":                               {perm: "member"},
	"PATCH /api/v1/teams/{teamId}":                             {perm: "team.manage", body: map[string]string{"displayName": "X"}},
	"DELETE /api/v1/teams/{teamId}":                            {perm: "team.manage"},
	"GET /api/v1/teams/{teamId}/members":                       {perm: "member"},
	"POST /api/v1/teams/{teamId}/members":                      {perm: "team.members.manage", body: map[string]string{"userId": "stranger", "role": "viewer"}},
	"PATCH /api/v1/teams/{teamId}/members/{userId}":            {perm: "team.members.manage", path: "tmember", body: map[string]string{"role": "viewer"}},
	"DELETE /api/v1/teams/{teamId}/members/{userId}":           {perm: "team.members.manage", path: "tviewer", leave: true},
	"GET /api/v1/teams/{teamId}/permissions":                   {perm: "member"},
	"GET /api/v1/teams/{teamId}/role-info":                     {perm: "member"},
	"GET /api/v1/teams/{teamId}/my-permissions":                {perm: "self"},
	"GET /api/v1/teams/{teamId}/check-permission/{permission}": {perm: "self", path: "team.manage"},
	"GET /api/v1/teams/{teamId}/sessions":                      {perm: "team.sessions.view"},
	"GET /api/v1/teams/{teamId}/quota":                         {perm: "team.quota.view"},
	"PUT /api/v1/teams/{teamId}/quota":                         {perm: "team.quota.manage", body: map[string]int{"maxSessions": 900}},
}

var teamPerms = map[string][]string{
	"owner":  {"team.manage", "team.members.manage", "team.sessions.view", "team.quota.view", "team.quota.manage"},
	"admin":  {"team.members.manage", "team.sessions.view", "team.quota.view"},
	"member": {"team.sessions.view", "team.quota.view"},
	"viewer": {"team.sessions.view", "team.quota.view"},
}

func expectTeam(r teamRule, a actor) string {
	has := func(p string) bool {
		for _, x := range teamPerms[a.teamRole] {
			if x == p {
				return true
			}
		}
		return false
	}
	member := a.teamRole != ""
	switch {
	case r.leave && r.path == a.name && member: // leaving needs no permission
		return "ok"
	case r.perm == "self":
		if member {
			return "ok"
		}
		return "404"
	case member && (r.perm == "member" || has(r.perm)):
		return "ok"
	case a.platform == "admin":
		return "ok"
	case a.platform == "operator" && (r.perm == "member" || r.perm == "team.sessions.view" || r.perm == "team.quota.view"):
		return "ok"
	case member, a.platform == "operator":
		return "403"
	}
	return "404"
}

func class(status int) string {
	switch status {
	case 401, 403, 404:
		return fmt.Sprint(status)
	}
	if status >= 500 {
		return "5xx"
	}
	return "ok"
}

func fill(path string, f fixture, extra string) string {
	path = strings.ReplaceAll(path, "{id}", f.session)
	path = strings.ReplaceAll(path, "{shareId}", f.shareID)
	path = strings.ReplaceAll(path, "{recordingId}", "rec_01jd0000000000000000000000")
	path = strings.ReplaceAll(path, "{invitationId}", "inv_01jd0000000000000000000000")
	path = strings.ReplaceAll(path, "{teamId}", f.team)
	path = strings.ReplaceAll(path, "{userId}", extra)
	return strings.ReplaceAll(path, "{permission}", extra)
}

func TestAuthorizationMatrix(t *testing.T) {
	e, toks := matrixEnv(t)
	baseTeam := newTeamFixture(t, e, toks)
	base := newFixture(t, e, toks, baseTeam)
	covered := map[string]bool{}
	for _, rt := range routes.All {
		key := rt.Key()
		if rule, ok := sessionRules[key]; ok {
			covered[key] = true
			forEachActor(func(a actor) {
				f := base
				if rt.Method != "GET" { // a change gets its own session
					f = newFixture(t, e, toks, baseTeam)
				}
				extra := "tmember"
				r := e.Do(rt.Method, fill(rt.Path, f, extra), toks[a.name], rule.body)
				want, got := expectSession(rule, a), class(r.Status)
				if want == "ok" && rule.allowedDetail != "" && r.Status == 404 && strings.Contains(string(r.Body), rule.allowedDetail) {
					got = "ok"
				}
				if got != want {
					t.Errorf("%s as %s: %d (%s), want %s: %s", key, a.name, r.Status, got, want, r.Body)
				}
			})
		}
		if rule, ok := teamRules[key]; ok {
			covered[key] = true
			forEachActor(func(a actor) {
				f := base
				if rt.Method != "GET" { // a change gets its own team (without sessions: deletable)
					f = fixture{team: newTeamFixture(t, e, toks)}
				}
				r := e.Do(rt.Method, fill(rt.Path, f, rule.path), toks[a.name], rule.body)
				if want, got := expectTeam(rule, a), class(r.Status); got != want {
					t.Errorf("%s as %s: %d (%s), want %s: %s", key, a.name, r.Status, got, want, r.Body)
				}
			})
		}
	}
	// The caller's own records: every actor gets theirs.
	for _, key := range []string{"GET /api/v1/users/me", "GET /api/v1/users/me/quota"} {
		covered[key] = true
		forEachActor(func(a actor) {
			if r := e.Do("GET", strings.TrimPrefix(key, "GET "), toks[a.name], nil); class(r.Status) != "ok" {
				t.Errorf("%s as %s: %d, want ok: %s", key, a.name, r.Status, r.Body)
			}
		})
	}
	for k := range sessionRules {
		if !covered[k] {
			t.Errorf("rule for %s matches no route", k)
		}
	}
	for k := range teamRules {
		if !covered[k] {
			t.Errorf("rule for %s matches no route", k)
		}
	}
}

// Every route × every kind of credential: none, garbage, an expired token, a revoked key, an
// expired key, a key without the route's scope, and a key with every scope.
func TestCredentialMatrix(t *testing.T) {
	e, toks := matrixEnv(t)
	f := newFixture(t, e, toks, newTeamFixture(t, e, toks))
	owner := toks["owner"]
	full := newKey(t, e, owner, map[string]any{"name": "full", "scopes": routes.Scopes, "rateLimit": 100000})
	revoked := newKey(t, e, owner, map[string]any{"name": "revoked", "scopes": routes.Scopes})
	e.Do("POST", "/api/v1/api-keys/"+revoked.ID+"/revoke", owner, nil).Want(t, 200)
	secret, _ := apikeys.NewSecret()
	past := time.Now().Add(-time.Second)
	if err := e.App.APIKeys().Store.Create(context.Background(), apikeys.Key{ID: "key_01jd0000000000000000000001", OwnerID: "owner",
		Name: "expired", KeyPrefix: apikeys.Prefix(secret), Scopes: routes.Scopes, RateLimit: 1000, CreatedAt: past, ExpiresAt: &past},
		apikeys.Hash(secret)); err != nil {
		t.Fatal(err)
	}
	expiredTok, _ := e.Issuer.Mint(issuerClaims("owner", time.Now().Add(-3*time.Hour)))
	// A key whose scopes exclude each route's: one key per scope.
	without := map[string]string{}
	for _, sc := range routes.Scopes {
		var others []string
		for _, o := range routes.Scopes {
			if o != sc {
				others = append(others, o)
			}
		}
		without[sc] = newKey(t, e, owner, map[string]any{"name": "no-" + sc, "scopes": others, "rateLimit": 100000}).Key
	}
	for _, rt := range routes.All {
		path := fill(rt.Path, f, "tmember")
		if rt.Public {
			if r := e.Do(rt.Method, path, "", nil); r.Status != 200 {
				t.Errorf("public %s: %d", rt.Key(), r.Status)
			}
			continue
		}
		for name, tok := range map[string]string{"no token": "", "garbage": "garbage", "expired token": expiredTok,
			"revoked key": revoked.Key, "expired key": secret, "malformed key": "sk_short"} {
			if r := e.Do(rt.Method, path, tok, nil); r.Status != 401 {
				t.Errorf("%s with %s: %d, want 401", rt.Key(), name, r.Status)
			}
		}
		switch {
		case rt.TokenOnly:
			if r := doKey(e, rt.Method, path, full.Key, nil); r.Status != 403 {
				t.Errorf("%s with a key: %d, want 403 (token only)", rt.Key(), r.Status)
			}
		case rt.Scope != "":
			if r := doKey(e, rt.Method, path, without[rt.Scope], nil); r.Status != 403 || !strings.Contains(string(r.Body), rt.Scope) {
				t.Errorf("%s with a key lacking %s: %d %s", rt.Key(), rt.Scope, r.Status, r.Body)
			}
			// With the scope, the key gets what its owner gets: never a credential refusal.
			if r := doKey(e, rt.Method, path, full.Key, nil); r.Status == 401 || (r.Status == 403 && strings.Contains(string(r.Body), "scope")) {
				t.Errorf("%s with a full key: %d %s", rt.Key(), r.Status, r.Body)
			}
		}
	}
	_ = http.StatusOK
}

func issuerClaims(sub string, issuedAt time.Time) issuer.Claims {
	return issuer.Claims{Subject: sub, IssuedAt: issuedAt, TTL: time.Hour}
}

// forEachActor runs f for every actor, a few at a time (each case has its own fixture).
func forEachActor(f func(actor)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, a := range actors {
		wg.Add(1)
		sem <- struct{}{}
		go func(a actor) {
			defer func() { <-sem; wg.Done() }()
			f(a)
		}(a)
	}
	wg.Wait()
}

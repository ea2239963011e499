package e2e

import (
	"strings"
	"testing"

	"streamspace/internal/routes"
)

// Defect 16: the permission middleware existed but was mounted on no route.
func TestRegressionDefect16_TeamPermissionsEnforcedOnEveryRoute(t *testing.T) {
	e, toks := matrixEnv(t)
	teamID := newTeamFixture(t, e, toks)
	n := 0
	for _, rt := range routes.ForFunction(routes.FnTeams) {
		if !strings.Contains(rt.Path, "{teamId}") {
			continue
		}
		n++
		path := fill(rt.Path, fixture{team: teamID}, "tmember")
		path = strings.Replace(path, "check-permission/tmember", "check-permission/team.manage", 1)
		if r := e.Do(rt.Method, path, toks["stranger"], validBody[rt.Key()]); r.Status != 404 {
			t.Errorf("stranger %s: %d, want 404", rt.Key(), r.Status)
		}
	}
	if n < 14 {
		t.Fatalf("only %d team routes checked", n)
	}
	e.Do("PUT", "/api/v1/teams/"+teamID+"/quota", toks["tviewer"], map[string]int{"maxSessions": 1}).Want(t, 403)
	e.Do("POST", "/api/v1/teams/"+teamID+"/members", toks["tmember"], map[string]string{"userId": "stranger", "role": "viewer"}).Want(t, 403)
}

// Defect 17: sessions were never given a team, so team session lists were always empty.
func TestRegressionDefect17_TeamSessionsListed(t *testing.T) {
	e, toks := matrixEnv(t)
	teamID := newTeamFixture(t, e, toks)
	f := newFixture(t, e, toks, teamID)
	var got session
	e.Do("GET", "/api/v1/sessions/"+f.session, toks["owner"], nil).Want(t, 200).Decode(t, &got)
	var list struct{ Items []struct{ ID, TeamID string } }
	e.Do("GET", "/api/v1/teams/"+teamID+"/sessions", toks["tviewer"], nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != f.session || list.Items[0].TeamID != teamID {
		t.Fatalf("team sessions: %+v", list.Items)
	}
}

// Defect 18: my-teams listed every group membership, system groups included; roles were free text.
func TestRegressionDefect18_MyTeamsOnlyTeamsWithKnownRoles(t *testing.T) {
	e, toks := matrixEnv(t)
	teamID := newTeamFixture(t, e, toks)
	var mine struct {
		Items []struct {
			ID, Role    string
			Permissions []string
		}
	}
	e.Do("GET", "/api/v1/teams/my-teams", toks["tviewer"], nil).Want(t, 200).Decode(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != teamID || mine.Items[0].Role != "viewer" || len(mine.Items[0].Permissions) != 2 {
		t.Fatalf("my-teams: %+v", mine.Items)
	}
	e.Do("GET", "/api/v1/teams/my-teams", toks["stranger"], nil).Want(t, 200).Decode(t, &mine)
	if len(mine.Items) != 0 {
		t.Fatalf("a stranger's teams: %+v", mine.Items)
	}
	for _, bad := range []string{"superuser", "Owner", "", "owner "} {
		e.Do("POST", "/api/v1/teams/"+teamID+"/members", toks["towner"], map[string]string{"userId": "stranger", "role": bad}).Want(t, 400)
	}
}

// Defect 19: there was no team management outside an unprotected generic groups API.
func TestRegressionDefect19_TeamManagement(t *testing.T) {
	e, toks := matrixEnv(t)
	teamID := newTeamFixture(t, e, toks)
	e.Do("PATCH", "/api/v1/teams/"+teamID, toks["towner"], map[string]string{"description": "d"}).Want(t, 200)
	e.Do("PATCH", "/api/v1/teams/"+teamID, toks["tadmin"], map[string]string{"description": "x"}).Want(t, 403)
	e.Do("DELETE", "/api/v1/teams/"+teamID, toks["tadmin"], nil).Want(t, 403)
	e.Do("DELETE", "/api/v1/teams/"+teamID, toks["towner"], nil).Want(t, 204)
	e.Do("GET", "/api/v1/teams/"+teamID, toks["towner"], nil).Want(t, 404)
}

// Defect 20: only creating a share checked ownership; the other sharing routes were open.
func TestRegressionDefect20_SharingRoutesNeedTheOwner(t *testing.T) {
	e, toks := matrixEnv(t)
	f := newFixture(t, e, toks, newTeamFixture(t, e, toks))
	for _, rt := range routes.ForFunction(routes.FnSharing) {
		if !strings.Contains(rt.Path, "{id}") {
			continue
		}
		path := fill(rt.Path, f, "tmember")
		if r := e.Do(rt.Method, path, toks["stranger"], validBody[rt.Key()]); r.Status != 404 {
			t.Errorf("stranger %s: %d, want 404", rt.Key(), r.Status)
		}
		if rt.Key() != "GET /api/v1/sessions/{id}/collaborators" { // view access may list collaborators
			if r := e.Do(rt.Method, path, toks["scontrol"], validBody[rt.Key()]); r.Status != 403 {
				t.Errorf("a control share on %s: %d, want 403", rt.Key(), r.Status)
			}
		}
	}
	e.Do("POST", "/api/v1/sessions/"+f.session+"/transfer", toks["scontrol"], map[string]string{"newOwnerUserId": "scontrol"}).Want(t, 403)
	e.Do("GET", "/api/v1/shared-sessions?userId=owner", toks["stranger"], nil).Want(t, 403)
}

// Defect 21: accepting an invitation took the acceptor's id from the body.
func TestRegressionDefect21_AcceptorIsTheCaller(t *testing.T) {
	e, toks := matrixEnv(t)
	s := create(t, e, toks["owner"], map[string]any{"templateName": "terminal"})
	var inv struct{ Token string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/invitations", toks["owner"], map[string]any{"permissionLevel": "view", "maxUses": 5}).Want(t, 201).Decode(t, &inv)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", toks["stranger"], map[string]string{"userId": "sview"}).Want(t, 400)
	e.Do("POST", "/api/v1/invitations/"+inv.Token+"/accept", toks["stranger"], nil).Want(t, 200)
	e.Do("GET", "/api/v1/sessions/"+s.ID, toks["stranger"], nil).Want(t, 200)
	e.Do("GET", "/api/v1/sessions/"+s.ID, toks["sview"], nil).Want(t, 404)
}

// Defect 22 (a race past maxUses) is TestInvitationMaxUsesUnderConcurrency: 50 racing accepts, exactly maxUses succeed.

// Defect 23: share and invitation lists exposed tokens to anyone.
func TestRegressionDefect23_NoTokensInLists(t *testing.T) {
	e, toks := matrixEnv(t)
	s := create(t, e, toks["owner"], map[string]any{"templateName": "terminal"})
	var inv struct{ Token string }
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/invitations", toks["owner"], map[string]any{"permissionLevel": "view"}).Want(t, 201).Decode(t, &inv)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", toks["owner"], map[string]string{"sharedWithUserId": "sview", "permissionLevel": "view"}).Want(t, 201)
	for _, path := range []string{"/invitations", "/shares"} {
		r := e.Do("GET", "/api/v1/sessions/"+s.ID+path, toks["owner"], nil).Want(t, 200)
		if strings.Contains(string(r.Body), inv.Token) || strings.Contains(string(r.Body), `"token"`) {
			t.Errorf("%s exposes a token: %s", path, r.Body)
		}
	}
	if !strings.Contains(string(e.Do("GET", "/api/v1/sessions/"+s.ID+"/invitations", toks["owner"], nil).Body), inv.Token[:6]) {
		t.Error("invitations lack the token prefix that identifies them")
	}
}

// Defect 24: permission levels were stored and shown but never enforced.
func TestRegressionDefect24_ShareLevelsEnforced(t *testing.T) {
	e, toks := matrixEnv(t)
	f := newFixture(t, e, toks, newTeamFixture(t, e, toks))
	p := "/api/v1/sessions/" + f.session
	cases := []struct {
		who                        string
		connect, heartbeat, change int
		level                      string
	}{
		{"sview", 200, 403, 403, "view"},
		{"scollab", 200, 200, 403, "collaborate"},
		{"scontrol", 200, 200, 200, "control"},
	}
	for _, c := range cases {
		var conn struct {
			PermissionLevel, URL string
		}
		e.Do("POST", p+"/connect", toks[c.who], nil).Want(t, c.connect).Decode(t, &conn)
		if conn.PermissionLevel != c.level || !strings.Contains(conn.URL, "#ticket=") {
			t.Errorf("%s connect: %+v", c.who, conn)
		}
		e.Do("POST", p+"/heartbeat", toks[c.who], nil).Want(t, c.heartbeat)
		e.Do("PATCH", p, toks[c.who], map[string]any{"idleTimeout": 700}).Want(t, c.change)
	}
}

// Defect 25: revoke and transfer answered success when nothing matched.
func TestRegressionDefect25_NothingMatchedIs404(t *testing.T) {
	e, toks := matrixEnv(t)
	s := create(t, e, toks["owner"], map[string]any{"templateName": "terminal"})
	e.Do("DELETE", "/api/v1/sessions/"+s.ID+"/shares/shr_01jd0000000000000000000000", toks["owner"], nil).Want(t, 404)
	e.Do("DELETE", "/api/v1/sessions/"+s.ID+"/shares/nope", toks["owner"], nil).Want(t, 404)
	e.Do("POST", "/api/v1/sessions/sess_01jd0000000000000000000000/transfer", toks["owner"], map[string]string{"newOwnerUserId": "sview"}).Want(t, 404)
	e.Do("DELETE", "/api/v1/invitations/"+strings.Repeat("A", 43), toks["owner"], nil).Want(t, 404)
	e.Do("POST", "/api/v1/invitations/"+strings.Repeat("A", 43)+"/accept", toks["owner"], nil).Want(t, 404)
	e.Do("DELETE", "/api/v1/sessions/"+s.ID+"/collaborators/sview", toks["owner"], nil).Want(t, 404)
}

// validBody is a well-formed body for each route that takes one, so that only access decides.
var validBody = func() map[string]any {
	out := map[string]any{}
	for k, r := range sessionRules {
		out[k] = r.body
	}
	for k, r := range teamRules {
		out[k] = r.body
	}
	return out
}()

package notifier

import (
	"slices"
	"strings"
	"testing"

	"streamspace/internal/auth"
	"streamspace/internal/connections"
	"streamspace/internal/events"
)

// The cast: olivia owns the session (team_1); tom is a team member whose role views team
// sessions, vic holds a share, eve is nobody, rex lost his share (the change concerns him),
// oscar is an operator and ada an admin. Each has one connection of their own ("<name>"); the
// watchers' subscriptions are listed per audience below.
var (
	own = func(user, role string) connections.Listener {
		return connections.Listener{ConnectionID: user, UserID: user, Role: role}
	}
	sub = func(conn, user, role string) connections.Listener {
		return connections.Listener{ConnectionID: conn, UserID: user, Role: role}
	}
	listeners = map[string][]connections.Listener{
		connections.UserAudience("olivia"): {own("olivia", auth.RoleUser),
			sub("oscar-watches-olivia", "oscar", auth.RoleOperator), sub("eve-watches-olivia", "eve", auth.RoleUser)},
		connections.UserAudience("tom"): {own("tom", auth.RoleUser)},
		connections.UserAudience("vic"): {own("vic", auth.RoleUser)},
		connections.UserAudience("eve"): {own("eve", auth.RoleUser)},
		connections.UserAudience("rex"): {own("rex", auth.RoleUser), sub("ada-watches-rex", "ada", auth.RoleAdmin)},
		connections.SessionAudience("sess_1"): {sub("ada-on-session", "ada", auth.RoleAdmin),
			sub("vic-on-session", "vic", auth.RoleUser), sub("eve-on-session", "eve", auth.RoleUser),
			sub("tom-on-session", "tom", auth.RoleUser)},
		connections.UserAudience("oscar"): {own("oscar", auth.RoleOperator)},
	}
)

func received(a audience) string {
	var ids []string
	for _, l := range a.pick(listeners) {
		ids = append(ids, l.ConnectionID)
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

func TestEventAudiences(t *testing.T) {
	session := func(extra ...string) Change {
		return Change{OwnerID: "olivia", TeamID: "team_1", Extra: extra,
			Event: events.Envelope{Type: events.SessionStateChanged, SessionID: "sess_1"}}
	}
	for _, c := range []struct {
		name             string
		ch               Change
		members, holders []string
		want             string
	}{
		{"session event: owner, team viewers, share holders, and operators watching the owner or the session",
			session(), []string{"tom"}, []string{"vic"},
			"ada-on-session olivia oscar-watches-olivia tom tom-on-session vic vic-on-session"},
		{"no team, no shares: the owner and the watchers who are operators",
			session(), nil, nil, "ada-on-session olivia oscar-watches-olivia"},
		{"unshared: the user who lost the share too, and those watching him",
			session("rex"), []string{"tom"}, nil, "ada-on-session ada-watches-rex olivia oscar-watches-olivia rex tom tom-on-session"},
		{"API-key event: the owner's own connections only",
			Change{OwnerID: "olivia", OwnerOnly: true}, nil, nil, "olivia"},
		{"membership event: every member and the user concerned, on their own connections",
			Change{TeamID: "team_1", TeamOnly: true, Extra: []string{"rex"}}, []string{"tom", "olivia"}, nil, "olivia rex tom"},
	} {
		if got := received(audienceOf(c.ch, c.members, c.holders)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// Each audience is read once per change, and only those the rule needs.
func TestAudienceKeys(t *testing.T) {
	a := audienceOf(Change{OwnerID: "olivia", TeamID: "team_1", Extra: []string{"tom"},
		Event: events.Envelope{SessionID: "sess_1"}}, []string{"tom"}, []string{"vic", "tom"})
	keys := a.keys()
	slices.Sort(keys)
	want := []string{"SESSION#sess_1", "USER#olivia", "USER#tom", "USER#vic"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if keys := audienceOf(Change{OwnerID: "olivia", OwnerOnly: true}, nil, nil).keys(); !slices.Equal(keys, []string{"USER#olivia"}) {
		t.Errorf("API-key event reads %v", keys)
	}
}

// A connection reached twice (its user is a viewer and subscribed to the session) gets the
// event once.
func TestEachConnectionOnce(t *testing.T) {
	ls := map[string][]connections.Listener{
		connections.UserAudience("vic"):       {own("vic", auth.RoleUser)},
		connections.SessionAudience("sess_1"): {own("vic", auth.RoleUser)},
	}
	a := audienceOf(Change{OwnerID: "olivia", Event: events.Envelope{SessionID: "sess_1"}}, nil, []string{"vic"})
	if got := a.pick(ls); len(got) != 1 {
		t.Errorf("%d deliveries to one connection", len(got))
	}
}

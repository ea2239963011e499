package notifier

import (
	"context"

	"streamspace/internal/auth"
	"streamspace/internal/connections"
)

// recipients resolves who receives a change, with indexed lookups only — O(recipients), never
// O(connections): the connections of every user who may see the session (owner, team members,
// active share holders), operators and admins watching the owner or subscribed to the session,
// and the Extra users the change concerns. The reads happen here; who gets what is audienceOf's.
func (n *Notifier) recipients(ctx context.Context, ch *Change) ([]connections.Listener, error) {
	var members, holders []string
	var err error
	fetched := &audiences{ls: map[string][]connections.Listener{}, err: map[string]error{}} // each queried once per change
	switch {
	case ch.OwnerOnly:
	case ch.TeamOnly:
		if members, err = n.Audience.TeamMembers(ctx, ch.TeamID, false); err != nil {
			return nil, err
		}
	default:
		if ch.OwnerID == "" { // share events carry only the session id
			owner, team, err := n.Audience.Session(ctx, ch.Event.SessionID)
			if err != nil {
				return nil, err
			}
			ch.OwnerID, ch.TeamID = owner, team
			ch.Event.UserID, ch.Event.TeamID = owner, team
		}
		// The owner's and the session's audiences are needed whoever else may see the session:
		// queried while the team and the share holders are, not after them (one round of
		// latency instead of three).
		done := fetched.prefetch(ctx, n, connections.UserAudience(ch.OwnerID), connections.SessionAudience(ch.Event.SessionID))
		defer done()
		if ch.TeamID != "" {
			if members, err = n.Audience.TeamMembers(ctx, ch.TeamID, true); err != nil {
				return nil, err
			}
		}
		if holders, err = n.Audience.ShareHolders(ctx, ch.Event.SessionID, n.now()); err != nil {
			return nil, err
		}
	}
	aud := audienceOf(*ch, members, holders)
	listeners := map[string][]connections.Listener{}
	for _, key := range aud.keys() {
		if listeners[key], err = fetched.get(ctx, n, key); err != nil {
			return nil, err
		}
	}
	return aud.pick(listeners), nil
}

// audience is who receives one change: users on the connections they opened for themselves,
// and the watchers of some audiences (operators, admins, session subscribers) who may see it.
type audience struct {
	own     []string        // users who receive it on their own connections
	watched []string        // audience keys whose listeners receive it if viewers or operators
	viewers map[string]bool // who may see the session
}

// audienceOf is the rule: API-key events go to the owner alone; membership events to the team's
// members (all of them, members) and the users concerned; session events to whoever may see
// the session — its owner, the team members whose role views team sessions (members), holders
// of active shares (holders) and the users concerned (Extra) — and to operators and admins
// watching the owner, a user concerned, or the session.
func audienceOf(ch Change, members, holders []string) audience {
	switch {
	case ch.OwnerOnly:
		return audience{own: []string{ch.OwnerID}}
	case ch.TeamOnly:
		return audience{own: append(append([]string(nil), members...), ch.Extra...)}
	}
	a := audience{viewers: map[string]bool{ch.OwnerID: true}}
	for _, group := range [][]string{members, holders, ch.Extra} {
		for _, u := range group {
			a.viewers[u] = true
		}
	}
	for u := range a.viewers {
		if u != "" {
			a.own = append(a.own, u)
		}
	}
	a.watched = []string{connections.UserAudience(ch.OwnerID), connections.SessionAudience(ch.Event.SessionID)}
	for _, u := range ch.Extra {
		a.watched = append(a.watched, connections.UserAudience(u))
	}
	return a
}

// keys lists the audiences to read, each once.
func (a audience) keys() []string {
	var out []string
	seen := map[string]bool{}
	for _, key := range append(userAudiences(a.own), a.watched...) {
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	return out
}

func userAudiences(users []string) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = connections.UserAudience(u)
	}
	return out
}

// pick selects the receiving connections from the listeners of each audience, each once.
func (a audience) pick(listeners map[string][]connections.Listener) []connections.Listener {
	seen := map[string]bool{}
	var out []connections.Listener
	for _, u := range a.own {
		for _, l := range listeners[connections.UserAudience(u)] {
			if l.UserID == u && !seen[l.ConnectionID] {
				seen[l.ConnectionID] = true
				out = append(out, l)
			}
		}
	}
	for _, key := range a.watched {
		for _, l := range listeners[key] {
			if seen[l.ConnectionID] {
				continue
			}
			if c := (auth.Caller{UserID: l.UserID, Role: l.Role}); a.viewers[l.UserID] || c.IsOperator() {
				seen[l.ConnectionID] = true
				out = append(out, l)
			}
		}
	}
	return out
}

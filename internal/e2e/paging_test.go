package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"streamspace/internal/testenv"
)

// pagedList is one list of TestEveryListIsPaged with the order its pages walk in.
type pagedList struct {
	name, path, token string
	key               string // the item field that identifies it
	want              int    // how many items the list holds
	descending        bool   // newest (largest ULID) first
}

// The contract's lists: {items, nextCursor}, ?limit= in range (else 400), ?cursor= opaque (a
// forged one, or one of another listing, is 400), and pages that walk the whole list once.
func TestEveryListIsPaged(t *testing.T) {
	e := testenv.Start(t)
	alice := e.Token("alice", "")
	const n = 5
	others := make([]string, n)
	for i := range others {
		others[i] = e.Token(fmt.Sprintf("user%d", i), "")
	}
	seen(t, e, append([]string{alice}, others...)...)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	sp := "/api/v1/sessions/" + s.ID
	e.Do("POST", sp+"/status", e.Token("admin", ""), map[string]any{"state": "running"}).Want(t, 200) // collaborators need a running desktop
	tm := newTeam(t, e, alice, "paged")
	for i, tok := range others {
		uid := fmt.Sprintf("user%d", i)
		e.Do("POST", sp+"/share", alice, map[string]string{"sharedWithUserId": uid, "permissionLevel": "view"}).Want(t, 201)
		openAsGateway(t, e, tok, s.ID) // a collaborator per user
		e.Do("POST", sp+"/invitations", alice, map[string]any{"permissionLevel": "view"}).Want(t, 201)
		e.Do("POST", sp+"/recordings", alice, map[string]any{"type": "log", "format": "txt"}).Want(t, 201)
		if i < n-1 { // with alice, the owner: n members
			e.Do("POST", "/api/v1/teams/"+tm.ID+"/members", alice, map[string]string{"userId": uid, "role": "viewer"}).Want(t, 201)
			newTeam(t, e, alice, fmt.Sprintf("paged-%d", i)) // with "paged": n teams
		}
	}
	lists := []pagedList{
		{name: "shares", path: sp + "/shares", token: alice, key: "id", want: n},
		{name: "invitations", path: sp + "/invitations", token: alice, key: "id", want: n, descending: true},
		{name: "collaborators", path: sp + "/collaborators", token: alice, key: "userId", want: n},
		{name: "recordings", path: sp + "/recordings", token: alice, key: "id", want: n},
		{name: "team members", path: "/api/v1/teams/" + tm.ID + "/members", token: alice, key: "userId", want: n},
		{name: "my teams", path: "/api/v1/teams/my-teams", token: alice, key: "id", want: n},
	}
	firstCursor := map[string]string{}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			for _, bad := range []string{"0", "101", "-1", "x"} {
				e.Do("GET", l.path+"?limit="+bad, l.token, nil).Want(t, 400)
			}
			for _, forged := range []string{"eyJQSyI6IngifQ", "not-a-cursor", "e30"} {
				e.Do("GET", l.path+"?cursor="+forged, l.token, nil).Want(t, 400)
			}
			var all []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatalf("more than %d pages of 2 for %d items: %v", n, n, all)
				}
				q := url.Values{"limit": {"2"}}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var page struct {
					Items      []map[string]any `json:"items"`
					NextCursor *string          `json:"nextCursor"`
				}
				e.Do("GET", l.path+"?"+q.Encode(), l.token, nil).Want(t, 200).Decode(t, &page)
				if page.NextCursor == nil || len(page.Items) > 2 {
					t.Fatalf("page %d: %d items, nextCursor %v", pages, len(page.Items), page.NextCursor)
				}
				for _, it := range page.Items {
					all = append(all, fmt.Sprint(it[l.key]))
				}
				if pages == 0 {
					firstCursor[l.name] = *page.NextCursor
				}
				if cursor = *page.NextCursor; cursor == "" {
					break
				}
			}
			sorted := slices.Sorted(slices.Values(all))
			if l.descending {
				slices.Reverse(sorted)
			}
			if len(all) != l.want || !slices.Equal(all, sorted) || len(slices.Compact(slices.Clone(sorted))) != l.want {
				t.Fatalf("walked %v: want %d distinct items in order (descending %v)", all, l.want, l.descending)
			}
			var whole struct{ Items []map[string]any }
			e.Do("GET", l.path+"?limit=100", l.token, nil).Want(t, 200).Decode(t, &whole)
			if len(whole.Items) != l.want {
				t.Fatalf("one page of 100 holds %d items, want %d", len(whole.Items), l.want)
			}
		})
	}
	// A cursor is bound to its listing: another list's is refused, never a 5xx or a wrong page.
	for _, l := range lists {
		for _, other := range lists {
			if c := firstCursor[other.name]; other.name != l.name && c != "" {
				e.Do("GET", l.path+"?cursor="+url.QueryEscape(c), l.token, nil).Want(t, 400)
			}
		}
	}
}

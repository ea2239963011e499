package access

import (
	"context"
	"fmt"
	"testing"
	"time"

	"streamspace/internal/auth"
)

// The expected grants are written out from the product brief, not computed with the code under
// test: a team role's level follows its strongest session permission (update → control,
// connect → collaborate, view → view), and only owner and admin roles manage and delete.
var teamExpect = map[string]struct {
	level          Level
	manage, delete bool
}{
	"":         {None, false, false},
	TeamOwner:  {Control, true, true},
	TeamAdmin:  {Control, true, true},
	TeamMember: {Collaborate, false, false},
	TeamViewer: {View, false, false},
	"bogus":    {None, false, false}, // a role the vocabulary does not know grants nothing
}

var platformRoles = []string{auth.RoleUser, auth.RoleOperator, auth.RoleAdmin}

var shareLevels = []Level{None, View, Collaborate, Control}

// Every platform role × relation to the session × team role × share level.
func TestDecisionMatrix(t *testing.T) {
	s := Subject{SessionID: "sess_1", OwnerID: "olivia", TeamID: "team_1"}
	for _, role := range platformRoles {
		for _, owner := range []bool{true, false} {
			for teamRole, te := range teamExpect {
				for _, share := range shareLevels {
					user := "sam"
					if owner {
						user = s.OwnerID
					}
					c := auth.Caller{UserID: user, Role: role}
					var want Grant
					switch {
					case owner:
						want = Grant{Level: Control, Manage: true, Delete: true, Owner: true, Via: "owner"}
					case role == auth.RoleAdmin:
						want = Grant{Level: Control, Manage: true, Delete: true, Via: "admin"}
					default:
						// The strongest source wins; on a tie the earlier of operator, team, share.
						want.Manage, want.Delete = te.manage, te.delete
						if role == auth.RoleOperator {
							want.Level, want.Via = View, "operator"
						}
						if te.level > want.Level {
							want.Level, want.Via = te.level, "team:"+teamRole
						}
						if share > want.Level {
							want.Level, want.Via = share, "share"
						}
					}
					name := fmt.Sprintf("%s/owner=%v/team=%q/share=%s", role, owner, teamRole, share)
					if got := Decision(c, s, teamRole, share); got != want {
						t.Errorf("%s: got %+v, want %+v", name, got, want)
					}
				}
			}
		}
	}
}

// Nobody without a user id gets anything, not even a session whose owner is unknown.
func TestDecisionAnonymous(t *testing.T) {
	for _, s := range []Subject{{SessionID: "sess_1"}, {SessionID: "sess_1", OwnerID: "olivia"}} {
		for _, role := range append(platformRoles, "") {
			if g := Decision(auth.Caller{Role: role}, s, TeamOwner, Control); g != (Grant{}) {
				t.Errorf("anonymous %q on %+v: %+v", role, s, g)
			}
		}
	}
}

// Decide skips the lookups for the anonymous, the owner and admins: that is only right if the
// team role and share cannot change their grant.
func TestShortcutNeedsNoLookups(t *testing.T) {
	s := Subject{SessionID: "sess_1", OwnerID: "olivia", TeamID: "team_1"}
	d := &Decider{} // no table: lookups find nothing
	for _, c := range []auth.Caller{{}, {UserID: "olivia", Role: auth.RoleUser}, {UserID: "ada", Role: auth.RoleAdmin}} {
		got, err := d.Decide(context.Background(), c, s)
		if err != nil {
			t.Fatal(err)
		}
		for teamRole := range teamExpect {
			for _, share := range shareLevels {
				if full := Decision(c, s, teamRole, share); full != got {
					t.Errorf("%+v with team %q share %s: %+v, but Decide answers %+v without looking", c, teamRole, share, full, got)
				}
			}
		}
	}
	// Everyone else is decided from the lookups (none here): an operator views, a user has nothing.
	for role, want := range map[string]Level{auth.RoleOperator: View, auth.RoleUser: None} {
		c := auth.Caller{UserID: "sam", Role: role}
		if g, err := d.Decide(context.Background(), c, s); err != nil || g.Level != want || g.Manage || g.Delete {
			t.Errorf("%+v: %+v, %v; want level %s only", c, g, err, want)
		}
	}
}

// A share grants its level until it expires, whether or not TTL has removed it yet.
func TestShareLevel(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		level     string
		expiresAt int64
		want      Level
	}{
		{"view", 0, View},
		{"collaborate", 0, Collaborate},
		{"control", 0, Control},
		{"control", now.Unix() + 1, Control},
		{"control", now.Unix(), None}, // expires at that second
		{"view", now.Unix() - 3600, None},
		{"owner", 0, None},
		{"", 0, None},
		{"VIEW", 0, None},
	} {
		if got := ShareLevel(c.level, c.expiresAt, now); got != c.want {
			t.Errorf("ShareLevel(%q, %d) = %s, want %s", c.level, c.expiresAt, got, c.want)
		}
	}
}

func TestLevels(t *testing.T) {
	if !(None < View && View < Collaborate && Collaborate < Control) {
		t.Fatal("levels are not ordered none < view < collaborate < control")
	}
	for _, l := range []Level{View, Collaborate, Control} {
		if got, ok := ParseLevel(l.String()); !ok || got != l {
			t.Errorf("ParseLevel(%q) = %s, %v", l.String(), got, ok)
		}
	}
	if _, ok := ParseLevel("none"); ok {
		t.Error(`"none" is accepted as a share level`)
	}
}

// The permission table, role by role, as the product brief lists it.
func TestTeamPermissions(t *testing.T) {
	want := map[string]string{
		// manage, members, create, view, update, delete, connect, quota view, quota manage
		TeamOwner:  "MMCVUDCQQ",
		TeamAdmin:  "-MCVUDCQ-",
		TeamMember: "--CV--CQ-",
		TeamViewer: "---V---Q-",
		"bogus":    "---------",
	}
	for role, row := range want {
		for i, perm := range AllTeamPermissions {
			if got, exp := RoleHas(role, perm), row[i] != '-'; got != exp {
				t.Errorf("RoleHas(%q, %q) = %v, want %v", role, perm, got, exp)
			}
		}
		if got := ValidTeamRole(role); got != (role != "bogus") {
			t.Errorf("ValidTeamRole(%q) = %v", role, got)
		}
		if got := TeamRoleViews(role); got != (row[3] == 'V') {
			t.Errorf("TeamRoleViews(%q) = %v", role, got)
		}
	}
	if len(AllTeamPermissions) != 9 || len(TeamRoles) != 4 {
		t.Errorf("vocabulary changed: %v, %v — update this table", AllTeamPermissions, TeamRoles)
	}
}

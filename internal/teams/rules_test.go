package teams

import (
	"strings"
	"testing"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/problem"
)

// Only team owners and platform admins touch owner memberships; any manager touches the rest.
func TestMayAssign(t *testing.T) {
	user := auth.Caller{UserID: "u", Role: auth.RoleUser}
	admin := auth.Caller{UserID: "a", Role: auth.RoleAdmin}
	operator := auth.Caller{UserID: "o", Role: auth.RoleOperator}
	for _, c := range []struct {
		c          auth.Caller
		callerRole string
		target     string
		ok         bool
	}{
		{user, access.TeamOwner, access.TeamOwner, true},
		{user, access.TeamAdmin, access.TeamOwner, false},
		{operator, access.TeamAdmin, access.TeamOwner, false},
		{admin, "", access.TeamOwner, true},
		{user, access.TeamAdmin, access.TeamAdmin, true},
		{user, access.TeamAdmin, access.TeamMember, true},
		{user, access.TeamAdmin, access.TeamViewer, true},
	} {
		err := mayAssign(c.c, c.callerRole, c.target)
		if p := problem.As(err); c.ok && err != nil || !c.ok && (p == nil || p.Status != 403) {
			t.Errorf("%s as team %q on a %s: %v", c.c.Role, c.callerRole, c.target, err)
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		v        string
		required bool
		ok       bool
	}{{"x", true, true}, {"", false, true}, {"  ", true, false}, {"", true, false},
		{strings.Repeat("x", 64), true, true}, {strings.Repeat("x", 65), false, false}} {
		err := checkText("name", c.v, 64, c.required)
		if p := problem.As(err); c.ok && err != nil || !c.ok && (p == nil || p.Errors[0].Field != "name") {
			t.Errorf("%q required=%v: %v", c.v, c.required, err)
		}
	}
}

// The quota item keeps headroom; the API shows usage = limit − headroom.
func TestQuotaView(t *testing.T) {
	v := view(Quota{MaxSessions: 10, SessionsLeft: 7, MaxCPUMillis: 8000, CPULeft: 6500, MaxMemoryMiB: 16384, MemoryLeft: 15360})
	if v.Usage.LiveSessions != 3 || v.Usage.CPUMillis != 1500 || v.Usage.MemoryMiB != 1024 || v.MaxSessions != 10 {
		t.Errorf("%+v", v)
	}
}

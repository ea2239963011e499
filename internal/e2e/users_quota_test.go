package e2e

import (
	"testing"
	"time"

	"streamspace/internal/local/stack"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

type userQuota struct {
	MaxSessions, MaxCPUMillis, MaxMemoryMiB int
	Usage                                   struct{ LiveSessions, CPUMillis, MemoryMiB int }
	AwaitingRoleGrant                       bool
}

func quotaOf(t *testing.T, e *testenv.Env, token string) userQuota {
	t.Helper()
	var q userQuota
	e.Do("GET", "/api/v1/users/me/quota", token, nil).Want(t, 200).Decode(t, &q)
	return q
}

// GET /users/me/quota: the installation's per-user limits and what the caller's live sessions
// use, moving with a launch and a termination; a team session counts against its creator too.
func TestUserQuota(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.Limits = sessions.Limits{MaxSessions: 3, MaxCPUMillis: 4000, MaxMemoryMiB: 8192}
	})
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	q := quotaOf(t, e, alice)
	if q.MaxSessions != 3 || q.MaxCPUMillis != 4000 || q.MaxMemoryMiB != 8192 || q.Usage.LiveSessions != 0 || q.AwaitingRoleGrant {
		t.Fatalf("a new user's quota %+v, want the configured limits and nothing used", q)
	}
	s := create(t, e, alice, map[string]any{"templateName": "terminal", "resources": map[string]string{"cpu": "500m", "memory": "1Gi"}})
	q = quotaOf(t, e, alice)
	if q.Usage.LiveSessions != 1 || q.Usage.CPUMillis != 500 || q.Usage.MemoryMiB != 1024 {
		t.Fatalf("after a launch: usage %+v, want 1 session, 500 millis, 1024 MiB", q.Usage)
	}
	if other := quotaOf(t, e, bob); other.Usage.LiveSessions != 0 {
		t.Fatalf("bob sees usage %+v: the answer is the caller's own", other.Usage)
	}
	e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200)
	waitUntil(t, 10*time.Second, "the quota released", func() bool { return quotaOf(t, e, alice).Usage.LiveSessions == 0 })
	if q := quotaOf(t, e, alice); q.Usage.CPUMillis != 0 || q.Usage.MemoryMiB != 0 {
		t.Fatalf("after termination: usage %+v, want nothing", q.Usage)
	}
}

// With REQUIRE_ROLE_GRANT (self sign-up), a user nobody granted a role sees a quota of zero
// sessions and why; after the grant, the configured limit. Operators and a role from the
// identity provider never wait.
func TestUserQuotaAwaitingRoleGrant(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) { c.RequireRoleGrant = true })
	newbie, grouped, admin := e.Token("newbie", ""), e.Token("grouped", "user"), e.Token("admin", "")
	seen(t, e, newbie)
	if q := quotaOf(t, e, newbie); !q.AwaitingRoleGrant || q.MaxSessions != 0 || q.MaxCPUMillis == 0 {
		t.Fatalf("before the grant: %+v, want awaitingRoleGrant, maxSessions 0 and the other limits", q)
	}
	if q := quotaOf(t, e, grouped); q.AwaitingRoleGrant || q.MaxSessions == 0 {
		t.Fatalf("a role from the identity provider: %+v, want no wait", q)
	}
	e.Do("PUT", "/api/v1/users/newbie/role", admin, map[string]string{"role": "user"}).Want(t, 200)
	if q := quotaOf(t, e, newbie); q.AwaitingRoleGrant || q.MaxSessions != sessions.DefaultLimits.MaxSessions {
		t.Fatalf("after the grant: %+v, want the configured limit", q)
	}
}

package e2e

import (
	"fmt"
	"testing"
	"time"

	"streamspace/internal/local/stack"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// The Launch screen's quota comes from GET /users/me/quota: a new account waiting for a role
// grant is told so before it tries; a full quota is said before a launch is refused, and clears
// without a reload when a session ends.
func TestConsoleLaunchQuota(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.RequireRoleGrant = true
		c.Limits = sessions.Limits{MaxSessions: 1, MaxCPUMillis: 16000, MaxMemoryMiB: 32768}
	})
	tok, admin := e.Token("alice", ""), e.Token("admin", "admin")
	seen(t, e, tok)
	newbie := consolePage(t, e, "newbie")
	newbie.visit("/launch")
	newbie.signIn("newbie", "user")
	newbie.wait("the role-grant notice", `document.body.innerText.includes("waits for an administrator to grant it a role")
		&& document.getElementById("g-sessions")?.max === 1 && document.querySelector(".quota")?.innerText.includes("0 of 0")`, 10*time.Second)
	newbie.audit("launch-awaiting-grant")

	e.Do("PUT", "/api/v1/users/alice/role", admin, map[string]string{"role": "user"}).Want(t, 200)
	s := create(t, e, tok, map[string]any{"templateName": "terminal"})
	alice := consolePage(t, e, "alice")
	alice.visit("/launch")
	alice.signIn("alice", "user")
	alice.wait("the full-quota notice", `document.body.innerText.includes("You are using all 1 of your sessions")
		&& !document.body.innerText.includes("waits for an administrator")`, 10*time.Second)
	e.Do("DELETE", "/api/v1/sessions/"+s.ID, tok, nil).Want(t, 200)
	alice.wait("the notice gone without a reload", fmt.Sprintf(`!document.body.innerText.includes("You are using all") && %s`,
		`document.querySelector(".quota")?.innerText.includes("0 of 1")`), 10*time.Second)
}

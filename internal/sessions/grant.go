package sessions

import (
	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/users"
)

// mayRunSessions refuses, when the installation requires it, a caller whose session quota is
// still zero because no administrator has granted them a role (SEC-05: with self sign-up on,
// anyone with an allowed e-mail address can register, and sessions cost the operator money). A
// role counts as granted when an admin set the stored role (PUT /users/{id}/role), when the
// identity provider says one (a group, managed by its admins), or for operators and admins.
func (sv *Service) mayRunSessions(c auth.Caller) error {
	if !users.AwaitsRoleGrant(sv.RequireRoleGrant, c) {
		return nil
	}
	p := problem.Forbidden("this account has a quota of zero sessions until an administrator grants it a role " +
		"(PUT /api/v1/users/{userId}/role)")
	p.Type = quotaExceededType
	return p
}

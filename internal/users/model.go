package users

import (
	"time"

	"streamspace/internal/auth"
)

// User is a platform user.
type User struct {
	ID        string    `json:"id" dynamodbav:"id"`
	Email     string    `json:"email,omitempty" dynamodbav:"email,omitempty"`
	Name      string    `json:"name,omitempty" dynamodbav:"name,omitempty"`
	Role      string    `json:"role" dynamodbav:"role"`
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"`
	// Version counts stored-role changes (optimistic lock; ETag). Records from before versions
	// existed have none and count as 1.
	Version int `json:"version" dynamodbav:"version,omitempty"`
	// RoleGrantedAt is when an administrator last set the stored role (PUT
	// /users/{id}/role); never set for a user only seen signing in. With REQUIRE_ROLE_GRANT,
	// a user without it (and without a role from the identity provider) runs no sessions.
	RoleGrantedAt *time.Time `json:"roleGrantedAt,omitempty" dynamodbav:"roleGrantedAt,omitempty"`
}

// Me is the answer of GET /users/me: the user, with how this request authenticated.
type Me struct {
	User
	AuthMethod string   `json:"authMethod"`
	KeyID      string   `json:"keyId,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
}

func authMethod(c auth.Caller) string {
	if c.ViaAPIKey() {
		return "apiKey"
	}
	return "token"
}

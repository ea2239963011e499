// Package auth defines who is calling (the Caller the authorizer produces and every function
// reads) and how credentials are verified.
package auth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Platform roles.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleUser     = "user"
)

// ValidRole reports whether r is a platform role.
func ValidRole(r string) bool { return r == RoleAdmin || r == RoleOperator || r == RoleUser }

// Caller is the authenticated principal of a request. It travels from the authorizer to the
// functions as API Gateway authorizer context, which only holds flat string values.
type Caller struct {
	UserID string
	Email  string
	Name   string
	Role   string
	// ExternalRole is the part of Role that does not come from the stored user (the identity
	// provider's claim, a bootstrap entry): what grants a long-lived stream must carry along to
	// re-check access later, when only the stored role can be read again.
	ExternalRole string
	// KeyID is set when the caller authenticated with an API key; Scopes then narrow what it may do.
	KeyID  string
	Scopes []string
	// RateLimit is the key's hourly request limit (0 for tokens).
	RateLimit int
	// RoleGranted: an administrator has set this user's stored role (users' roleGrantedAt), as
	// authentication read it; what REQUIRE_ROLE_GRANT asks of a plain user (SEC-05).
	RoleGranted bool
}

// IsAdmin and IsOperator describe the platform role; an admin is also an operator.
func (c Caller) IsAdmin() bool    { return c.Role == RoleAdmin }
func (c Caller) IsOperator() bool { return c.Role == RoleOperator || c.Role == RoleAdmin }

// ViaAPIKey reports whether the request was made with an API key.
func (c Caller) ViaAPIKey() bool { return c.KeyID != "" }

// HasScope is true for every scope when the caller used a token (tokens are not scoped).
func (c Caller) HasScope(scope string) bool {
	return !c.ViaAPIKey() || slices.Contains(c.Scopes, scope)
}

// Context keys of the authorizer context (the Lambda authorizer's "context" map).
const (
	ctxUserID  = "userId"
	ctxEmail   = "email"
	ctxName    = "name"
	ctxRole    = "role"
	ctxKeyID   = "keyId"
	ctxScopes  = "scopes"
	ctxLimit   = "rateLimit"
	ctxExtRole = "externalRole"
	ctxGranted = "roleGranted"
)

// AuthorizerContext flattens the caller for the authorizer response.
func (c Caller) AuthorizerContext() map[string]any {
	return map[string]any{
		ctxUserID: c.UserID, ctxEmail: c.Email, ctxName: c.Name, ctxRole: c.Role,
		ctxKeyID: c.KeyID, ctxScopes: strings.Join(c.Scopes, " "), ctxLimit: strconv.Itoa(c.RateLimit),
		ctxExtRole: c.ExternalRole, ctxGranted: strconv.FormatBool(c.RoleGranted),
	}
}

// FromAuthorizerContext rebuilds the caller from what API Gateway passes to the function.
func FromAuthorizerContext(m map[string]any) (Caller, error) {
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	}
	c := Caller{UserID: str(ctxUserID), Email: str(ctxEmail), Name: str(ctxName), Role: str(ctxRole), KeyID: str(ctxKeyID),
		ExternalRole: str(ctxExtRole)}
	if s := str(ctxScopes); s != "" {
		c.Scopes = strings.Fields(s)
	}
	c.RateLimit, _ = strconv.Atoi(str(ctxLimit))
	c.RoleGranted = str(ctxGranted) == "true"
	if c.UserID == "" || !ValidRole(c.Role) {
		return Caller{}, fmt.Errorf("authorizer context lacks a user or role")
	}
	return c, nil
}

type callerKey struct{}

// WithCaller stores the caller in ctx.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Actor is who made a change and from where: written onto changed items so that the activity
// log, derived from the table stream, can say who did what.
type Actor struct {
	UserID    string `json:"userId" dynamodbav:"userId"`
	KeyID     string `json:"keyId,omitempty" dynamodbav:"keyId,omitempty"`
	IP        string `json:"ip,omitempty" dynamodbav:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty" dynamodbav:"userAgent,omitempty"`
}

type actorKey struct{}

// WithActor stores the request's actor in ctx.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of the request ctx belongs to (nil outside requests).
func ActorFrom(ctx context.Context) *Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return &a
	}
	return nil
}

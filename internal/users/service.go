package users

import (
	"context"
	"errors"

	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
)

// Service holds the users rules; handlers translate HTTP to calls on it.
type Service struct {
	Store *Store
	// Limits and RequireRoleGrant are the per-user quota as the sessions area enforces it
	// (GET /users/me/quota shows it).
	Limits           Limits
	RequireRoleGrant bool
}

// Me is the caller as this request sees them: the stored user with the request's effective role.
func (sv *Service) Me(ctx context.Context, c auth.Caller) (Me, error) {
	u, err := sv.Store.Get(ctx, c.UserID)
	if errors.Is(err, ErrNotFound) { // users are recorded on first sight; tolerate a race with deletion
		u = User{ID: c.UserID, Email: c.Email, Name: c.Name, Version: 1}
	} else if err != nil {
		return Me{}, err
	}
	u.Role = c.Role // the effective role of this request (claims and bootstrap may raise it)
	return Me{User: u, AuthMethod: authMethod(c), KeyID: c.KeyID, Scopes: c.Scopes}, nil
}

// List is one page of every user, for admins.
func (sv *Service) List(ctx context.Context, c auth.Caller, q paging.Query) ([]User, string, error) {
	if !c.IsAdmin() {
		return nil, "", problem.Forbidden("listing users needs the admin role")
	}
	return sv.Store.List(ctx, q.Limit, q.Cursor)
}

// Get reads a user: oneself, or anyone for admins (others see 404).
func (sv *Service) Get(ctx context.Context, c auth.Caller, id string) (User, error) {
	if id != c.UserID && !c.IsAdmin() {
		return User{}, problem.NotFound("user")
	}
	u, err := sv.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return User{}, problem.NotFound("user")
	}
	return u, err
}

// SetRole stores the platform role an admin gives another user, on the version ifMatch names
// (nil: any).
func (sv *Service) SetRole(ctx context.Context, c auth.Caller, id, role string, ifMatch *int) (User, error) {
	if !c.IsAdmin() {
		return User{}, problem.Forbidden("changing roles needs the admin role")
	}
	if !auth.ValidRole(role) {
		return User{}, problem.Invalid("role", "must be user, operator or admin")
	}
	if id == c.UserID {
		return User{}, problem.Conflict("admins cannot change their own role (ask another admin)")
	}
	var u User
	err := ddb.RetryOnVersionConflict(ifMatch, "user", func() error {
		var err error
		// Consistent: a stale read would only lose the version race again.
		if u, err = sv.Store.get(ctx, id, true); errors.Is(err, ErrNotFound) {
			return problem.NotFound("user")
		} else if err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(ifMatch, "user", u.Version); err != nil {
			return err
		}
		if u.Role == role && u.RoleGrantedAt != nil {
			return nil // the same role again writes nothing; the first grant of "user" counts (SEC-05)
		}
		u, err = sv.Store.SetRole(ctx, u, role)
		return err
	})
	return u, err
}

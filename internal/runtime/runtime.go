// Package runtime makes sessions really run. A Reconciler reads session changes from the table
// stream, asks a Driver to start, hibernate, wake or terminate what runs, and reports what it
// observed through the same rules as POST /sessions/{id}/status. Drivers: ECS Fargate in AWS
// (package runtime/ecs), local processes on a developer's machine (package runtime/local).
package runtime

import (
	"context"
	"errors"

	"streamspace/internal/auth"
	"streamspace/internal/resources"
	"streamspace/internal/sessions"
)

// Driver runs sessions somewhere. Every method is idempotent for the same Spec: stream records
// are delivered at least once.
type Driver interface {
	// Start runs the session (first start or wake, with the same home). It returns running with
	// a URL when the session is ready, or no state while the platform is still starting it (a
	// task state event reports the rest). A *Failure means it cannot start; other errors are
	// retried.
	Start(ctx context.Context, spec Spec) (Observation, error)
	// Hibernate stops what runs and keeps the home: hibernated when done, no state while the
	// platform is still stopping it.
	Hibernate(ctx context.Context, spec Spec) (Observation, error)
	// Terminate removes everything of the session except a persistent home.
	Terminate(ctx context.Context, spec Spec) error
}

// Spec is what a driver needs to know about one session.
type Spec struct {
	SessionID      string
	OwnerID        string
	TemplateName   string
	Image          string // container image (ECS)
	Command        string // local command (local driver)
	Resources      resources.Resources
	PersistentHome bool
	// Secret is the VNC password the desktop's server must require (runtime's bookkeeping).
	Secret string
	// Handle is what the last start returned (an ECS task ARN), "" before the first.
	Handle string
	// Generation distinguishes one start from the next (idempotency tokens).
	Generation int
}

// Observation is what a driver saw after acting.
type Observation struct {
	State string // sessions.StateRunning or StateHibernated; "" while the platform still acts
	// Upstream is where the streaming gateway reaches the desktop's VNC server (internal).
	Upstream string
	Handle   string
	Usage    *sessions.Usage
}

// Failure is why a session cannot run, in words for the person who asked for it. Detail is the
// provider's own text (AWS error messages, stopped reasons: account ids, ARNs, subnets): logged
// for the operators, never shown to users (security review SEC-20).
type Failure struct{ Reason, Detail string }

func (f *Failure) Error() string { return f.Reason }

// Failed wraps a reason as a Failure.
func Failed(reason string) error { return &Failure{Reason: reason} }

// FailedDetail is a Failure with the provider's detail, for the log only.
func FailedDetail(reason, detail string) error { return &Failure{Reason: reason, Detail: detail} }

// AsFailure reports whether err is a Failure.
func AsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}

// Caller is the runtime's principal: the status-report route's rule (admins only) applies to it.
var Caller = auth.Caller{UserID: "system:runtime", Role: auth.RoleAdmin}

// WithActor marks the runtime's writes so the activity log names it.
func WithActor(ctx context.Context) context.Context {
	return auth.WithActor(ctx, auth.Actor{UserID: Caller.UserID})
}

// What the session runtime keeps on a session, and its one write path.

package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/problem"
	"streamspace/internal/templates"
	"streamspace/internal/tickets"
)

// Runtime actions: the last thing the runtime asked its driver to do for a session.
const (
	ActionStart     = "start"
	ActionHibernate = "hibernate"
	ActionTerminate = "terminate"
)

// Runtime is the runtime's bookkeeping on a session. It is never shown to clients (json:"-" on
// the session): the secrets open the session's screen, and Connect hands out the right one.
type Runtime struct {
	// Action is the last request made of the driver; a stream record whose wanted action equals
	// it is a redelivery or the echo of the runtime's own write, not new work.
	Action string `dynamodbav:"action,omitempty"`
	// Handle names what runs (an ECS task ARN, a local process group) so events can be matched.
	Handle string `dynamodbav:"handle,omitempty"`
	// Secret is the desktop's VNC password. Only the streaming gateway uses it, to authenticate
	// to the desktop on a viewer's behalf: it never leaves the platform (viewers hold tickets).
	Secret string `dynamodbav:"controlSecret,omitempty"`
	// Upstream is where the gateway reaches the desktop's VNC server: unix:/path/vnc.sock on the
	// local runtime, tcp:10.0.1.23:5900 for a task in the VPC. Internal, like the secret.
	Upstream string    `dynamodbav:"upstream,omitempty"`
	At       time.Time `dynamodbav:"at"`
}

// RuntimeUpdate is one write of the runtime: new bookkeeping and, optionally, an observation.
type RuntimeUpdate struct {
	Runtime Runtime
	Report  *StatusReport
	// Expect, when set, makes the write conditional on the session's runtime still having this
	// action and handle: an observer (a task event, a process that ended) must not overwrite
	// bookkeeping the reconciler changed since the observer read it.
	Expect *Runtime
}

// ErrRuntimeChanged says the session's runtime is no longer what RuntimeUpdate.Expect said: the
// observation is stale and was not written.
var ErrRuntimeChanged = errors.New("the session's runtime changed meanwhile")

// ApplyRuntime records the runtime's bookkeeping and what it observed, in one conditional write
// through the same rules as POST /sessions/{id}/status. Only an admin principal may call it.
func (sv *Service) ApplyRuntime(ctx context.Context, c auth.Caller, id string, up RuntimeUpdate) (Session, error) {
	if up.Report != nil {
		if err := up.Report.validate(); err != nil {
			return Session{}, err
		}
	}
	return sv.apply(ctx, c, id, change{required: access.View, what: "recording the runtime",
		mutate: func(old Session, next *Session, g access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if !c.IsAdmin() {
				return nil, nil, problem.Forbidden("only the session runtime records runtime state")
			}
			if e := up.Expect; e != nil && (old.Runtime == nil || old.Runtime.Action != e.Action || old.Runtime.Handle != e.Handle) {
				return nil, nil, ErrRuntimeChanged
			}
			rt := up.Runtime
			next.Runtime = &rt
			if up.Report == nil || up.Report.State == old.State && old.Final() {
				return nil, nil, nil
			}
			return sv.observe(ctx, old, next, *up.Report)
		}})
}

func (in StatusReport) validate() error {
	switch in.State {
	case StatePending, StateRunning, StateHibernated, StateTerminated, StateFailed:
	default:
		return problem.Invalid("state", "must be pending, running, hibernated, terminated or failed")
	}
	if len(in.URL) > 2048 {
		return problem.Invalid("url", "must be at most 2048 characters")
	}
	if len(in.Error) > 1024 {
		return problem.Invalid("error", "must be at most 1024 characters")
	}
	if in.State == StateFailed && in.Error == "" {
		return problem.Invalid("error", "a failed session needs a reason")
	}
	return nil
}

// observe applies an observation to next, with the quota it releases when the session ends and
// the recording its template asks for when it starts running.
func (sv *Service) observe(ctx context.Context, old Session, next *Session, in StatusReport) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
	if in.State != old.State && !CanTransition(old.State, in.State) {
		return nil, nil, problem.Conflict(fmt.Sprintf("a session cannot go from %s to %s", old.State, in.State))
	}
	var extra []types.TransactWriteItem
	if in.State == StateRunning && old.State != StateRunning && sv.Recorder != nil {
		rec, err := sv.policyRecording(ctx, old)
		if err != nil {
			return nil, nil, err
		}
		extra = rec
	}
	next.State, next.URL, next.Error = in.State, in.URL, in.Error
	if in.State == StateRunning && sv.GatewayURL != "" {
		// Viewers reach a desktop only through the gateway, whatever address the runtime knows.
		next.URL = tickets.ViewerURL(sv.GatewayURL, old.ID)
	}
	if in.Usage != nil {
		next.Usage = in.Usage
	}
	if in.State == StateTerminated {
		next.DesiredState = StateTerminated
	}
	if old.Live() && !next.Live() {
		return sv.release(old), extra, nil
	}
	return nil, extra, nil
}

// PolicyRecorder starts the gateway recording of a session whose template records every
// session (recordings.Policy; an interface because recordings builds on this package).
type PolicyRecorder interface {
	PolicyItem(sessionID string, now time.Time) (types.TransactWriteItem, error)
}

// policyRecording is the write that starts the template's recording, in the same transaction
// as the session's move to running: every run of such a session is recorded from its start,
// and a run is never recorded twice.
func (sv *Service) policyRecording(ctx context.Context, se Session) ([]types.TransactWriteItem, error) {
	tpl, err := sv.Templates.Get(ctx, se.TemplateName)
	if errors.Is(err, templates.ErrNotFound) || err == nil && !tpl.RecordSessions {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	item, err := sv.Recorder.PolicyItem(se.ID, sv.now())
	if err != nil {
		return nil, err
	}
	return []types.TransactWriteItem{item}, nil
}

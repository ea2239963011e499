package runtime

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"streamspace/internal/change"
	"streamspace/internal/sessions"
	"streamspace/internal/templates"
)

// Reconciler drives sessions towards their desired state, as a step of the stream processor.
// It is level-triggered: each stream record of a session makes it compare the session's current
// desired and observed state with the last action it took, so redeliveries, its own writes and
// reordered retries are harmless.
type Reconciler struct {
	Sessions  *sessions.Service
	Templates *templates.Store
	Driver    Driver
	Log       *slog.Logger
	Now       func() time.Time
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Apply is the runtime's work for one change: a session whose new image wants an action the
// runtime has not asked for yet is reconciled; every other change (most records, and the echo
// of the runtime's own writes) needs nothing.
func (r *Reconciler) Apply(ctx context.Context, d change.Diff) error {
	id := Needed(d)
	if id == "" {
		return nil
	}
	return r.Reconcile(WithActor(ctx), id)
}

// Needed is the session a change asks the runtime to act on ("" = none).
func Needed(d change.Diff) string {
	if d.Session == nil || d.Removed() || !needsWork(d.Session.New) {
		return ""
	}
	return d.Session.New.ID
}

// Wanted is the driver action that moves a session towards its desired state ("" = none).
func Wanted(se sessions.Session) string {
	switch {
	case se.State == sessions.StateTerminated:
		if se.Runtime != nil && se.Runtime.Action != "" { // something may still run: reap it
			return sessions.ActionTerminate
		}
	case se.State == sessions.StateFailed:
	case se.DesiredState == sessions.StateRunning && (se.State == sessions.StatePending || se.State == sessions.StateHibernated):
		return sessions.ActionStart
	case se.DesiredState == sessions.StateHibernated && se.State == sessions.StateRunning:
		return sessions.ActionHibernate
	}
	return ""
}

func needsWork(se sessions.Session) bool {
	w := Wanted(se)
	return w != "" && (se.Runtime == nil || se.Runtime.Action != w)
}

// Reconcile reads the session as it is now and takes the one action it needs, if any.
func (r *Reconciler) Reconcile(ctx context.Context, id string) error {
	se, err := r.Sessions.Store.Get(ctx, id)
	if errors.Is(err, sessions.ErrNotFound) {
		return nil
	}
	if err != nil || !needsWork(se) {
		return err
	}
	rt := sessions.Runtime{}
	if se.Runtime != nil {
		rt = *se.Runtime
	}
	if rt.Secret == "" && Wanted(se) == sessions.ActionStart {
		// The secret first, in its own write: a retried start then reuses it, and the echo of
		// this write is the record that starts the session.
		if rt.Secret, err = secret(); err != nil {
			return err
		}
		rt.At = r.now()
		_, err = r.Sessions.ApplyRuntime(ctx, Caller, id, sessions.RuntimeUpdate{Runtime: rt})
		return err
	}
	spec := specOf(se, rt)
	switch Wanted(se) {
	case sessions.ActionStart:
		return r.start(ctx, se, spec, rt)
	case sessions.ActionHibernate:
		obs, err := r.Driver.Hibernate(ctx, spec)
		if err != nil {
			return fmt.Errorf("hibernate %s: %w", se.ID, err)
		}
		rt.Action, rt.At = sessions.ActionHibernate, r.now()
		return r.record(ctx, se, rt, obs)
	case sessions.ActionTerminate:
		if err := r.Driver.Terminate(ctx, spec); err != nil {
			return fmt.Errorf("terminate %s: %w", se.ID, err)
		}
		rt.Action, rt.At = sessions.ActionTerminate, r.now()
		_, err := r.Sessions.ApplyRuntime(ctx, Caller, se.ID, sessions.RuntimeUpdate{Runtime: rt})
		return err
	}
	return nil
}

func specOf(se sessions.Session, rt sessions.Runtime) Spec {
	return Spec{SessionID: se.ID, OwnerID: se.OwnerID, TemplateName: se.TemplateName, Resources: se.Resources,
		PersistentHome: se.PersistentHome, Secret: rt.Secret,
		Handle: rt.Handle, Generation: se.Version}
}

func (r *Reconciler) start(ctx context.Context, se sessions.Session, spec Spec, rt sessions.Runtime) error {
	rt.Action, rt.At = sessions.ActionStart, r.now()
	fail := func(reason string, detail ...string) error {
		r.Log.WarnContext(ctx, "session cannot start", slog.String("sessionId", se.ID), slog.String("reason", reason),
			slog.String("detail", strings.Join(detail, " ")))
		_, err := r.Sessions.ApplyRuntime(ctx, Caller, se.ID, sessions.RuntimeUpdate{Runtime: rt,
			Report: &sessions.StatusReport{State: sessions.StateFailed, Error: reason}})
		return err
	}
	tmpl, err := r.Templates.Get(ctx, se.TemplateName)
	if errors.Is(err, templates.ErrNotFound) {
		return fail(fmt.Sprintf("the template %q no longer exists", se.TemplateName))
	}
	if err != nil {
		return err
	}
	spec.Image, spec.Command = tmpl.Image, tmpl.LocalCommand
	obs, err := r.Driver.Start(ctx, spec)
	if f, ok := AsFailure(err); ok {
		return fail(f.Reason, f.Detail)
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", se.ID, err)
	}
	return r.record(ctx, se, rt, obs)
}

// record writes the action taken and, when the driver already knows the outcome, the new state.
func (r *Reconciler) record(ctx context.Context, se sessions.Session, rt sessions.Runtime, obs Observation) error {
	if obs.Handle != "" {
		rt.Handle = obs.Handle
	}
	if obs.State == sessions.StateRunning {
		rt.Upstream = obs.Upstream
	}
	up := sessions.RuntimeUpdate{Runtime: rt}
	if obs.State != "" {
		up.Report = &sessions.StatusReport{State: obs.State, Usage: obs.Usage}
	}
	_, err := r.Sessions.ApplyRuntime(ctx, Caller, se.ID, up)
	return err
}

// secret is the desktop's VNC password: 8 URL-safe characters (48 random bits), because classic
// VNC authentication reads no more than 8. It is defence in depth only: the desktop's server is
// reachable by the streaming gateway alone, and no viewer ever sees this password.
func secret() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Observed applies what a driver noticed on its own (processes that ended, a task that stopped)
// when it concerns what runs now: reports about an earlier start (another handle) are stale.
func (r *Reconciler) Observed(ctx context.Context, id, handle string, rep sessions.StatusReport) error {
	ctx = WithActor(ctx)
	se, err := r.Sessions.Store.Get(ctx, id)
	if errors.Is(err, sessions.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	rt := se.Runtime
	if rt == nil || rt.Handle != handle || rt.Action != sessions.ActionStart || se.State == rep.State ||
		!sessions.CanTransition(se.State, rep.State) {
		return nil
	}
	_, err = r.Sessions.ApplyRuntime(ctx, Caller, id, sessions.RuntimeUpdate{Runtime: *rt, Report: &rep, Expect: rt})
	if errors.Is(err, sessions.ErrRuntimeChanged) {
		return nil // the reconciler acted meanwhile: this report is about what ran before
	}
	return err
}

// Resume starts again what should run but does not, e.g. after the local stack restarted: the
// sessions whose last action was a start and that still should run. Each failure is reported on
// its session; Resume returns how many it started.
func (r *Reconciler) Resume(ctx context.Context, ids []string) int {
	ctx = WithActor(ctx)
	n := 0
	for _, id := range ids {
		se, err := r.Sessions.Store.Get(ctx, id)
		if err != nil || se.Runtime == nil || se.Runtime.Action != sessions.ActionStart || se.DesiredState != sessions.StateRunning ||
			(se.State != sessions.StateRunning && se.State != sessions.StatePending) {
			continue
		}
		if err := r.start(ctx, se, specOf(se, *se.Runtime), *se.Runtime); err != nil {
			r.Log.ErrorContext(ctx, "resume session", slog.String("sessionId", id), slog.String("error", err.Error()))
			continue
		}
		n++
	}
	return n
}

// ReportUsage records what a running session uses (the same write as a status report that
// keeps the state and URL); reports about another start than the current one are dropped.
func (r *Reconciler) ReportUsage(ctx context.Context, id, handle string, u sessions.Usage) error {
	ctx = WithActor(ctx)
	se, err := r.Sessions.Store.Get(ctx, id)
	if errors.Is(err, sessions.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if se.Runtime == nil || se.Runtime.Handle != handle || se.State != sessions.StateRunning {
		return nil
	}
	_, err = r.Sessions.ApplyRuntime(ctx, Caller, id, sessions.RuntimeUpdate{Runtime: *se.Runtime,
		Report: &sessions.StatusReport{State: se.State, URL: se.URL, Usage: &u}, Expect: se.Runtime})
	if errors.Is(err, sessions.ErrRuntimeChanged) {
		return nil
	}
	return err
}

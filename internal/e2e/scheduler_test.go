package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"streamspace/internal/local/stack"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// Idle running sessions are marked idle (session.idle) and asked to hibernate; activity makes
// them active again (session.active); sessions past their maximum duration are terminated. The
// scheduler reads only the sessions due, through an index.
func TestSchedulerIdleAndLifetime(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) { c.AutoHibernate = true })
	alice, admin := e.Token("alice", ""), e.Token("admin", "")
	ws := e.MustDialWS(alice, nil)
	idle := create(t, e, alice, map[string]any{"templateName": "terminal", "idleTimeout": 60})
	busy := create(t, e, alice, map[string]any{"templateName": "terminal", "idleTimeout": 3600})
	old := create(t, e, alice, map[string]any{"templateName": "terminal", "maxSessionDuration": 300})
	for _, s := range []session{idle, busy, old} {
		e.Do("POST", "/api/v1/sessions/"+s.ID+"/status", admin, map[string]any{"state": "running", "url": "http://x"}).Want(t, 200)
	}
	ctx := context.Background()
	// Nothing is due yet.
	if sum, err := e.RunScheduler(ctx, time.Now()); err != nil || sum.Checked != 0 {
		t.Fatalf("early run: %+v, %v", sum, err)
	}
	// Two minutes later: the 60 s session is idle and asked to hibernate; the others are not.
	sum, err := e.RunScheduler(ctx, time.Now().Add(2*time.Minute))
	if err != nil || sum.Idled != 1 || sum.Hibernated != 1 || sum.Terminated != 0 {
		t.Fatalf("idle run: %+v, %v", sum, err)
	}
	ws.Expect("session.idle", idle.ID, wait)
	var got session
	e.Do("GET", "/api/v1/sessions/"+idle.ID, alice, nil).Want(t, 200).Decode(t, &got)
	if got.DesiredState != "hibernated" {
		t.Errorf("idle session desired %q, want hibernated", got.DesiredState)
	}
	// A heartbeat makes it active again.
	e.Do("POST", "/api/v1/sessions/"+idle.ID+"/heartbeat", alice, nil).Want(t, 200)
	ws.Expect("session.active", idle.ID, wait)
	// Six minutes later the 300 s session has reached its maximum duration.
	sum, err = e.RunScheduler(ctx, time.Now().Add(6*time.Minute))
	if err != nil || sum.Terminated != 1 {
		t.Fatalf("lifetime run: %+v, %v", sum, err)
	}
	ws.Expect("session.state.changed", old.ID, wait)
	e.Do("GET", "/api/v1/sessions/"+old.ID, alice, nil).Want(t, 200).Decode(t, &got)
	if got.State != "terminated" {
		t.Errorf("old session state %q", got.State)
	}
	e.Do("GET", "/api/v1/sessions/"+busy.ID, alice, nil).Want(t, 200).Decode(t, &got)
	if got.State != "running" || got.DesiredState != "running" {
		t.Errorf("busy session changed: %+v", got)
	}
}

// Regression 28, the other half: a session no runtime ever starts does not stay pending
// forever. Past its start deadline the scheduler fails it with a reason and frees its quota.
func TestSchedulerFailsSessionsThatNeverStart(t *testing.T) {
	e := testenv.Start(t, func(c *stack.Config) {
		c.Limits = sessions.Limits{MaxSessions: 1, MaxCPUMillis: 8000, MaxMemoryMiB: 8192}
	})
	alice := e.Token("alice", "") // no runtime in this stack: nothing will start the session
	ws := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	e.Do("POST", "/api/v1/sessions", alice, map[string]any{"templateName": "terminal"}).Want(t, 403)
	ctx := context.Background()
	if sum, err := e.RunScheduler(ctx, time.Now().Add(9*time.Minute)); err != nil || sum.Failed != 0 {
		t.Fatalf("before the deadline: %+v, %v", sum, err)
	}
	sum, err := e.RunScheduler(ctx, time.Now().Add(11*time.Minute))
	if err != nil || sum.Failed != 1 {
		t.Fatalf("after the deadline: %+v, %v", sum, err)
	}
	m := ws.Expect("session.error", s.ID, wait)
	if reason, _ := m.Data["error"].(string); !strings.Contains(reason, "did not start within 10m0s") {
		t.Fatalf("reason %q", reason)
	}
	var got session
	e.Do("GET", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200).Decode(t, &got)
	if got.State != "failed" {
		t.Fatalf("state %q, want failed", got.State)
	}
	// Its quota is free again.
	create(t, e, alice, map[string]any{"templateName": "terminal"})
}

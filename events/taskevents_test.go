package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"streamspace/internal/auth"
	"streamspace/internal/ids"
	"streamspace/internal/runtime"
	"streamspace/internal/runtime/ecs"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// staticIP stands in for the EC2 lookup of a task's public address.
type staticIP string

func (s staticIP) PublicIP(context.Context, string) (string, error) { return string(s), nil }

// TestTaskEventsSamples hands each recorded ECS task state change to the task-events handler
// for a session that waits on that task (the sample's startedBy rewritten to it), as
// events/README.md describes.
func TestTaskEventsSamples(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	owner := auth.Caller{UserID: sampleOwner, Role: auth.RoleUser}
	cases := []struct {
		file          string
		action, state string // the session before: last runtime action and observed state
		want, reason  string
		viewer        bool // running: the gateway's viewer page, the task's private address behind it
	}{
		{"taskevents-running.json", sessions.ActionStart, sessions.StatePending, sessions.StateRunning, "", true},
		{"taskevents-stopped-hibernated.json", sessions.ActionHibernate, sessions.StateRunning, sessions.StateHibernated, "", false},
		{"taskevents-stopped-cannot-pull.json", sessions.ActionStart, sessions.StatePending, sessions.StateFailed, "the session's image could not be downloaded", false},
		{"taskevents-stopped-exited.json", sessions.ActionStart, sessions.StateRunning, sessions.StateFailed, "the session's program ended (exit code 1)", false},
	}
	n := 0
	for _, s := range samples {
		if s.kind == kindCloudWatch {
			n++
		}
	}
	if n != len(cases) {
		t.Errorf("%d task event samples but %d cases here: give every sample an expectation", n, len(cases))
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			ev := load[events.CloudWatchEvent](t, c.file)
			if ev.Source != ecs.EventSource || ev.DetailType != ecs.EventDetailType {
				t.Fatalf("source %q detail-type %q", ev.Source, ev.DetailType)
			}
			var d ecs.TaskDetail
			if err := json.Unmarshal(ev.Detail, &d); err != nil {
				t.Fatal(err)
			}
			if !ids.Valid("sess", d.StartedBy) || !strings.Contains(d.TaskArn, ":task/") || len(ev.Resources) != 1 || ev.Resources[0] != d.TaskArn {
				t.Fatalf("startedBy %q task %q resources %v: want a session's task", d.StartedBy, d.TaskArn, ev.Resources)
			}
			se, _, err := env.App.Sessions().Create(ctx, owner, sessions.CreateInput{TemplateName: "firefox-browser"}, "")
			if err != nil {
				t.Fatal(err)
			}
			record := func(action string, rep *sessions.StatusReport) {
				t.Helper()
				if _, err := env.App.Sessions().ApplyRuntime(runtime.WithActor(ctx), runtime.Caller, se.ID, sessions.RuntimeUpdate{
					Runtime: sessions.Runtime{Action: action, Handle: d.TaskArn, Secret: "k3Jx9aQe"}, Report: rep}); err != nil {
					t.Fatal(err)
				}
			}
			record(sessions.ActionStart, nil)
			if c.state == sessions.StateRunning {
				record(sessions.ActionStart, &sessions.StatusReport{State: sessions.StateRunning, URL: "http://203.0.113.25:3000/"})
			}
			if c.action == sessions.ActionHibernate {
				desired := sessions.StateHibernated
				if _, err := env.App.Sessions().Patch(ctx, owner, se.ID, sessions.PatchInput{DesiredState: &desired}, nil); err != nil {
					t.Fatal(err)
				}
				record(sessions.ActionHibernate, nil)
			}
			ev.Detail = bytes.ReplaceAll(ev.Detail, []byte(d.StartedBy), []byte(se.ID))
			h := &ecs.TaskEvents{Sessions: env.App.Sessions(), Cluster: d.ClusterArn, Port: 3000, PublicIPs: staticIP("203.0.113.25"),
				Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if err := h.Handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
			got, err := env.App.SessionStore().Get(ctx, se.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantURL := ""
			if c.viewer {
				wantURL = env.GatewayURL + "/s/" + se.ID
				if got.Runtime == nil || !strings.HasPrefix(got.Runtime.Upstream, "tcp:10.") {
					t.Errorf("runtime %+v: want the task's private address as the gateway's upstream", got.Runtime)
				}
			}
			if got.State != c.want || !strings.HasPrefix(got.Error, c.reason) || got.URL != wantURL {
				t.Errorf("session %s %q at %q, want %s %q at %q", got.State, got.Error, got.URL, c.want, c.reason, wantURL)
			}
		})
	}
}

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

// gatewayURL is the streaming gateway's public base (the functions' GATEWAY_URL).
const gatewayURL = "https://d111111abcdef8.cloudfront.net/gateway"

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
		viewer        bool   // the session's url is then its viewer page on the gateway
		upstream      string // where the gateway reaches the desktop
	}{
		{"taskevents-running.json", sessions.ActionStart, sessions.StatePending, sessions.StateRunning, "", true, "tcp:10.80.3.47:5900"},
		{"taskevents-stopped-hibernated.json", sessions.ActionHibernate, sessions.StateRunning, sessions.StateHibernated, "", false, ""},
		{"taskevents-stopped-cannot-pull.json", sessions.ActionStart, sessions.StatePending, sessions.StateFailed, "the session's image could not be downloaded", false, ""},
		{"taskevents-stopped-exited.json", sessions.ActionStart, sessions.StateRunning, sessions.StateFailed, "the session's program ended (exit code 1)", false, ""},
	}
	n := 0
	for _, s := range samples {
		if s.kind == kindCloudWatch && s.function == "taskevents" {
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
				record(sessions.ActionStart, &sessions.StatusReport{State: sessions.StateRunning})
			}
			if c.action == sessions.ActionHibernate {
				desired := sessions.StateHibernated
				if _, err := env.App.Sessions().Patch(ctx, owner, se.ID, sessions.PatchInput{DesiredState: &desired}, nil); err != nil {
					t.Fatal(err)
				}
				record(sessions.ActionHibernate, nil)
			}
			ev.Detail = bytes.ReplaceAll(ev.Detail, []byte(d.StartedBy), []byte(se.ID))
			sv := env.App.Sessions()
			sv.GatewayURL = gatewayURL
			h := &ecs.TaskEvents{Sessions: sv, Cluster: d.ClusterArn, Port: ecs.DefaultPort, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if err := h.Handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
			got, err := env.App.SessionStore().Get(ctx, se.ID)
			if err != nil {
				t.Fatal(err)
			}
			url := ""
			if c.viewer {
				url = gatewayURL + "/s/" + se.ID
			}
			upstream := ""
			if got.Runtime != nil {
				upstream = got.Runtime.Upstream
			}
			if got.State != c.want || !strings.HasPrefix(got.Error, c.reason) || got.URL != url || (c.upstream != "" && upstream != c.upstream) {
				t.Errorf("session %s %q at %q (upstream %q), want %s %q at %q (upstream %q)", got.State, got.Error, got.URL, upstream,
					c.want, c.reason, url, c.upstream)
			}
		})
	}
}

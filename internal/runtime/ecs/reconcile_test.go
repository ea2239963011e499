package ecs

import (
	"io"
	"log/slog"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// The whole AWS path on the emulators: the reconciler starts a session's task through the ECS
// driver (moto), the task's RUNNING state comes back through the task-events handler, Connect
// hands out the password the task was given, hibernate stops the task, a wake runs a new one,
// terminate stops that.
func TestReconcilerDrivesSessionsOnECS(t *testing.T) {
	x := newHarness(t)
	x.h.PublicIPs = nil // the emulator gives tasks no public address: the URL uses the private one
	w := newWorld(t)
	x.h.Cluster = w.Cfg.Cluster
	rec := &runtime.Reconciler{Sessions: x.env.App.Sessions(), Templates: x.env.App.Templates(), Driver: w.driver(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := runtime.WithActor(x.ctx)
	reconcile := func(id string) sessions.Session {
		t.Helper()
		for range 2 { // the first pass of a start only writes the streaming secrets
			if err := rec.Reconcile(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		return x.get(id)
	}
	running := func(se sessions.Session) sessions.Session {
		t.Helper()
		task := w.describeTask(t, se.Runtime.Handle)
		d := TaskDetail{TaskArn: se.Runtime.Handle, ClusterArn: aws.ToString(task.ClusterArn), LastStatus: "RUNNING",
			DesiredStatus: "RUNNING", StartedBy: aws.ToString(task.StartedBy)}
		for _, a := range task.Attachments {
			att := Attachment{Type: aws.ToString(a.Type)}
			for _, kv := range a.Details {
				att.Details = append(att.Details, NameValue{aws.ToString(kv.Name), aws.ToString(kv.Value)})
			}
			d.Attachments = append(d.Attachments, att)
		}
		if err := x.h.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
		return x.get(se.ID)
	}

	created, _, err := x.env.App.Sessions().Create(x.ctx, alice, sessions.CreateInput{TemplateName: "firefox-browser"}, "")
	if err != nil {
		t.Fatal(err)
	}
	se := reconcile(created.ID)
	if se.State != sessions.StatePending || se.Runtime == nil || se.Runtime.Action != sessions.ActionStart || se.Runtime.Handle == "" {
		t.Fatalf("after the start: %s %+v, want pending with the task recorded", se.State, se.Runtime)
	}
	task := w.describeTask(t, se.Runtime.Handle)
	env := envMap(task.Overrides.ContainerOverrides[0].Environment)
	if aws.ToString(task.StartedBy) != se.ID || env["STREAMSPACE_VNC_PASSWORD"] != se.Runtime.Secret {
		t.Fatalf("task startedBy %s env %v: want the session and its secrets", aws.ToString(task.StartedBy), env)
	}
	first := se.Runtime.Handle

	ip := ""
	for _, a := range task.Attachments {
		for _, kv := range a.Details {
			if aws.ToString(kv.Name) == "privateIPv4Address" {
				ip = aws.ToString(kv.Value)
			}
		}
	}
	se = running(se)
	if se.State != sessions.StateRunning || ip == "" || se.URL != "http://"+ip+":3000/" {
		t.Fatalf("after RUNNING: %s %q, want running at http://%s:3000/", se.State, se.URL, ip)
	}
	conn, err := x.env.App.Sessions().Connect(x.ctx, alice, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := se.URL + "#password=" + url.QueryEscape(env["PASSWORD"]); conn.URL != want || !conn.Ready {
		t.Errorf("connect URL %q ready %v, want %q (the password the task was given)", conn.URL, conn.Ready, want)
	}

	x.desire(se.ID, sessions.StateHibernated)
	se = reconcile(se.ID)
	if se.State != sessions.StateHibernated || se.Runtime.Action != sessions.ActionHibernate {
		t.Fatalf("after hibernate: %s %+v", se.State, se.Runtime)
	}
	if st := w.describeTask(t, first); aws.ToString(st.DesiredStatus) != "STOPPED" {
		t.Errorf("the hibernated session's task is %s, want STOPPED", aws.ToString(st.DesiredStatus))
	}

	x.desire(se.ID, sessions.StateRunning)
	se = reconcile(se.ID)
	if se.Runtime.Handle == first || se.Runtime.Action != sessions.ActionStart {
		t.Fatalf("wake: %+v, want a new task", se.Runtime)
	}
	if se = running(se); se.State != sessions.StateRunning {
		t.Fatalf("woken session %s, want running", se.State)
	}

	if _, err := x.env.App.Sessions().Delete(x.ctx, alice, se.ID, nil); err != nil {
		t.Fatal(err)
	}
	se = reconcile(se.ID)
	if se.Runtime.Action != sessions.ActionTerminate {
		t.Errorf("after delete: action %s, want terminate", se.Runtime.Action)
	}
	if st := w.describeTask(t, se.Runtime.Handle); aws.ToString(st.DesiredStatus) != "STOPPED" || aws.ToString(st.StoppedReason) != reasonTerminate {
		t.Errorf("terminated session's task: %s %q", aws.ToString(st.DesiredStatus), aws.ToString(st.StoppedReason))
	}
}

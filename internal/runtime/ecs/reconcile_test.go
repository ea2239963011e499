package ecs

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"

	"streamspace/internal/access"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/tickets"
)

// The whole AWS path on the emulators: the reconciler starts a session's task through the ECS
// driver (moto), the task's RUNNING state comes back through the task-events handler, Connect
// hands out a ticket to the gateway's viewer page, hibernate stops the task, a wake runs a new
// one, terminate stops that. Every RunTask request is recorded: the session's VNC password is in
// none of them (nor in what ECS returns about the task), only in the environment file, which
// exists while a task may read it and is gone once the session hibernates or terminates.
func TestReconcilerDrivesSessionsOnECS(t *testing.T) {
	x := newHarness(t)
	w := newWorld(t)
	x.h.Cluster = w.Cfg.Cluster
	rec := &recordingECS{ECSAPI: w.ECS}
	driver := &Driver{Cfg: w.Cfg, ECS: rec, EFS: w.EFS, S3: w.S3}
	keys, err := tickets.NewKeySet("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := tickets.Static(keys)
	if err != nil {
		t.Fatal(err)
	}
	service := func() *sessions.Service {
		sv := gatewayed(x.env.App.Sessions())
		sv.Tickets = ring
		return sv
	}
	reconciler := &runtime.Reconciler{Sessions: service(), Templates: x.env.App.Templates(), Driver: driver,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := runtime.WithActor(x.ctx)
	reconcile := func(id string) sessions.Session {
		t.Helper()
		for range 2 { // the first pass of a start only writes the session's secret
			if err := reconciler.Reconcile(ctx, id); err != nil {
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
	// envFile says whether the session's environment file exists, and checks what it holds.
	envFile := func(se sessions.Session) bool {
		t.Helper()
		body, ok := w.envFileBody(t, se.ID)
		if ok && !strings.Contains(body, "STREAMSPACE_VNC_PASSWORD="+se.Runtime.Secret+"\n") {
			t.Errorf("environment file of %s: %q, want its VNC password", se.ID, body)
		}
		return ok
	}

	created, _, err := x.env.App.Sessions().Create(x.ctx, alice, sessions.CreateInput{TemplateName: "firefox-browser"}, "")
	if err != nil {
		t.Fatal(err)
	}
	se := reconcile(created.ID)
	if se.State != sessions.StatePending || se.Runtime == nil || se.Runtime.Action != sessions.ActionStart || se.Runtime.Handle == "" {
		t.Fatalf("after the start: %s %+v, want pending with the task recorded", se.State, se.Runtime)
	}
	secret := se.Runtime.Secret
	if len(secret) != 8 {
		t.Fatalf("VNC password %q, want 8 characters", secret)
	}
	task := w.describeTask(t, se.Runtime.Handle)
	if aws.ToString(task.StartedBy) != se.ID || !envFile(se) {
		t.Fatalf("task startedBy %s, environment file present %v: want the session's task and its file", aws.ToString(task.StartedBy), envFile(se))
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
	if se.State != sessions.StateRunning || ip == "" || se.URL != viewerURL(se.ID) || se.Runtime.Upstream != "tcp:"+ip+":5900" {
		t.Fatalf("after RUNNING: %s %q upstream %q, want running at %s, upstream tcp:%s:5900", se.State, se.URL, se.Runtime.Upstream,
			viewerURL(se.ID), ip)
	}
	if !envFile(se) {
		t.Error("the environment file is gone while the task runs")
	}
	conn, err := service().Connect(x.ctx, alice, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	ticket, ok := strings.CutPrefix(conn.URL, viewerURL(se.ID)+"#ticket=")
	if !ok || !conn.Ready || strings.Contains(conn.URL, secret) {
		t.Fatalf("connect URL %q ready %v, want the viewer page with a ticket and no password", conn.URL, conn.Ready)
	}
	claims, err := ring.Verify(ticket, time.Now())
	if err != nil || claims.SessionID != se.ID || claims.UserID != alice.UserID || claims.Level != access.Control.String() ||
		claims.ConnectionID != conn.ConnectionID {
		t.Errorf("ticket claims %+v (%v), want session %s, user %s, control, connection %s", claims, err, se.ID, alice.UserID, conn.ConnectionID)
	}

	x.desire(se.ID, sessions.StateHibernated)
	se = reconcile(se.ID)
	if se.State != sessions.StateHibernated || se.Runtime.Action != sessions.ActionHibernate {
		t.Fatalf("after hibernate: %s %+v", se.State, se.Runtime)
	}
	if st := w.describeTask(t, first); aws.ToString(st.DesiredStatus) != "STOPPED" {
		t.Errorf("the hibernated session's task is %s, want STOPPED", aws.ToString(st.DesiredStatus))
	}
	if envFile(se) {
		t.Error("the environment file outlives the hibernate")
	}

	x.desire(se.ID, sessions.StateRunning)
	se = reconcile(se.ID)
	if se.Runtime.Handle == first || se.Runtime.Action != sessions.ActionStart {
		t.Fatalf("wake: %+v, want a new task", se.Runtime)
	}
	if !envFile(se) {
		t.Error("wake: no environment file for the new task")
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
	if envFile(se) {
		t.Error("the environment file outlives the terminate")
	}

	// Two starts, two RunTask requests: neither holds the password, in any field.
	rec.mu.Lock()
	runs := append([]*awsecs.RunTaskInput(nil), rec.runs...)
	rec.mu.Unlock()
	if len(runs) != 2 {
		t.Errorf("%d RunTask requests, want 2 (start, wake)", len(runs))
	}
	for i, in := range runs {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("RunTask request %d holds the session's VNC password: %s", i+1, b)
		}
		if !strings.Contains(string(b), se.ID+".env") {
			t.Errorf("RunTask request %d names no environment file of the session: %s", i+1, b)
		}
	}
	// What ECS keeps and hands out about the tasks (DescribeTasks, and so every task state event).
	out, err := w.ECS.DescribeTasks(x.ctx, &awsecs.DescribeTasksInput{Cluster: aws.String(w.Cfg.Cluster), Tasks: []string{first, se.Runtime.Handle}})
	if err != nil || len(out.Tasks) != 2 {
		t.Fatalf("describe the session's tasks: %v %+v", err, out)
	}
	if b, _ := json.Marshal(out.Tasks); strings.Contains(string(b), secret) {
		t.Errorf("DescribeTasks shows the session's VNC password: %s", b)
	}
}

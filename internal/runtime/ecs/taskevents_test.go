package ecs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/auth"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// The recorded samples (events/taskevents-*.json) name this session and cluster.
const (
	sampleSession = "sess_01jd3k7q8m9n0p1r2s3t4v5w6x"
	sampleCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/streamspace-SessionCluster-Xk2vQ7pLm3Rt"
	sampleTask    = "arn:aws:ecs:us-east-1:123456789012:task/streamspace-SessionCluster-Xk2vQ7pLm3Rt/0f4e5c0ab8d94f1c9b2a7d3e6c1f8a90"
	otherTask     = "arn:aws:ecs:us-east-1:123456789012:task/streamspace-SessionCluster-Xk2vQ7pLm3Rt/99999999999999999999999999999999"
	// samplePrivate is the task's address in the RUNNING sample: where the gateway reaches it.
	samplePrivate = "10.80.3.47"
	// testGateway is the gateway's public base (GATEWAY_URL), as the stack's CloudFront gives it.
	testGateway = "https://d111111abcdef8.cloudfront.net/gateway"
)

// sample reads a recorded event with its session rewritten to id.
func sample(t *testing.T, file, id string) lambdaevents.CloudWatchEvent {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "events", file))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(sampleSession)) {
		t.Fatalf("%s does not name %s", file, sampleSession)
	}
	raw = bytes.ReplaceAll(raw, []byte(sampleSession), []byte(id))
	var ev lambdaevents.CloudWatchEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// taskOf is the task a sample is about.
func taskOf(t *testing.T, ev lambdaevents.CloudWatchEvent) string {
	var d TaskDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	return d.TaskArn
}

type harness struct {
	t   *testing.T
	env *testenv.Env
	h   *TaskEvents
	ctx context.Context
}

func newHarness(t *testing.T) *harness {
	env := testenv.Start(t)
	h := &TaskEvents{Sessions: gatewayed(env.App.Sessions()), Cluster: sampleCluster, Port: DefaultPort}
	return &harness{t: t, env: env, h: h, ctx: testCtx(t)}
}

// gatewayed is the sessions service as the functions of a deployed stack have it: with the
// gateway's base (GATEWAY_URL), so a running session's url is its viewer page.
func gatewayed(sv *sessions.Service) *sessions.Service {
	sv.GatewayURL = testGateway
	return sv
}

// viewerURL is a session's public url on the test gateway.
func viewerURL(id string) string { return testGateway + "/s/" + id }

var alice = auth.Caller{UserID: "alice", Role: auth.RoleUser}

// session creates a session and records what the reconciler would have: the action asked of the
// driver and the task it started.
func (x *harness) session(action, handle string) sessions.Session {
	x.t.Helper()
	se, _, err := x.env.App.Sessions().Create(x.ctx, alice, sessions.CreateInput{TemplateName: "firefox-browser"}, "")
	if err != nil {
		x.t.Fatal(err)
	}
	x.record(se.ID, action, handle, nil)
	return x.get(se.ID)
}

func (x *harness) record(id, action, handle string, rep *sessions.StatusReport) {
	x.t.Helper()
	rt := sessions.Runtime{Action: action, Handle: handle, Secret: "k3Jx9aQe"}
	if _, err := x.env.App.Sessions().ApplyRuntime(runtime.WithActor(x.ctx), runtime.Caller, id, sessions.RuntimeUpdate{Runtime: rt, Report: rep}); err != nil {
		x.t.Fatal(err)
	}
}

func (x *harness) get(id string) sessions.Session {
	x.t.Helper()
	se, err := x.env.App.SessionStore().Get(x.ctx, id)
	if err != nil {
		x.t.Fatal(err)
	}
	return se
}

func (x *harness) desire(id, state string) {
	x.t.Helper()
	if _, err := x.env.App.Sessions().Patch(x.ctx, alice, id, sessions.PatchInput{DesiredState: &state}, nil); err != nil {
		x.t.Fatal(err)
	}
}

func (x *harness) deliver(file, id string) error {
	return x.h.Handle(x.ctx, sample(x.t, file, id))
}

// A session's task: RUNNING makes it running, its url the gateway's viewer page and its upstream
// the task's private address on the VNC port; redelivery changes nothing; after a hibernate,
// STOPPED makes it hibernated; a late RUNNING of the same task does not bring it back.
func TestTaskEventsRunAndHibernate(t *testing.T) {
	x := newHarness(t)
	se := x.session(sessions.ActionStart, sampleTask)
	if err := x.deliver("taskevents-running.json", se.ID); err != nil {
		t.Fatal(err)
	}
	got := x.get(se.ID)
	if got.State != sessions.StateRunning || got.URL != viewerURL(se.ID) || got.Runtime.Upstream != "tcp:"+samplePrivate+":5900" {
		t.Fatalf("after RUNNING: %s %q upstream %q, want running at %s, upstream tcp:%s:5900", got.State, got.URL, got.Runtime.Upstream,
			viewerURL(se.ID), samplePrivate)
	}
	if err := x.deliver("taskevents-running.json", se.ID); err != nil {
		t.Fatal(err)
	}
	if again := x.get(se.ID); again.Version != got.Version {
		t.Errorf("a redelivered RUNNING wrote the session (version %d → %d)", got.Version, again.Version)
	}

	x.desire(se.ID, sessions.StateHibernated)
	x.record(se.ID, sessions.ActionHibernate, sampleTask, nil) // the reconciler stopped the task
	if err := x.deliver("taskevents-stopped-hibernated.json", se.ID); err != nil {
		t.Fatal(err)
	}
	got = x.get(se.ID)
	if got.State != sessions.StateHibernated || got.URL != "" || got.Error != "" {
		t.Fatalf("after STOPPED: %s %q %q, want hibernated without URL", got.State, got.URL, got.Error)
	}
	for _, f := range []string{"taskevents-running.json", "taskevents-stopped-hibernated.json"} {
		if err := x.deliver(f, se.ID); err != nil {
			t.Fatalf("%s late: %v", f, err)
		}
		if late := x.get(se.ID); late.State != sessions.StateHibernated || late.Version != got.Version {
			t.Errorf("%s delivered late: %s (version %d → %d), want hibernated unchanged", f, late.State, got.Version, late.Version)
		}
	}
}

// A task that stops while the session waits for it (or runs on it) fails the session with the
// reason in words.
func TestTaskEventsFailures(t *testing.T) {
	x := newHarness(t)
	cases := []struct {
		file    string
		running bool // the session had been reported running first
		want    string
	}{
		{"taskevents-stopped-cannot-pull.json", false, "the session's image could not be downloaded: it may not exist, or its registry refused the download"},
		{"taskevents-stopped-exited.json", true, "the session's program ended (exit code 1)"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			task := taskOf(t, sample(t, c.file, sampleSession))
			se := x.session(sessions.ActionStart, task)
			if c.running {
				x.record(se.ID, sessions.ActionStart, task, &sessions.StatusReport{State: sessions.StateRunning, URL: "http://10.80.5.119:3000/"})
			}
			if err := x.deliver(c.file, se.ID); err != nil {
				t.Fatal(err)
			}
			got := x.get(se.ID)
			if got.State != sessions.StateFailed || got.Error != c.want { // ECS's own words only in the log (SEC-20)
				t.Errorf("session %s %q, want failed with %q", got.State, got.Error, c.want)
			}
			if err := x.deliver(c.file, se.ID); err != nil || x.get(se.ID).Version != got.Version {
				t.Errorf("redelivered: %v, version %d → %d; want nothing written", err, got.Version, x.get(se.ID).Version)
			}
		})
	}
}

// Events that are not about the session's current task change nothing.
func TestTaskEventsIgnoreWhatIsNotCurrent(t *testing.T) {
	x := newHarness(t)

	// The task of an earlier start (a wake has started another one since).
	se := x.session(sessions.ActionStart, otherTask)
	x.record(se.ID, sessions.ActionStart, otherTask, &sessions.StatusReport{State: sessions.StateRunning, URL: "http://198.51.100.7:3000/"})
	before := x.get(se.ID)
	for _, f := range []string{"taskevents-stopped-exited.json", "taskevents-stopped-hibernated.json", "taskevents-running.json"} {
		if err := x.deliver(f, se.ID); err != nil {
			t.Errorf("%s of a stale task: %v", f, err)
		}
	}
	if after := x.get(se.ID); after.Version != before.Version || after.State != sessions.StateRunning {
		t.Errorf("stale task events changed the session: %s version %d → %d", after.State, before.Version, after.Version)
	}

	// A terminated session's task stopping.
	term := x.session(sessions.ActionStart, sampleTask)
	if _, err := x.env.App.Sessions().Delete(x.ctx, alice, term.ID, nil); err != nil {
		t.Fatal(err)
	}
	x.record(term.ID, sessions.ActionTerminate, sampleTask, nil)
	before = x.get(term.ID)
	if err := x.deliver("taskevents-stopped-hibernated.json", term.ID); err != nil {
		t.Fatal(err)
	}
	if after := x.get(term.ID); after.Version != before.Version || after.State != sessions.StateTerminated {
		t.Errorf("STOPPED after terminate: %s version %d → %d, want terminated unchanged", after.State, before.Version, after.Version)
	}

	// Another cluster, a task no session started, a session that does not exist.
	before = x.get(se.ID)
	ev := sample(t, "taskevents-running.json", se.ID)
	ev.Detail = bytes.ReplaceAll(ev.Detail, []byte(sampleCluster), []byte("arn:aws:ecs:us-east-1:123456789012:cluster/other"))
	if err := x.h.Handle(x.ctx, ev); err != nil {
		t.Errorf("another cluster: %v", err)
	}
	ev = sample(t, "taskevents-running.json", "ecs-svc/1234567890")
	if err := x.h.Handle(x.ctx, ev); err != nil {
		t.Errorf("not a session task: %v", err)
	}
	if err := x.deliver("taskevents-running.json", "sess_01jd0000000000000000000000"); err != nil {
		t.Errorf("unknown session: %v", err)
	}
	if after := x.get(se.ID); after.Version != before.Version {
		t.Errorf("foreign events changed the session (version %d → %d)", before.Version, after.Version)
	}
}

// The runtime stopped the task to hibernate, but its write of that is still to come (it failed
// and is retried): the STOPPED event must not fail the session.
func TestTaskEventsOwnStopBeforeItIsRecorded(t *testing.T) {
	x := newHarness(t)
	se := x.session(sessions.ActionStart, sampleTask)
	x.record(se.ID, sessions.ActionStart, sampleTask, &sessions.StatusReport{State: sessions.StateRunning, URL: "http://10.80.3.47:3000/"})
	x.desire(se.ID, sessions.StateHibernated)
	if err := x.deliver("taskevents-stopped-hibernated.json", se.ID); err != nil {
		t.Fatal(err)
	}
	if got := x.get(se.ID); got.State != sessions.StateHibernated || got.Error != "" {
		t.Errorf("session %s %q, want hibernated", got.State, got.Error)
	}
}

// A RUNNING task the session has not recorded yet (the runtime's write is still to come) is
// retried, not dropped: otherwise the session would wait forever.
func TestTaskEventsRetryAStartNotRecordedYet(t *testing.T) {
	x := newHarness(t)
	se := x.session(sessions.ActionStart, "") // RunTask answered, its handle not written yet
	var logs bytes.Buffer
	x.h.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	err := x.deliver("taskevents-running.json", se.ID)
	if !errors.Is(err, ErrNotRecordedYet) {
		t.Fatalf("error %v, want ErrNotRecordedYet", err)
	}
	// The stack's TaskEventsRetriesMetricFilter matches this exact message, so the errors alarm
	// does not count the expected retry (deploy finding 10).
	if !strings.Contains(logs.String(), `"msg":"`+TaskEventRetryMessage+`"`) {
		t.Errorf("the retry was not logged as %q:\n%s", TaskEventRetryMessage, logs.String())
	}
	x.record(se.ID, sessions.ActionStart, sampleTask, nil) // the runtime catches up
	if err := x.deliver("taskevents-running.json", se.ID); err != nil {
		t.Fatal(err)
	}
	if got := x.get(se.ID); got.State != sessions.StateRunning {
		t.Errorf("after the retry: %s, want running", got.State)
	}
}

// The gateway reaches the task on the private address of the event, whatever public address the
// task may have: no lookup, and the session's url never names the task.
func TestTaskEventsUpstreamIsThePrivateAddress(t *testing.T) {
	x := newHarness(t)
	se := x.session(sessions.ActionStart, sampleTask)
	if err := x.deliver("taskevents-running.json", se.ID); err != nil {
		t.Fatal(err)
	}
	got := x.get(se.ID)
	if got.Runtime.Upstream != "tcp:"+samplePrivate+":5900" || got.URL != viewerURL(se.ID) || strings.Contains(got.URL, samplePrivate) {
		t.Errorf("upstream %q url %q, want tcp:%s:5900 and the viewer page %s", got.Runtime.Upstream, got.URL, samplePrivate, viewerURL(se.ID))
	}
	// An event without the task's address cannot be recorded: it is retried, not stored empty.
	other := x.session(sessions.ActionStart, sampleTask)
	ev := sample(t, "taskevents-running.json", other.ID)
	ev.Detail = []byte(strings.ReplaceAll(string(ev.Detail), samplePrivate, ""))
	if err := x.h.Handle(x.ctx, ev); err == nil {
		t.Error("RUNNING without a private address: no error, want one (Lambda retries)")
	}
}

// StoppedReason words every stop a person may meet.
func TestStoppedReasons(t *testing.T) {
	exit := func(n int) *int { return &n }
	type ctr = Container
	cases := []struct {
		detail TaskDetail
		want   string
	}{
		{TaskDetail{StopCode: "TaskFailedToStart", StoppedReason: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: mount.nfs4: access denied"},
			"the session's home folder could not be attached"},
		{TaskDetail{StopCode: "TaskFailedToStart", StoppedReason: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed"},
			"the session's task could not be prepared"},
		{TaskDetail{StopCode: "EssentialContainerExited", StoppedReason: "Essential container in task exited",
			Containers: []ctr{{Name: "session", Reason: "OutOfMemoryError: Container killed due to memory usage", ExitCode: exit(137)}}},
			"the session ran out of memory"},
		{TaskDetail{StopCode: "TaskFailedToStart", StoppedReason: "CannotStartContainerError: Error response from daemon: failed to create shim task"},
			"the session's program could not be started"},
		{TaskDetail{StopCode: "UserInitiated", StoppedReason: "Task stopped by an administrator"},
			"the session's task was stopped outside StreamSpace"},
		{TaskDetail{StopCode: "SpotInterruption"}, "AWS reclaimed the capacity"},
		{TaskDetail{StopCode: "TaskFailedToStart", StoppedReason: "Timeout waiting for network interface provisioning to complete."},
			"the session could not start"},
		{TaskDetail{StoppedReason: strings.Repeat("x", 2000)}, "the session stopped unexpectedly"},
		{TaskDetail{StopCode: "TaskFailedToStart", StoppedReason: "CannotPullContainerError: pull image manifest has been retried 5 time(s): " +
			"failed to resolve ref 123456789012.dkr.ecr.eu-west-1.amazonaws.com/private/repo:latest: not found"},
			"the session's image could not be downloaded"},
	}
	for _, c := range cases {
		got := StoppedReason(c.detail)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s / %.60s: %q, want it to start with %q", c.detail.StopCode, c.detail.StoppedReason, got, c.want)
		}
		// SEC-20: ECS's own words (account ids, ARNs, repositories, file systems) stay in the log.
		if r := c.detail.StoppedReason; r != "" && strings.Contains(got, r[:min(len(r), 16)]) || strings.Contains(got, "123456789012") {
			t.Errorf("%q quotes ECS", got)
		}
		if d := StoppedDetail(c.detail); c.detail.StoppedReason != "" && !strings.Contains(d, c.detail.StoppedReason[:20]) {
			t.Errorf("the log's detail %q lacks ECS's reason", d)
		}
		if len(got) > 1024 {
			t.Errorf("reason of %d characters; a session error holds 1024", len(got))
		}
	}
}

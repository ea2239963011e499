package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"streamspace/internal/ids"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// The EventBridge event this handler reads (docs: "Amazon ECS task state change events").
const (
	EventSource     = "aws.ecs"
	EventDetailType = "ECS Task State Change"
)

// TaskDetail is the part of an ECS task state change's detail the handler reads (the detail is
// the Task of DescribeTasks, with ISO timestamps).
type TaskDetail struct {
	TaskArn       string       `json:"taskArn"`
	ClusterArn    string       `json:"clusterArn"`
	LastStatus    string       `json:"lastStatus"`
	DesiredStatus string       `json:"desiredStatus"`
	StartedBy     string       `json:"startedBy"`
	StopCode      string       `json:"stopCode"`
	StoppedReason string       `json:"stoppedReason"`
	Version       int64        `json:"version"`
	Attachments   []Attachment `json:"attachments"`
	Containers    []Container  `json:"containers"`
}

// Attachment is a task's network interface ("eni") with its details (subnetId,
// networkInterfaceId, privateIPv4Address…).
type Attachment struct {
	Type    string      `json:"type"`
	Status  string      `json:"status"`
	Details []NameValue `json:"details"`
}

// NameValue is one detail of an attachment.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Container is a task's container as the event shows it.
type Container struct {
	Name       string `json:"name"`
	Image      string `json:"image"`
	LastStatus string `json:"lastStatus"`
	Reason     string `json:"reason"`
	ExitCode   *int   `json:"exitCode"`
}

// eni returns a detail of the task's network interface attachment (privateIPv4Address).
func (t TaskDetail) eni(name string) string {
	for _, a := range t.Attachments {
		if a.Type != "eni" && a.Type != "ElasticNetworkInterface" {
			continue
		}
		for _, d := range a.Details {
			if d.Name == name {
				return d.Value
			}
		}
	}
	return ""
}

// TaskEvents records ECS task state changes of session tasks as observed session states, the
// way POST /sessions/{id}/status does (sessions.Service.ApplyRuntime as runtime.Caller).
type TaskEvents struct {
	Sessions *sessions.Service
	// Cluster is the session cluster's ARN: events of other clusters are ignored ("" = any).
	Cluster string
	// Port is where the gateway reaches the task's VNC server.
	Port int
	Log  *slog.Logger
}

// ErrNotRecordedYet is returned for a running task of a session that is waiting for a start
// but has not recorded this task as its handle yet (the runtime's write is still to come): the
// event is retried (Lambda's asynchronous retries) rather than lost.
var ErrNotRecordedYet = errors.New("the session has not recorded this task yet")

// TaskEventRetryMessage is the log message of an ErrNotRecordedYet retry (the stack's metric
// filter counts these lines so that the errors alarm ignores them).
const TaskEventRetryMessage = "task event retried: not recorded yet"

// Handle is the Lambda handler. Events that concern no current session task are ignored, so
// redelivered, stale and out-of-order events are harmless.
func (h *TaskEvents) Handle(ctx context.Context, ev lambdaevents.CloudWatchEvent) error {
	if ev.Source != EventSource || ev.DetailType != EventDetailType {
		h.log().WarnContext(ctx, "not an ECS task state change", slog.String("source", ev.Source), slog.String("detailType", ev.DetailType))
		return nil
	}
	var t TaskDetail
	if err := json.Unmarshal(ev.Detail, &t); err != nil {
		return fmt.Errorf("task state change detail: %w", err)
	}
	return h.Apply(runtime.WithActor(ctx), t)
}

// Apply records one task state.
func (h *TaskEvents) Apply(ctx context.Context, t TaskDetail) error {
	log := h.log().With(slog.String("task", t.TaskArn), slog.String("lastStatus", t.LastStatus),
		slog.String("sessionId", t.StartedBy), slog.Int64("version", t.Version))
	if (h.Cluster != "" && t.ClusterArn != h.Cluster) || !ids.Valid("sess", t.StartedBy) {
		log.InfoContext(ctx, "task event ignored: not a session task of this cluster")
		return nil
	}
	if t.LastStatus != "RUNNING" && t.LastStatus != "STOPPED" {
		return nil
	}
	se, err := h.Sessions.Store.Get(ctx, t.StartedBy)
	if errors.Is(err, sessions.ErrNotFound) {
		log.InfoContext(ctx, "task event ignored: no such session")
		return nil
	}
	if err != nil {
		return err
	}
	rt := se.Runtime
	if rt == nil || rt.Handle != t.TaskArn {
		waiting := se.DesiredState == sessions.StateRunning && (se.State == sessions.StatePending || se.State == sessions.StateHibernated)
		if waiting && t.LastStatus == "RUNNING" && t.DesiredStatus == "RUNNING" {
			// An expected retry, not a fault: TaskEventsFunctionErrorsAlarm subtracts these lines
			// (metric filter TaskEventsExpectedRetries) from the function's Errors.
			log.InfoContext(ctx, TaskEventRetryMessage)
			return fmt.Errorf("task %s of session %s: %w", t.TaskArn, se.ID, ErrNotRecordedYet)
		}
		log.InfoContext(ctx, "task event ignored: not the session's current task")
		return nil
	}
	rep, ok, err := h.observation(ctx, se, t)
	if err != nil || !ok {
		return err
	}
	next := *rt
	if rep.State == sessions.StateRunning {
		// The gateway reaches the task on its private address; rep.URL carried it here.
		next.Upstream, rep.URL = rep.URL, ""
	}
	_, err = h.Sessions.ApplyRuntime(ctx, runtime.Caller, se.ID, sessions.RuntimeUpdate{Runtime: next, Report: &rep, Expect: rt})
	if errors.Is(err, sessions.ErrRuntimeChanged) {
		log.InfoContext(ctx, "stale task event: the runtime acted since")
		return nil
	}
	if err != nil {
		return fmt.Errorf("record %s of session %s: %w", rep.State, se.ID, err)
	}
	log.InfoContext(ctx, "session state recorded", slog.String("state", rep.State))
	return nil
}

// observation is what a task state means for its session now; false when nothing changes.
func (h *TaskEvents) observation(ctx context.Context, se sessions.Session, t TaskDetail) (sessions.StatusReport, bool, error) {
	action := se.Runtime.Action
	switch {
	case t.LastStatus == "RUNNING":
		// Only a start waits for RUNNING: after a hibernate or a failure, a late RUNNING event
		// of the same task must not bring the session back.
		if action != sessions.ActionStart || (se.State != sessions.StatePending && se.State != sessions.StateHibernated) {
			return sessions.StatusReport{}, false, nil
		}
		up, err := h.upstream(t)
		if err != nil {
			return sessions.StatusReport{}, false, err
		}
		return sessions.StatusReport{State: sessions.StateRunning, URL: up}, true, nil
	case action == sessions.ActionHibernate && se.State == sessions.StateRunning:
		return sessions.StatusReport{State: sessions.StateHibernated}, true, nil
	case t.StoppedReason == reasonHibernate && se.DesiredState == sessions.StateHibernated && se.State == sessions.StateRunning:
		// The runtime stopped the task to hibernate but its write of that failed (it retries):
		// the stop is ours, not a failure.
		return sessions.StatusReport{State: sessions.StateHibernated}, true, nil
	case t.StoppedReason == reasonHibernate || t.StoppedReason == reasonTerminate:
		return sessions.StatusReport{}, false, nil // our own stop, recorded by the runtime's retry
	case action == sessions.ActionStart && se.Live():
		h.log().WarnContext(ctx, "session task stopped", slog.String("sessionId", se.ID), slog.String("task", t.TaskArn),
			slog.String("detail", StoppedDetail(t)))
		return sessions.StatusReport{State: sessions.StateFailed, Error: StoppedReason(t)}, true, nil
	}
	return sessions.StatusReport{}, false, nil // terminated, already recorded, or a repeat
}

// upstream is where the gateway reaches the task's VNC server: its private address, whatever
// public one it may have (session tasks take no traffic but the gateway's).
func (h *TaskEvents) upstream(t TaskDetail) (string, error) {
	ip := t.eni("privateIPv4Address")
	if ip == "" {
		return "", fmt.Errorf("task %s has no IP address in its event", t.TaskArn)
	}
	return "tcp:" + net.JoinHostPort(ip, strconv.Itoa(h.Port)), nil
}

func (h *TaskEvents) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

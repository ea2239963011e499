package ecs

import (
	"fmt"
	"strings"
)

// maxDetail bounds the part of an ECS message a reason quotes (a session error holds 1024).
const maxDetail = 300

// StoppedReason says, for the person who asked for the session, why its task stopped before
// anyone asked it to: from the stop code, the stopped reason and the session container's own
// reason and exit code.
func StoppedReason(t TaskDetail) string {
	var ctrReason string
	exit := -1
	for _, c := range t.Containers {
		if c.Name == containerName || len(t.Containers) == 1 {
			ctrReason = c.Reason
			if c.ExitCode != nil {
				exit = *c.ExitCode
			}
		}
	}
	both := t.StoppedReason + " " + ctrReason
	detail := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > maxDetail {
			s = s[:maxDetail] + "…"
		}
		return s
	}
	quote := func(s string) string {
		if s = detail(s); s != "" {
			return " (" + s + ")"
		}
		return ""
	}
	switch {
	case strings.Contains(both, "CannotPullContainerError"):
		return "the session's image could not be downloaded: it may not exist, or its registry refused the download" + quote(pick(ctrReason, t.StoppedReason))
	case strings.Contains(both, "ResourceInitializationError") && strings.Contains(strings.ToLower(both), "efs"):
		return "the session's home folder could not be attached" + quote(t.StoppedReason)
	case strings.Contains(both, "ResourceInitializationError"):
		return "the session's task could not be prepared (network, image registry or logs)" + quote(t.StoppedReason)
	case strings.Contains(both, "OutOfMemoryError") || exit == 137:
		return "the session ran out of memory and was stopped; start it with more memory"
	case strings.Contains(both, "CannotStartContainerError") || strings.Contains(both, "CannotCreateContainerError"):
		return "the session's program could not be started" + quote(pick(ctrReason, t.StoppedReason))
	case t.StopCode == "SpotInterruption" || t.StopCode == "TerminationNotice":
		return "AWS reclaimed the capacity the session ran on"
	case t.StopCode == "EssentialContainerExited" && exit >= 0:
		return fmt.Sprintf("the session's program ended (exit code %d)", exit)
	case t.StopCode == "EssentialContainerExited":
		return "the session's program ended"
	case t.StopCode == "UserInitiated" || t.StopCode == "ServiceSchedulerInitiated":
		return "the session's task was stopped outside StreamSpace" + quote(t.StoppedReason)
	case t.StopCode == "TaskFailedToStart":
		return "the session could not start" + quote(pick(t.StoppedReason, ctrReason))
	}
	return "the session stopped unexpectedly" + quote(pick(t.StoppedReason, ctrReason))
}

func pick(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

package ecs

import (
	"fmt"
	"strings"
)

// maxDetail bounds the part of an ECS message a reason quotes (a session error holds 1024).
const maxDetail = 300

// StoppedReason says, for the person who asked for the session, why its task stopped before
// anyone asked it to: from the stop code, the stopped reason and the session container's own
// reason and exit code. ECS's own text (it names ARNs, repositories, file systems, subnets) is
// never quoted here: StoppedDetail gives it to the log (security review SEC-20).
func StoppedReason(t TaskDetail) string {
	ctrReason, exit := sessionContainer(t)
	both := t.StoppedReason + " " + ctrReason
	switch {
	case strings.Contains(both, "CannotPullContainerError"):
		return "the session's image could not be downloaded: it may not exist, or its registry refused the download"
	case strings.Contains(both, "ResourceInitializationError") && strings.Contains(strings.ToLower(both), "efs"):
		return "the session's home folder could not be attached"
	case strings.Contains(both, "ResourceInitializationError"):
		return "the session's task could not be prepared (network, image registry or logs)"
	case strings.Contains(both, "OutOfMemoryError") || exit == 137:
		return "the session ran out of memory and was stopped; start it with more memory"
	case strings.Contains(both, "CannotStartContainerError") || strings.Contains(both, "CannotCreateContainerError"):
		return "the session's program could not be started"
	case t.StopCode == "SpotInterruption" || t.StopCode == "TerminationNotice":
		return "AWS reclaimed the capacity the session ran on"
	case t.StopCode == "EssentialContainerExited" && exit >= 0:
		return fmt.Sprintf("the session's program ended (exit code %d)", exit)
	case t.StopCode == "EssentialContainerExited":
		return "the session's program ended"
	case t.StopCode == "UserInitiated" || t.StopCode == "ServiceSchedulerInitiated":
		return "the session's task was stopped outside StreamSpace"
	case t.StopCode == "TaskFailedToStart":
		return "the session could not start"
	}
	return "the session stopped unexpectedly"
}

// StoppedDetail is ECS's own account of the stop, for the operators' log.
func StoppedDetail(t TaskDetail) string {
	ctrReason, exit := sessionContainer(t)
	d := strings.TrimSpace(fmt.Sprintf("stopCode=%s stoppedReason=%q containerReason=%q exitCode=%d", t.StopCode, t.StoppedReason, ctrReason, exit))
	if len(d) > 2*maxDetail {
		d = d[:2*maxDetail] + "…"
	}
	return d
}

func sessionContainer(t TaskDetail) (reason string, exit int) {
	exit = -1
	for _, c := range t.Containers {
		if c.Name == containerName || len(t.Containers) == 1 {
			reason = c.Reason
			if c.ExitCode != nil {
				exit = *c.ExitCode
			}
		}
	}
	return reason, exit
}

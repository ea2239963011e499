package infratest

import (
	"fmt"
	"slices"
	"testing"
)

const (
	// schedulerFunction marks idle sessions (and asks them to hibernate) and terminates sessions
	// past their maximum duration, reading the due ones through MainTable's GSI4.
	schedulerFunction = "SchedulerFunction"
	// autoHibernateParam feeds the scheduler's AUTO_HIBERNATE.
	autoHibernateParam = "AutoHibernateIdleSessions"
)

// scheduledFunctions are the functions EventBridge invokes on a schedule, each with its
// schedule expression. Every one has exactly one enabled AWS::Events::Rule (a SAM Schedule
// event) and no other trigger; no other function is the target of any rule, except the
// eventRuleFunctions (event-pattern rules, checked by taskEventRuleDiffs).
var scheduledFunctions = map[string]string{
	// Idle marks and terminations lag by at most this much.
	schedulerFunction: "rate(1 minute)",
}

// scheduleRulesOf lists the AWS::Events::Rule resources with a target that invokes fn.
func scheduleRulesOf(tmpl cfn, fn string) []string {
	var out []string
	for _, id := range resourcesOfType(tmpl, "AWS::Events::Rule") {
		if slices.Contains(referencedOfType(tmpl, props(tmpl, id)["Targets"], "AWS::Lambda::Function"), fn) {
			out = append(out, id)
		}
	}
	return out
}

// scheduleDiffs checks scheduledFunctions; nil means all is well.
func scheduleDiffs(tmpl cfn) []string {
	var diffs []string
	// No rule invokes a function that is not meant to be scheduled, and EventBridge Scheduler
	// (ScheduleV2 events) is not used: the schedules are plain rules.
	for _, id := range resourcesOfType(tmpl, "AWS::Events::Rule") {
		for _, fn := range referencedOfType(tmpl, props(tmpl, id)["Targets"], "AWS::Lambda::Function") {
			if _, ok := scheduledFunctions[fn]; !ok && eventRuleFunctions[fn] == "" {
				diffs = append(diffs, fmt.Sprintf("rule %s invokes %s, which is not in scheduledFunctions", id, fn))
			}
		}
	}
	for _, id := range resourcesOfType(tmpl, "AWS::Scheduler::Schedule") {
		diffs = append(diffs, fmt.Sprintf("%s is an AWS::Scheduler::Schedule; schedules are SAM Schedule events (AWS::Events::Rule)", id))
	}

	for _, fn := range keys(scheduledFunctions) {
		rules := scheduleRulesOf(tmpl, fn)
		if len(rules) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s has schedule rules %v, want exactly one", fn, rules))
		}
		if m := mappingsOf(tmpl, fn); len(m) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s is scheduled but also has event source mappings %v", fn, m))
		}
		if routes, _ := httpRoutes(tmpl); routes != nil {
			for key, r := range routes {
				if r.Function == fn {
					diffs = append(diffs, fmt.Sprintf("%s is scheduled but also serves %s", fn, key))
				}
			}
		}
		for _, rule := range rules {
			p := props(tmpl, rule)
			if got := str(p["ScheduleExpression"]); got != scheduledFunctions[fn] {
				diffs = append(diffs, fmt.Sprintf("%s: ScheduleExpression = %q, want %q", rule, got, scheduledFunctions[fn]))
			}
			// CloudFormation's default State is ENABLED, but SAM always writes it; say it.
			if got := str(p["State"]); got != "ENABLED" {
				diffs = append(diffs, fmt.Sprintf("%s: State = %q, want ENABLED", rule, got))
			}
			if p["EventPattern"] != nil {
				diffs = append(diffs, fmt.Sprintf("%s has an EventPattern; a schedule rule fires on the clock only", rule))
			}
			if t := asList(p["Targets"]); len(t) != 1 {
				diffs = append(diffs, fmt.Sprintf("%s has %d targets, want exactly one (%s)", rule, len(t), fn))
			}
			permitted := false
			for _, id := range resourcesOfType(tmpl, "AWS::Lambda::Permission") {
				pp := props(tmpl, id)
				if str(pp["Principal"]) == "events.amazonaws.com" && str(pp["Action"]) == "lambda:InvokeFunction" &&
					slices.Equal(referencedResources(pp["FunctionName"]), []string{fn}) &&
					slices.Equal(referencedResources(pp["SourceArn"]), []string{rule}) {
					permitted = true
				}
			}
			if !permitted {
				diffs = append(diffs, fmt.Sprintf("no AWS::Lambda::Permission lets events.amazonaws.com invoke %s from rule %s", fn, rule))
			}
		}
		// A failed tick must not be retried: the retry would overlap the next tick, which finds
		// the same work anyway.
		var configs []string
		for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventInvokeConfig") {
			if slices.Contains(referencedResources(props(tmpl, id)["FunctionName"]), fn) {
				configs = append(configs, id)
			}
		}
		if len(configs) != 1 {
			diffs = append(diffs, fmt.Sprintf("%s has event invoke configs %v, want exactly one (EventInvokeConfig.MaximumRetryAttempts 0)", fn, configs))
		} else if got := props(tmpl, configs[0])["MaximumRetryAttempts"]; got != float64(0) {
			diffs = append(diffs, fmt.Sprintf("%s: MaximumRetryAttempts = %v, want 0 (the next tick retries)", configs[0], got))
		}
	}
	return diffs
}

// TestSchedules: see scheduleDiffs.
func TestSchedules(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "schedules", scheduleDiffs(transformed(t)))
}

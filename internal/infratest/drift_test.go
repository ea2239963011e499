package infratest

import (
	"strings"
	"testing"
)

// driftCase breaks one thing in a copy of the transformed template and names the check that must
// report it: the checks are only worth what they catch.
type driftCase struct {
	name   string
	mutate func(cfn)
	check  func(cfn) []string
	want   string // a substring of one reported difference
}

// runDrift runs each case: the check passes on the unmodified template, then reports the
// mutation with a difference containing want.
func runDrift(t *testing.T, cases []driftCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diffs := tc.check(transformed(t)); len(diffs) > 0 {
				// A mutation proves nothing on a failing baseline: fail, so the baseline gets fixed.
				t.Fatalf("check already fails on the unmodified template: %v", diffs)
			}
			tmpl := transformed(t) // a fresh copy
			tc.mutate(tmpl)
			diffs := tc.check(tmpl)
			if len(diffs) == 0 {
				t.Fatalf("mutation %q went unnoticed", tc.name)
			}
			for _, d := range diffs {
				if strings.Contains(d, tc.want) {
					return
				}
			}
			t.Fatalf("mutation %q reported %q, want one containing %q", tc.name, diffs, tc.want)
		})
	}
}

// statementBySid is the statement of a role's inline policies with that Sid (for mutations).
func statementBySid(tmpl cfn, role, sid string) cfn {
	for _, pol := range asList(props(tmpl, role)["Policies"]) {
		for _, st := range asList(get(pol, "PolicyDocument", "Statement")) {
			if str(get(st, "Sid")) == sid {
				return asMap(st)
			}
		}
	}
	panic(role + " has no statement " + sid)
}

// behavior is the distribution's cache behaviour for a path pattern (written as text or as a
// Fn::Sub), for the mutations to change; a missing one is the test's own mistake.
func behavior(tmpl cfn, path string) cfn {
	for _, b := range asList(get(props(tmpl, distributionID), "DistributionConfig", "CacheBehaviors")) {
		if arnText(get(b, "PathPattern")) == path {
			return asMap(b)
		}
	}
	panic("no cache behaviour " + path)
}

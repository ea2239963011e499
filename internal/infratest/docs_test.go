package infratest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestDeployDocCounts (deploy finding 17): the counts docs/deploy.md states (functions, alarms,
// dead-letter queues) are the template's.
func TestDeployDocCounts(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := transformed(t)
	functions := len(resourcesOfType(tmpl, "AWS::Lambda::Function"))
	alarms := len(resourcesOfType(tmpl, "AWS::CloudWatch::Alarm"))
	queues := len(resourcesOfType(tmpl, "AWS::SQS::Queue"))
	reportDiffs(t, "docs/deploy.md", deployDocCountDiffs(string(b), functions, alarms, queues))
}

var numberWords = map[string]int{"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}

// deployDocCountDiffs compares each stated count with the template's; a statement the doc no
// longer makes is reported too, so the test cannot pass by the sentence disappearing.
func deployDocCountDiffs(doc string, functions, alarms, queues int) []string {
	var diffs []string
	check := func(pattern string, want ...int) {
		m := regexp.MustCompile(pattern).FindStringSubmatch(doc)
		if m == nil {
			diffs = append(diffs, "no sentence matching "+strconv.Quote(pattern))
			return
		}
		for i, w := range want {
			got, err := strconv.Atoi(m[i+1])
			if err != nil {
				got = numberWords[m[i+1]]
			}
			if got != w {
				diffs = append(diffs, strconv.Quote(m[0])+": says "+m[i+1]+", the template has "+strconv.Itoa(w))
			}
		}
	}
	check(`In all: (\d+) functions and (\d+) alarms`, functions, alarms)
	check(`The stack has (\d+) CloudWatch alarms`, alarms)
	check(`for each of the (\d+) functions \((\d+)\)`, functions, 2*functions)
	check(`any of the (\w+) dead-letter queues`, queues)
	return diffs
}

// TestDeployDocCountsDetectDrift: the comparison reports a stale count.
func TestDeployDocCountsDetectDrift(t *testing.T) {
	t.Parallel()
	doc := "In all: 12 functions and 28 alarms. The stack has 28 CloudWatch alarms; for each of the 12 functions (24); any of the two dead-letter queues"
	if got := deployDocCountDiffs(doc, 14, 39, 4); len(got) != 6 {
		t.Errorf("stale counts: %d differences %v, want 6", len(got), got)
	}
	if got := deployDocCountDiffs("", 14, 39, 4); len(got) != 4 {
		t.Errorf("missing sentences: %d differences, want 4", len(got))
	}
}

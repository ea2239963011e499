package sessions

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/problem"
	"streamspace/internal/resources"
)

// The quota rule lives in DynamoDB condition expressions. These tests evaluate the expressions
// the store builds on counters held in a map, the way DynamoDB would, and compare the outcome
// with the rule in plain arithmetic: a charge is allowed when every counter it raises stays
// within its limit; a release always is.

var (
	notExistsOrLE = regexp.MustCompile(`^\(attribute_not_exists\((\w+)\) OR (\w+) <= (:\w+)\)$`)
	greaterEq     = regexp.MustCompile(`^(\w+) >= (:\w+)$`)
	addClause     = regexp.MustCompile(`^(\w+) (:\w+)$`)
)

func num(t *testing.T, v types.AttributeValue) int {
	t.Helper()
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("%T is not a number", v)
	}
	i, err := strconv.Atoi(n.Value)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// apply runs one quota update on item (absent attributes are missing keys) and reports whether
// its condition held; the update is applied only then.
func apply(t *testing.T, w types.TransactWriteItem, item map[string]int) bool {
	t.Helper()
	u := w.Update
	vals := u.ExpressionAttributeValues
	if u.ConditionExpression != nil && *u.ConditionExpression == "attribute_exists(PK) AND attribute_not_exists(PK)" {
		return false // the store's condition no item meets
	}
	if u.ConditionExpression != nil {
		for _, clause := range strings.Split(*u.ConditionExpression, " AND ") {
			switch m := notExistsOrLE.FindStringSubmatch(clause); {
			case m != nil && m[1] == m[2]:
				if v, ok := item[m[1]]; ok && v > num(t, vals[m[3]]) {
					return false
				}
			case greaterEq.MatchString(clause):
				g := greaterEq.FindStringSubmatch(clause)
				if item[g[1]] < num(t, vals[g[2]]) {
					return false
				}
			default:
				t.Fatalf("condition clause %q: not a form this test evaluates (update it with the store)", clause)
			}
		}
	}
	add, ok := strings.CutPrefix(*u.UpdateExpression, "ADD ")
	if !ok {
		t.Fatalf("update %q is not an ADD", *u.UpdateExpression)
	}
	for _, part := range strings.Split(add, ", ") {
		m := addClause.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("update clause %q", part)
		}
		item[m[1]] += num(t, vals[m[2]])
	}
	return true
}

func TestUserQuotaArithmetic(t *testing.T) {
	st := &Store{Table: "main"}
	lim := Limits{MaxSessions: 3, MaxCPUMillis: 4000, MaxMemoryMiB: 8192}
	usages := []struct{ n, c, m int }{{0, 0, 0}, {2, 3000, 4096}, {3, 1000, 1024}, {1, 4000, 1024}, {1, 1000, 8192}, {2, 3500, 8000}}
	changes := []struct {
		n    int
		amt  resources.Amount
		name string
	}{
		{1, resources.Amount{CPUMillis: 500, MemoryMiB: 512}, "create small"},
		{1, resources.Amount{CPUMillis: 1000, MemoryMiB: 4096}, "create large"},
		{0, resources.Amount{CPUMillis: 500, MemoryMiB: -512}, "resize: more CPU, less memory"},
		{0, resources.Amount{CPUMillis: -500, MemoryMiB: 192}, "resize: less CPU, more memory"},
		{-1, resources.Amount{CPUMillis: -1000, MemoryMiB: -1024}, "release"},
	}
	for _, u := range usages {
		for _, ch := range changes {
			item := map[string]int{"liveSessions": u.n, "cpuMillis": u.c, "memoryMiB": u.m}
			takes := ch.n > 0 || ch.amt.CPUMillis > 0 || ch.amt.MemoryMiB > 0
			want := !takes || u.n+ch.n <= lim.MaxSessions && u.c+ch.amt.CPUMillis <= lim.MaxCPUMillis && u.m+ch.amt.MemoryMiB <= lim.MaxMemoryMiB
			got := apply(t, st.quotaChange("alice", ch.n, ch.amt, lim), item)
			name := fmt.Sprintf("%s on %+v", ch.name, u)
			if got != want {
				t.Errorf("%s: allowed %v, want %v", name, got, want)
			}
			if got && (item["liveSessions"] != u.n+ch.n || item["cpuMillis"] != u.c+ch.amt.CPUMillis || item["memoryMiB"] != u.m+ch.amt.MemoryMiB) {
				t.Errorf("%s: counters %v", name, item)
			}
		}
	}
	// A user's first session meets no counters yet: within the limits it is allowed and counted.
	item := map[string]int{}
	if !apply(t, st.quotaChange("alice", 1, resources.Amount{CPUMillis: 2000, MemoryMiB: 4096}, lim), item) ||
		item["liveSessions"] != 1 || item["cpuMillis"] != 2000 || item["memoryMiB"] != 4096 {
		t.Errorf("first session: %v", item)
	}
	// A change that alone exceeds a limit is refused even when no counters exist yet (it used
	// to pass: attribute_not_exists let a first session of any size through).
	for _, over := range []struct {
		n   int
		amt resources.Amount
	}{{lim.MaxSessions + 1, resources.Amount{}}, {1, resources.Amount{CPUMillis: lim.MaxCPUMillis + 1}}, {1, resources.Amount{MemoryMiB: lim.MaxMemoryMiB + 1}}} {
		for _, item := range []map[string]int{{}, {"liveSessions": 0, "cpuMillis": 0, "memoryMiB": 0}} {
			if apply(t, st.quotaChange("bob", over.n, over.amt, lim), item) {
				t.Errorf("a change of %d sessions, %+v over the limits %+v was accepted on %v", over.n, over.amt, lim, item)
			}
		}
	}
}

// A team keeps headroom (limit − usage): taking needs enough of each thing taken.
func TestTeamQuotaArithmetic(t *testing.T) {
	st := &Store{Table: "main"}
	for _, left := range []struct{ n, c, m int }{{0, 0, 0}, {0, 16000, 32768}, {1, 500, 512}, {5, 16000, 32768}, {1, 100, 65536}, {3, 16000, 100}} {
		for _, ch := range []struct {
			n   int
			amt resources.Amount
		}{{1, resources.Amount{CPUMillis: 500, MemoryMiB: 512}}, {1, resources.Amount{CPUMillis: 250, MemoryMiB: 128}},
			{0, resources.Amount{CPUMillis: 200, MemoryMiB: -256}}, {-1, resources.Amount{CPUMillis: -500, MemoryMiB: -512}}} {
			item := map[string]int{"sessionsLeft": left.n, "cpuLeft": left.c, "memoryLeft": left.m}
			want := (ch.n <= 0 || left.n >= ch.n) && (ch.amt.CPUMillis <= 0 || left.c >= ch.amt.CPUMillis) &&
				(ch.amt.MemoryMiB <= 0 || left.m >= ch.amt.MemoryMiB)
			got := apply(t, st.teamQuotaChange("team_1", ch.n, ch.amt), item)
			if got != want {
				t.Errorf("take %+v from %+v: allowed %v, want %v", ch, left, got, want)
			}
			if got && (item["sessionsLeft"] != left.n-ch.n || item["cpuLeft"] != left.c-ch.amt.CPUMillis || item["memoryLeft"] != left.m-ch.amt.MemoryMiB) {
				t.Errorf("take %+v from %+v: headroom %v", ch, left, item)
			}
		}
	}
}

// A team session is charged to its owner and its team; a personal one to its owner only.
func TestQuotaChangesChargeOwnerAndTeam(t *testing.T) {
	st := &Store{Table: "main"}
	amt := resources.Amount{CPUMillis: 500, MemoryMiB: 512}
	if w := st.quotaChanges(Session{OwnerID: "alice"}, 1, amt, DefaultLimits); len(w) != 1 || !strings.Contains(*w[0].Update.UpdateExpression, "liveSessions") {
		t.Errorf("personal session: %d writes", len(w))
	}
	w := st.quotaChanges(Session{OwnerID: "alice", TeamID: "team_1"}, 1, amt, DefaultLimits)
	if len(w) != 2 || !strings.Contains(*w[1].Update.UpdateExpression, "sessionsLeft") {
		t.Fatalf("team session: %d writes", len(w))
	}
	if pk := w[1].Update.Key["PK"].(*types.AttributeValueMemberS).Value; !strings.HasSuffix(pk, "team_1") {
		t.Errorf("team charge on %s", pk)
	}
}

// The team roles the create transaction admits are exactly those with team.sessions.create.
func TestCreatorRoles(t *testing.T) {
	var got []string
	for _, v := range creatorRoles() {
		got = append(got, v.(*types.AttributeValueMemberS).Value)
	}
	for _, r := range access.TeamRoles {
		want := r == access.TeamOwner || r == access.TeamAdmin || r == access.TeamMember
		if strings.Contains(" "+strings.Join(got, " ")+" ", " "+r+" ") != want {
			t.Errorf("role %s admitted: %v", r, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("create's condition names %d roles (:r1..:r3 in the expression): %v", len(got), got)
	}
}

func TestQuotaExceededProblem(t *testing.T) {
	p := problem.As(quotaExceeded(Limits{MaxSessions: 2, MaxCPUMillis: 3000, MaxMemoryMiB: 4096}))
	if p == nil || p.Status != 403 || p.Type != "https://streamspace.dev/problems/quota-exceeded" ||
		!strings.Contains(p.Detail, "at most 2 live sessions using 3 cores and 4 GiB") {
		t.Errorf("%+v", p)
	}
}

package ddb

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

// The hot-partition simulation (issue 14 point 7; make bench prints it). It replays the key
// pattern of a platform with 100,000 sessions and 10,000 users: which partitions of which table
// and index each request writes, built by the same functions the stores call, before sharding
// (the unsuffixed keys) and after. Each write counts as one WCU (an item ≤ 1 KB; a bigger item
// costs more, on every partition alike). DynamoDB caps one partition at ~1,000 WCU/s.

const (
	simSessions  = 100_000
	simUsers     = 10_000
	simTeams     = 100
	partitionWCU = 1000
)

// simMix is the request mix: what share of requests does what.
var simMix = []struct {
	name  string
	share float64
}{
	{"heartbeat", 0.70},    // POST /sessions/{id}/heartbeat: the session item, rewritten whole
	{"state change", 0.15}, // PATCH desiredState, runtime status reports: session + quota + activity
	{"activity", 0.10},     // POST /sessions/{id}/activity/log: an entry and its counters
	{"create", 0.04},       // POST /sessions: session + quota + activity
	{"new user", 0.01},     // a user's first request: the user record
}

type sim struct {
	sharded bool
	writes  map[string]int // "<table> <index> <partition key>" → writes
}

func (s *sim) put(where, pk string) { s.writes[where+" "+pk]++ }

// session is every partition one write of a live session's item touches: the base item and each
// index it is in (projection ALL, so any change rewrites every index entry).
func (s *sim) session(n int) {
	id, owner := fmt.Sprintf("sess_%06d", n), fmt.Sprintf("user_%05d", n%simUsers)
	s.put("Main base", SessionPK(id))
	s.put("Main GSI1", OwnerPK(owner))
	if n%5 == 0 { // a fifth of the sessions belong to a team
		s.put("Main GSI3", TeamSessionsPK(fmt.Sprintf("team_%03d", n%simTeams)))
	}
	if s.sharded {
		s.put("Main GSI2", TypeShardPK(KindSession, id))
		s.put("Main GSI4", ScheduleShardPK(id))
	} else {
		s.put("Main GSI2", TypePK(KindSession))
		s.put("Main GSI4", SchedulePK)
	}
}

// activity is one activity entry of a session and its four counters (per entry: the client
// post's transaction; the stream consumer adds a batch's counts at once, which is fewer).
func (s *sim) activity(n int) {
	id, actor := fmt.Sprintf("sess_%06d", n), fmt.Sprintf("user_%05d", n%simUsers)
	s.put("Audit base", ActivitySessionPK(id))
	s.put("Audit GSI1", ActivityUserPK(actor))
	pk := ActivityStatsPK
	if s.sharded {
		pk = ActivityStatsShardPK(id)
	}
	for range 4 { // TOTAL, the hour, the day's category, the day's type: one partition
		s.put("Audit base", pk)
	}
}

func (s *sim) request(kind string, rng *rand.Rand) {
	n := rng.IntN(simSessions)
	switch kind {
	case "heartbeat":
		s.session(n)
	case "state change", "create":
		s.session(n)
		s.put("Main base", UserPK(fmt.Sprintf("user_%05d", n%simUsers))) // QUOTA
		s.activity(n)
	case "activity":
		s.activity(n)
	case "new user":
		u := fmt.Sprintf("user_%05d", rng.IntN(simUsers))
		s.put("Main base", UserPK(u))
		if s.sharded {
			s.put("Main GSI2", TypeShardPK(KindUser, u))
		} else {
			s.put("Main GSI2", TypePK(KindUser))
		}
	}
}

// run replays rate requests per second for seconds and returns the partitions by writes per
// second, hottest first.
func simulate(sharded bool, rate, seconds int) []partitionLoad {
	s := &sim{sharded: sharded, writes: map[string]int{}}
	rng := rand.New(rand.NewPCG(1, 2))
	for range rate * seconds {
		x, kind := rng.Float64(), simMix[len(simMix)-1].name
		for _, m := range simMix {
			if x < m.share {
				kind = m.name
				break
			}
			x -= m.share
		}
		s.request(kind, rng)
	}
	out := make([]partitionLoad, 0, len(s.writes))
	for k, w := range s.writes {
		out = append(out, partitionLoad{k, float64(w) / float64(seconds)})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].perSecond > out[j].perSecond || (out[i].perSecond == out[j].perSecond && out[i].key < out[j].key)
	})
	return out
}

type partitionLoad struct {
	key       string
	perSecond float64
}

func TestHotPartitionSimulation(t *testing.T) {
	start := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "hot partitions: %d sessions, %d users; mix", simSessions, simUsers)
	for _, m := range simMix {
		fmt.Fprintf(&b, " %s %.0f%%", m.name, m.share*100)
	}
	fmt.Fprintf(&b, "; limit %d WCU/s per partition\n", partitionWCU)
	fmt.Fprintf(&b, "%-8s %-8s %-40s %10s %9s   %s\n", "req/s", "keys", "hottest partition", "writes/s", "of limit", "next hottest")
	hottest, perIndex := map[string]float64{}, map[string][]partitionLoad{}
	for _, rate := range []int{1000, 10_000} {
		for _, sharded := range []bool{false, true} {
			loads := simulate(sharded, rate, 10)
			name := map[bool]string{false: "before", true: "after"}[sharded]
			var next []string
			for _, l := range loads[1:4] {
				next = append(next, fmt.Sprintf("%s %.0f/s", l.key, l.perSecond))
			}
			fmt.Fprintf(&b, "%-8d %-8s %-40s %10.0f %8.0f%%   %s\n", rate, name, loads[0].key, loads[0].perSecond,
				100*loads[0].perSecond/partitionWCU, strings.Join(next, ", "))
			hottest[fmt.Sprint(rate, name)] = loads[0].perSecond
			if rate == 10_000 {
				perIndex[name] = loads
			}
		}
	}
	b.WriteString("hottest partition of each table and index at 10,000 req/s (before → after):\n")
	for _, where := range []string{"Main base", "Main GSI1", "Main GSI2", "Main GSI3", "Main GSI4", "Audit base", "Audit GSI1"} {
		top := func(loads []partitionLoad) partitionLoad {
			for _, l := range loads {
				if strings.HasPrefix(l.key, where+" ") {
					return l
				}
			}
			return partitionLoad{}
		}
		x, y := top(perIndex["before"]), top(perIndex["after"])
		fmt.Fprintf(&b, "  %-10s %-34s %6.0f/s → %-34s %6.0f/s\n", where, strings.TrimPrefix(x.key, where+" "), x.perSecond,
			strings.TrimPrefix(y.key, where+" "), y.perSecond)
	}
	t.Logf("\n%s(simulated in %v)", b.String(), time.Since(start).Round(time.Millisecond))
	// What the sharding is for: over the limit before, under it after, at 10,000 requests/s.
	if hottest["10000before"] <= partitionWCU {
		t.Errorf("before sharding the hottest partition takes %.0f writes/s at 10,000 req/s; the simulation no longer shows the problem", hottest["10000before"])
	}
	if hottest["10000after"] >= partitionWCU {
		t.Errorf("after sharding the hottest partition still takes %.0f writes/s at 10,000 req/s (limit %d)", hottest["10000after"], partitionWCU)
	}
}

package sessions

import (
	"strings"
	"testing"
	"time"

	"streamspace/internal/problem"
)

var allStates = []string{StatePending, StateRunning, StateHibernated, StateTerminated, StateFailed}

// The runtime's reports follow this machine and nothing else (written out, not derived).
func TestObservedTransitions(t *testing.T) {
	allowed := map[[2]string]bool{
		{StatePending, StateRunning}: true, {StatePending, StateFailed}: true, {StatePending, StateTerminated}: true,
		{StateRunning, StateHibernated}: true, {StateRunning, StateFailed}: true, {StateRunning, StateTerminated}: true,
		{StateHibernated, StateRunning}: true, {StateHibernated, StateFailed}: true, {StateHibernated, StateTerminated}: true,
		{StateFailed, StateTerminated}: true,
	}
	for _, from := range append(allStates, "bogus") {
		for _, to := range append(allStates, "bogus") {
			if got := CanTransition(from, to); got != allowed[[2]string{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}

// What a user may ask of a session in each state.
func TestDesiredStateByState(t *testing.T) {
	refused := map[[2]string]bool{
		{StatePending, StateHibernated}: true,                                       // not before it runs
		{StateFailed, StateRunning}:     true, {StateFailed, StateHibernated}: true, // only terminate
		{StateTerminated, StateRunning}: true, {StateTerminated, StateHibernated}: true, {StateTerminated, StateTerminated}: true,
	}
	for _, state := range allStates {
		for _, desired := range []string{StateRunning, StateHibernated, StateTerminated} {
			err := checkDesired(Session{State: state}, desired)
			if got := err != nil; got != refused[[2]string{state, desired}] {
				t.Errorf("%s → desired %s: %v", state, desired, err)
			}
		}
	}
	for _, d := range allStates {
		if got := ValidDesired(d); got != (d != StatePending && d != StateFailed) {
			t.Errorf("ValidDesired(%s) = %v", d, got)
		}
	}
}

// Live sessions count against quotas; only terminated is final.
func TestLiveAndFinal(t *testing.T) {
	for _, s := range allStates {
		se := Session{State: s}
		if se.Live() != (s != StateTerminated && s != StateFailed) || se.Final() != (s == StateTerminated) {
			t.Errorf("%s: live %v, final %v", s, se.Live(), se.Final())
		}
	}
}

// NextCheck is the soonest thing the scheduler must act on, by state.
func TestNextCheck(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	base := Session{CreatedAt: t0, LastActivity: t0.Add(time.Hour), IdleTimeout: 1800, MaxSessionDuration: 8 * 3600}
	with := func(f func(*Session)) Session { s := base; f(&s); return s }
	checked := t0.Add(2 * time.Hour)
	for _, c := range []struct {
		name string
		se   Session
		want time.Time // zero: no check
	}{
		{"pending: its start deadline", with(func(s *Session) { s.State = StatePending }), t0.Add(StartTimeout)},
		{"pending past its lifetime: the lifetime", with(func(s *Session) { s.State = StatePending; s.MaxSessionDuration = 300 }), t0.Add(5 * time.Minute)},
		{"running: when it turns idle", with(func(s *Session) { s.State = StateRunning }), t0.Add(90 * time.Minute)},
		{"running and idle: its end", with(func(s *Session) { s.State = StateRunning; s.Idle = true }), t0.Add(8 * time.Hour)},
		{"hibernated: its end", with(func(s *Session) { s.State = StateHibernated }), t0.Add(8 * time.Hour)},
		{"idle with viewers: the recount", with(func(s *Session) { s.State = StateRunning; s.Idle = true; s.ActiveConnections = 2 }), t0.Add(ConnectionsRecount)},
		{"recounted: from the last count", with(func(s *Session) {
			s.State, s.Idle, s.ActiveConnections, s.ConnectionsCheckedAt = StateRunning, true, 1, &checked
		}), checked.Add(ConnectionsRecount)},
		{"terminated: none", with(func(s *Session) { s.State = StateTerminated }), time.Time{}},
		{"failed: none", with(func(s *Session) { s.State = StateFailed; s.ActiveConnections = 3 }), time.Time{}},
	} {
		got, ok := c.se.NextCheck()
		if ok != !c.want.IsZero() || !got.Equal(c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, ok, c.want)
		}
	}
}

func TestTags(t *testing.T) {
	long := strings.Repeat("x", MaxTagLength)
	many := make([]string, MaxTags+1)
	for i := range many {
		many[i] = strings.Repeat("t", i+1)
	}
	for _, c := range []struct {
		name string
		in   []string
		want []string // nil: refused
	}{
		{"none is an empty list", nil, []string{}},
		{"duplicates folded, order kept", []string{"b", "a", "b"}, []string{"b", "a"}},
		{"longest allowed", []string{long}, []string{long}},
		{"too long", []string{long + "x"}, nil},
		{"empty", []string{"a", ""}, nil},
		{"at most MaxTags", many[:MaxTags], many[:MaxTags]},
		{"one more", many, nil},
		{"duplicates do not count", append(many[:MaxTags:MaxTags], many[0]), many[:MaxTags]},
	} {
		got, err := normalizeTags(c.in)
		if c.want == nil {
			if p := problem.As(err); p == nil || p.Status != 400 || p.Errors[0].Field != "tags" {
				t.Errorf("%s: %v, %v; want a 400 on tags", c.name, got, err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(c.want, ",") || got == nil {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestBoundedSeconds(t *testing.T) {
	v := func(i int) *int { return &i }
	for _, c := range []struct {
		in   *int
		want int
		ok   bool
	}{{nil, 77, true}, {v(60), 60, true}, {v(600), 600, true}, {v(59), 0, false}, {v(601), 0, false}, {v(-1), 0, false}} {
		got, err := boundedSeconds("idleTimeout", c.in, 77, 60, 600)
		if p := problem.As(err); got != c.want || (err == nil) != c.ok || (err != nil && (p == nil || p.Errors[0].Field != "idleTimeout")) {
			t.Errorf("boundedSeconds(%v) = %d, %v", c.in, got, err)
		}
	}
}

func TestStatusReportValidation(t *testing.T) {
	for _, c := range []struct {
		in    StatusReport
		field string // "" = valid
	}{
		{StatusReport{State: StateRunning}, ""},
		{StatusReport{State: StateFailed, Error: "image not found"}, ""},
		{StatusReport{State: StateFailed}, "error"},
		{StatusReport{State: "exploded"}, "state"},
		{StatusReport{State: StateRunning, URL: strings.Repeat("u", 2049)}, "url"},
		{StatusReport{State: StateFailed, Error: strings.Repeat("e", 1025)}, "error"},
	} {
		err := c.in.validate()
		p := problem.As(err)
		if c.field == "" && err != nil || c.field != "" && (p == nil || p.Status != 400 || p.Errors[0].Field != c.field) {
			t.Errorf("report %s (url %d, error %d chars): %v, want field %q", c.in.State, len(c.in.URL), len(c.in.Error), err, c.field)
		}
	}
}

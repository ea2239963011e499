package runtime

import (
	"testing"

	"streamspace/internal/sessions"
)

func TestWantedAction(t *testing.T) {
	rt := func(action string) *sessions.Runtime { return &sessions.Runtime{Action: action, Secret: "x"} }
	cases := []struct {
		name           string
		desired, state string
		runtime        *sessions.Runtime
		want           string
		work           bool
	}{
		{"new session starts", "running", "pending", nil, sessions.ActionStart, true},
		{"start already asked", "running", "pending", rt(sessions.ActionStart), sessions.ActionStart, false},
		{"running stays", "running", "running", rt(sessions.ActionStart), "", false},
		{"hibernate", "hibernated", "running", rt(sessions.ActionStart), sessions.ActionHibernate, true},
		{"hibernate already asked", "hibernated", "running", rt(sessions.ActionHibernate), sessions.ActionHibernate, false},
		{"hibernated stays", "hibernated", "hibernated", rt(sessions.ActionHibernate), "", false},
		{"wake", "running", "hibernated", rt(sessions.ActionHibernate), sessions.ActionStart, true},
		{"terminated after a start is reaped", "terminated", "terminated", rt(sessions.ActionStart), sessions.ActionTerminate, true},
		{"terminated while hibernated is reaped", "terminated", "terminated", rt(sessions.ActionHibernate), sessions.ActionTerminate, true},
		{"reaped once", "terminated", "terminated", rt(sessions.ActionTerminate), sessions.ActionTerminate, false},
		{"terminated before anything ran", "terminated", "terminated", nil, "", false},
		{"failed waits for terminate", "running", "failed", rt(sessions.ActionStart), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			se := sessions.Session{DesiredState: c.desired, State: c.state, Runtime: c.runtime}
			if got := Wanted(se); got != c.want {
				t.Errorf("Wanted = %q, want %q", got, c.want)
			}
			if got := needsWork(se); got != c.work {
				t.Errorf("needsWork = %v, want %v", got, c.work)
			}
		})
	}
}

func TestSecretsAreDistinctAndVNCSized(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := secret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 8 || seen[s] {
			t.Fatalf("secret %q: want 8 characters, never repeated", s)
		}
		seen[s] = true
	}
}

package problem_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"streamspace/internal/apikeys"
	"streamspace/internal/problem"
	"streamspace/internal/recordings"
	"streamspace/internal/sessions"
	"streamspace/internal/teams"
	"streamspace/internal/templates"
)

const base = "https://streamspace.dev/problems/"

// Every kind of client error: its status, its type and a title that is the status text.
func TestKinds(t *testing.T) {
	for _, c := range []struct {
		p      *problem.Error
		status int
		slug   string
	}{
		{problem.Invalid("name", "is required"), 400, "invalid-input"},
		{problem.BadRequest("x"), 400, "bad-request"},
		{problem.Unauthorized("x"), 401, "unauthorized"},
		{problem.Forbidden("x"), 403, "forbidden"},
		{problem.NotFound("thing"), 404, "not-found"},
		{problem.MethodNotAllowed(), 405, "method-not-allowed"},
		{problem.Conflict("x"), 409, "conflict"},
		{problem.Gone("x"), 410, "gone"},
		{problem.PreconditionFailed("x"), 412, "precondition-failed"},
		{problem.TooLarge("x"), 413, "too-large"},
		{problem.TooManyRequests("x", 7), 429, "rate-limited"},
		{problem.Internal(), 500, "internal"},
		{problem.Unavailable("x"), 503, "unavailable"},
	} {
		if c.p.Status != c.status || c.p.Type != base+c.slug || c.p.Title != http.StatusText(c.status) {
			t.Errorf("%s: %+v", c.slug, c.p)
		}
	}
}

func TestDetails(t *testing.T) {
	p := problem.Invalid("resources.cpu", "must be from 100m to 16 cores")
	if p.Detail != "resources.cpu: must be from 100m to 16 cores" || len(p.Errors) != 1 ||
		p.Errors[0] != (problem.FieldError{Field: "resources.cpu", Detail: "must be from 100m to 16 cores"}) {
		t.Errorf("invalid: %+v", p)
	}
	if p := problem.NotFound("session"); p.Detail != "session not found" {
		t.Errorf("not found: %q", p.Detail)
	}
	if p := problem.TooManyRequests("slow down", 30); p.RetryAfter != 30 {
		t.Errorf("retry after %d", p.RetryAfter)
	}
	// A server fault tells the client nothing about itself.
	if p := problem.Internal(); p.Detail != "an internal error occurred; it has been logged" || p.Errors != nil {
		t.Errorf("internal: %+v", p)
	}
}

// As finds a problem however deeply wrapped; anything else is a server fault (nil).
func TestAs(t *testing.T) {
	p := problem.Conflict("taken")
	for _, err := range []error{p, fmt.Errorf("save: %w", p), fmt.Errorf("a: %w", fmt.Errorf("b: %w", p)), errors.Join(errors.New("x"), p)} {
		if got := problem.As(err); got != p {
			t.Errorf("As(%v) = %v", err, got)
		}
	}
	for _, err := range []error{nil, errors.New("dynamodb: throttled"), fmt.Errorf("wrapped: %w", errors.New("x"))} {
		if got := problem.As(err); got != nil {
			t.Errorf("As(%v) = %+v, want a server fault", err, got)
		}
	}
}

// Each area's "not found" is the 404 problem (also for things that exist but are not the
// caller's), found through wrapping.
func TestAreasNotFound(t *testing.T) {
	for what, err := range map[string]error{"session": sessions.ErrNotFound, "team": teams.ErrNotFound,
		"template": templates.ErrNotFound, "API key": apikeys.ErrNotFound, "recording": recordings.ErrNotFound} {
		p := problem.As(fmt.Errorf("load: %w", err))
		if p == nil || p.Status != 404 || p.Type != base+"not-found" || p.Detail != what+" not found" {
			t.Errorf("%s: %+v", what, p)
		}
	}
}

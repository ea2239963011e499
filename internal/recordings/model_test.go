package recordings

import (
	"strings"
	"testing"
	"time"

	"streamspace/internal/ids"
	"streamspace/internal/problem"
)

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		typ, format, field string // field "" = valid
	}{
		{"video", "webm", ""}, {"audio", "ogg", ""}, {"screenshot", "png", ""}, {"log", "txt", ""},
		{"movie", "webm", "type"}, {"", "webm", "type"},
		{"video", "rfb", "format"}, // the gateway's format, not a client's
		{"video", "avi", "format"}, {"video", "", "format"},
	} {
		err := Validate(c.typ, c.format)
		if p := problem.As(err); c.field == "" && err != nil || c.field != "" && (p == nil || p.Errors[0].Field != c.field) {
			t.Errorf("%s/%s: %v, want field %q", c.typ, c.format, err, c.field)
		}
	}
}

// A gateway recording: recording now, stored under its session, kept retentionDays.
func TestNewGateway(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	r := NewGateway("sess_1", "system:gateway", PolicyTemplate, 30, now)
	if !ids.Valid("rec", r.ID) || r.SessionID != "sess_1" || r.Status != StatusRecording || !r.Active() ||
		r.Source != SourceGateway || r.Policy != PolicyTemplate || r.Format != GatewayFormat || r.Version != 1 {
		t.Errorf("%+v", r)
	}
	if r.StorageKey != "recordings/sess_1/"+r.ID+".rfb" || !strings.HasPrefix(r.ContentType(), "application/") {
		t.Errorf("stored at %s as %s", r.StorageKey, r.ContentType())
	}
	if !r.ExpiresAt.Equal(now.AddDate(0, 0, 30)) || r.Expiry != r.ExpiresAt.Unix() {
		t.Errorf("expires %v (%d)", r.ExpiresAt, r.Expiry)
	}
}

func TestActive(t *testing.T) {
	for s, want := range map[string]bool{StatusRecording: true, StatusStopping: true, StatusCompleted: false, StatusFailed: false} {
		if (Recording{Status: s}).Active() != want {
			t.Errorf("%s: active %v", s, !want)
		}
	}
}

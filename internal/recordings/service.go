package recordings

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/clock"
	"streamspace/internal/idempotency"
	"streamspace/internal/paging"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
)

// Service holds the recordings rules for the HTTP routes; handlers translate HTTP to calls on it.
type Service struct {
	Store    *Store
	Objects  Objects
	Sessions *sessions.Service
	// MaxRetentionDays is the bucket's object lifetime (default 365): no longer retention is accepted.
	MaxRetentionDays int
	Now              func() time.Time
}

const urlTTL = 15 * time.Minute

func (sv *Service) now() time.Time { return clock.UTC(sv.Now) }

// session checks the caller's access: view to read, control to record or change.
func (sv *Service) session(ctx context.Context, c auth.Caller, sessionID string, need access.Level) (sessions.Session, error) {
	se, g, err := sv.Sessions.Get(ctx, c, sessionID)
	if err != nil {
		return se, err
	}
	if g.Level < need {
		return se, problem.Forbidden("this needs " + need.String() + " access to the session")
	}
	return se, nil
}

// DefaultRetentionDays is a recording's retention when none is asked for (at most the bucket's).
const DefaultRetentionDays = 30

func (sv *Service) maxDays() int {
	if sv.MaxRetentionDays <= 0 {
		return 365
	}
	return sv.MaxRetentionDays
}

// CreateInput is the body of POST /sessions/{id}/recordings.
type CreateInput struct {
	Source        string `json:"source"`
	Type          string `json:"type"`
	Format        string `json:"format"`
	RetentionDays *int   `json:"retentionDays"`
}

func (in CreateInput) check() (string, error) {
	source := in.Source
	if source == "" {
		source = SourceClient
	}
	switch source {
	case SourceClient:
		if err := Validate(in.Type, in.Format); err != nil {
			return "", err
		}
	case SourceGateway:
		// The gateway records one thing: the desktop's picture, in the RFB recording format.
		if in.Type != "" && in.Type != GatewayType {
			return "", problem.Invalid("type", "the gateway records type video")
		}
		if in.Format != "" && in.Format != GatewayFormat {
			return "", problem.Invalid("format", "the gateway records format rfb")
		}
	default:
		return "", problem.Invalid("source", "must be client or gateway")
	}
	return source, nil
}

// Create starts a recording of a session the caller controls. The answer is the recording and,
// for a client recording, the form to upload its content with. replayed is true for an
// Idempotency-Key used before: the claim keeps the recording's id, not the answer (the upload
// URL is a credential), and a replay presigns a fresh one for the same recording.
func (sv *Service) Create(ctx context.Context, c auth.Caller, sessionID string, in CreateInput, key idempotency.Requested) (rec Recording, out map[string]any, replayed bool, err error) {
	source, err := in.check()
	if err != nil {
		return Recording{}, nil, false, err
	}
	maxDays := sv.maxDays()
	days := min(DefaultRetentionDays, maxDays)
	if in.RetentionDays != nil {
		if *in.RetentionDays < 1 || *in.RetentionDays > maxDays {
			return Recording{}, nil, false, problem.Invalid("retentionDays", fmt.Sprintf("must be from 1 to %d", maxDays))
		}
		days = *in.RetentionDays
	}
	se, err := sv.session(ctx, c, sessionID, access.Control)
	if err != nil {
		return Recording{}, nil, false, err
	}
	if n, err := sv.Store.Count(ctx, se.ID); err != nil {
		return Recording{}, nil, false, err
	} else if n >= MaxPerSession {
		return Recording{}, nil, false, problem.Conflict(fmt.Sprintf("the session has %d recordings, the most it may have: delete some first", n))
	}
	now := sv.now()
	if source == SourceGateway {
		if se.State != sessions.StateRunning {
			return Recording{}, nil, false, problem.Conflict("the gateway records a running session; this one is " + se.State)
		}
		rec = NewGateway(se.ID, c.UserID, "", days, now)
	} else {
		rec = newRecording(se.ID, in.Type, in.Format, c.UserID, days, now)
	}
	idem, err := key.Claim(in, now)
	if err != nil {
		return Recording{}, nil, false, err
	}
	if idem != nil {
		idem.ResourceID, idem.Status = rec.ID, http.StatusCreated
	}
	replay, err := sv.Store.Create(ctx, rec, idem)
	if err != nil {
		return Recording{}, nil, false, err
	}
	if replay != nil {
		if rec, err = sv.Store.Get(ctx, se.ID, replay.ID()); err != nil {
			return Recording{}, nil, false, err
		}
		if rec.Source == SourceClient && rec.Status != StatusRecording {
			return Recording{}, nil, false, problem.Conflict("the recording this Idempotency-Key created is already " + rec.Status + "; its upload URL is no longer given out")
		}
	}
	if rec.Source == SourceGateway {
		// Nobody uploads: the gateway writes the object itself.
		return rec, map[string]any{"recording": rec}, replay != nil, nil
	}
	form, err := sv.Objects.UploadForm(ctx, rec.StorageKey, rec.ContentType(), MaxUploadBytes, urlTTL)
	if err != nil {
		return Recording{}, nil, false, err
	}
	return rec, map[string]any{"recording": rec, "uploadUrl": form.URL, "uploadMethod": http.MethodPost,
		"uploadFields": form.Fields, "uploadMaxBytes": MaxUploadBytes, "uploadExpiresAt": now.Add(urlTTL)}, replay != nil, nil
}

// List is one page of a session's recordings, for those who may view the session.
func (sv *Service) List(ctx context.Context, c auth.Caller, sessionID string, q paging.Query) ([]Recording, string, error) {
	se, err := sv.session(ctx, c, sessionID, access.View)
	if err != nil {
		return nil, "", err
	}
	return sv.Store.List(ctx, se.ID, q.Limit, q.Cursor)
}

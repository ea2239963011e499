package recordings

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
)

// load reads a recording of a session the caller may view.
func (sv *Service) load(ctx context.Context, c auth.Caller, sessionID, id string) (Recording, access.Level, error) {
	se, g, err := sv.Sessions.Get(ctx, c, sessionID)
	if err != nil {
		return Recording{}, 0, err
	}
	if !ids.Valid("rec", id) {
		return Recording{}, g.Level, ErrNotFound
	}
	rec, err := sv.Store.Get(ctx, se.ID, id)
	return rec, g.Level, err
}

// loadToChange is load for a change: without control access, a recording that does not exist
// is refused like one that does (403), so the answer says nothing about which exist.
func (sv *Service) loadToChange(ctx context.Context, c auth.Caller, sessionID, id string) (Recording, error) {
	rec, level, err := sv.load(ctx, c, sessionID, id)
	if errors.Is(err, ErrNotFound) && level >= access.View && level < access.Control {
		return rec, problem.Forbidden("this needs control access to the session")
	}
	if err != nil {
		return rec, err
	}
	return rec, mayChange(c, rec, level)
}

// mayChange is who may stop, finish or delete a recording: control access to the session, as
// for creating one; a recording the session's template requires is the platform's, out of reach
// of the session's users: operators and admins only.
func mayChange(c auth.Caller, rec Recording, level access.Level) error {
	if rec.Policy == PolicyTemplate {
		if !c.IsOperator() {
			return problem.Forbidden("the session's template requires this recording: only operators and admins may stop or delete it")
		}
		return nil
	}
	if level < access.Control {
		return problem.Forbidden("this needs control access to the session")
	}
	return nil
}

// Download is a recording as GET answers it: with a short-lived download URL once completed.
type Download struct {
	Recording         Recording  `json:"recording"`
	DownloadURL       string     `json:"downloadUrl,omitempty"`
	DownloadExpiresAt *time.Time `json:"downloadExpiresAt,omitempty"`
}

// Get reads a recording of a session the caller may view.
func (sv *Service) Get(ctx context.Context, c auth.Caller, sessionID, id string) (Download, error) {
	rec, _, err := sv.load(ctx, c, sessionID, id)
	if err != nil {
		return Download{}, err
	}
	out := Download{Recording: rec}
	if rec.Status == StatusCompleted {
		u, err := sv.Objects.DownloadURL(ctx, rec.StorageKey, urlTTL)
		if err != nil {
			return Download{}, err
		}
		exp := sv.now().Add(urlTTL)
		out.DownloadURL, out.DownloadExpiresAt = u, &exp
	}
	return out, nil
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// PatchInput is the body of PATCH /sessions/{id}/recordings/{recordingId}: the fields given change.
type PatchInput struct {
	Status          string     `json:"status"`
	EndedAt         *time.Time `json:"endedAt"`
	DurationSeconds *int       `json:"durationSeconds"`
	SizeBytes       *int64     `json:"sizeBytes"`
	SHA256          string     `json:"sha256"`
}

func (in PatchInput) check() error {
	if in.Status != "" && in.Status != StatusCompleted && in.Status != StatusFailed {
		return problem.Invalid("status", "must be completed or failed")
	}
	if in.SHA256 != "" && !sha256RE.MatchString(in.SHA256) {
		return problem.Invalid("sha256", "must be 64 lower-case hex digits")
	}
	if in.SizeBytes != nil && *in.SizeBytes < 0 {
		return problem.Invalid("sizeBytes", "must not be negative")
	}
	if in.DurationSeconds != nil && *in.DurationSeconds < 0 {
		return problem.Invalid("durationSeconds", "must not be negative")
	}
	return nil
}

// Patch reports on a recording (finished, failed, measured) on the version ifMatch names (nil:
// any). A gateway recording can only be stopped: accepted is true, and the gateway completes it.
func (sv *Service) Patch(ctx context.Context, c auth.Caller, sessionID, id string, in PatchInput, ifMatch *int) (rec Recording, accepted bool, err error) {
	if err := in.check(); err != nil {
		return Recording{}, false, err
	}
	// Each attempt applies the given fields to a fresh read: two clients reporting different
	// fields concurrently both get theirs, and a finish raced by another finish is a 409.
	err = ddb.RetryOnVersionConflict(ifMatch, "recording", func() error {
		if rec, err = sv.loadToChange(ctx, c, sessionID, id); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(ifMatch, "recording", rec.Version); err != nil {
			return err
		}
		if rec.Status != StatusRecording {
			return problem.Conflict("the recording is " + rec.Status + " and can no longer change")
		}
		version, now := rec.Version, sv.now()
		if rec.Source == SourceGateway {
			if err := gatewayPatch(in.Status, in.EndedAt, in.DurationSeconds, in.SizeBytes, in.SHA256); err != nil {
				return err
			}
			// The gateway sees the stop within its next round (2 s), ends the object and then
			// completes the recording with what it measured.
			if err := sv.Store.Stop(ctx, rec, version, now); err != nil {
				return err
			}
			rec.Status, rec.UpdatedAt, rec.Version, accepted = StatusStopping, now, version+1, true
			return nil
		}
		if in.Status == StatusCompleted {
			// What was stored counts, not what the client says: nothing uploaded is a 409, and
			// so is a size the object does not have.
			size, err := sv.Objects.Size(ctx, rec.StorageKey)
			if errors.Is(err, ErrNoObject) {
				return problem.Conflict("nothing was uploaded for this recording")
			} else if err != nil {
				return err
			}
			if in.SizeBytes != nil && *in.SizeBytes != size {
				return problem.Conflict(fmt.Sprintf("the uploaded object has %d bytes, not %d", size, *in.SizeBytes))
			}
			in.SizeBytes = &size
		}
		if in.Status != "" {
			rec.Status = in.Status
			end := now
			if in.EndedAt != nil {
				end = in.EndedAt.UTC()
			}
			rec.EndedAt = &end
			rec.DurationSeconds = int(end.Sub(rec.StartedAt).Seconds())
		}
		if in.DurationSeconds != nil {
			rec.DurationSeconds = *in.DurationSeconds
		}
		if in.SizeBytes != nil {
			rec.SizeBytes = *in.SizeBytes
		}
		if in.SHA256 != "" {
			rec.SHA256 = in.SHA256
		}
		rec.UpdatedAt, rec.Version = now, version+1
		if err := sv.Store.Update(ctx, rec, version); err != nil {
			return err
		}
		if rec.Status != StatusRecording {
			// Finished: its upload form is dead (locally; in S3 it expires on its own).
			return sv.Objects.Seal(ctx, rec.StorageKey)
		}
		return nil
	})
	return rec, accepted, err
}

// gatewayPatch checks a PATCH of a gateway recording: it can only be stopped; what it measures
// is the gateway's to say.
func gatewayPatch(status string, endedAt *time.Time, dur *int, size *int64, sha string) error {
	switch {
	case endedAt != nil:
		return problem.Invalid("endedAt", "the gateway measures a gateway recording")
	case dur != nil:
		return problem.Invalid("durationSeconds", "the gateway measures a gateway recording")
	case size != nil:
		return problem.Invalid("sizeBytes", "the gateway measures a gateway recording")
	case sha != "":
		return problem.Invalid("sha256", "the gateway measures a gateway recording")
	case status != StatusCompleted:
		return problem.Invalid("status", "a gateway recording is stopped with status completed")
	}
	return nil
}

// Delete removes a recording and its content.
func (sv *Service) Delete(ctx context.Context, c auth.Caller, sessionID, id string) error {
	rec, err := sv.loadToChange(ctx, c, sessionID, id)
	if err != nil {
		return err
	}
	if rec.Source == SourceGateway && rec.Active() {
		// The gateway is writing its object: stop it first, so nothing is left behind.
		return problem.Conflict("the gateway is still recording; stop the recording first")
	}
	// The object goes first: a failure leaves the record, so the delete can be retried. Sealed
	// first, an upload form still alive cannot bring it back as an orphan.
	if err := sv.Objects.Seal(ctx, rec.StorageKey); err != nil {
		return err
	}
	if err := sv.Objects.Delete(ctx, rec.StorageKey); err != nil {
		return err
	}
	return sv.Store.Delete(ctx, rec.SessionID, rec.ID)
}

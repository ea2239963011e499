package recordings

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"streamspace/internal/access"
	"streamspace/internal/ddb"
	"streamspace/internal/httpx"
	"streamspace/internal/idempotency"
	"streamspace/internal/ids"
	"streamspace/internal/problem"
	"streamspace/internal/sessions"
)

// Service serves the recordings routes.
type Service struct {
	Store    *Store
	Objects  Objects
	Sessions *sessions.Service
	// MaxRetentionDays is the bucket's object lifetime (default 365): no longer retention is accepted.
	MaxRetentionDays int
	Now              func() time.Time
}

const urlTTL = 15 * time.Minute

func (sv *Service) now() time.Time {
	if sv.Now != nil {
		return sv.Now().UTC()
	}
	return time.Now().UTC()
}

// Register adds the recordings routes.
func Register(rt *httpx.Router, sv *Service) {
	rt.Handle("POST /api/v1/sessions/{id}/recordings", sv.create)
	rt.Handle("GET /api/v1/sessions/{id}/recordings", sv.list)
	rt.Handle("GET /api/v1/sessions/{id}/recordings/{recordingId}", sv.get)
	rt.Handle("PATCH /api/v1/sessions/{id}/recordings/{recordingId}", sv.patch)
	rt.Handle("DELETE /api/v1/sessions/{id}/recordings/{recordingId}", sv.delete)
}

// session checks the caller's access: view to read, control to record or change.
func (sv *Service) session(r *http.Request, need access.Level) (sessions.Session, error) {
	se, g, err := sv.Sessions.Get(r.Context(), httpx.Caller(r), r.PathValue("id"))
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

func (sv *Service) create(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Source        string `json:"source"`
		Type          string `json:"type"`
		Format        string `json:"format"`
		RetentionDays *int   `json:"retentionDays"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	source := in.Source
	if source == "" {
		source = SourceClient
	}
	switch source {
	case SourceClient:
		if err := Validate(in.Type, in.Format); err != nil {
			return err
		}
	case SourceGateway:
		// The gateway records one thing: the desktop's picture, in the RFB recording format.
		if in.Type != "" && in.Type != GatewayType {
			return problem.Invalid("type", "the gateway records type video")
		}
		if in.Format != "" && in.Format != GatewayFormat {
			return problem.Invalid("format", "the gateway records format rfb")
		}
	default:
		return problem.Invalid("source", "must be client or gateway")
	}
	maxDays := sv.maxDays()
	days := min(DefaultRetentionDays, maxDays)
	if in.RetentionDays != nil {
		if *in.RetentionDays < 1 || *in.RetentionDays > maxDays {
			return problem.Invalid("retentionDays", fmt.Sprintf("must be from 1 to %d", maxDays))
		}
		days = *in.RetentionDays
	}
	se, err := sv.session(r, access.Control)
	if err != nil {
		return err
	}
	if n, err := sv.Store.Count(r.Context(), se.ID); err != nil {
		return err
	} else if n >= MaxPerSession {
		return problem.Conflict(fmt.Sprintf("the session has %d recordings, the most it may have: delete some first", n))
	}
	now := sv.now()
	var rec Recording
	if source == SourceGateway {
		if se.State != sessions.StateRunning {
			return problem.Conflict("the gateway records a running session; this one is " + se.State)
		}
		rec = NewGateway(se.ID, httpx.Caller(r).UserID, "", days, now)
	} else {
		rec = newRecording(se.ID, in.Type, in.Format, httpx.Caller(r).UserID, days, now)
	}
	// The claim keeps the recording's id, not the answer: the upload URL is a credential, and a
	// replay presigns a fresh one for the same recording.
	idem, err := idempotency.FromRequest(r, httpx.Caller(r).UserID, in, now)
	if err != nil {
		return err
	}
	if idem != nil {
		idem.ResourceID, idem.Status = rec.ID, http.StatusCreated
	}
	replay, err := sv.Store.Create(r.Context(), rec, idem)
	if err != nil {
		return err
	}
	if replay != nil {
		if rec, err = sv.Store.Get(r.Context(), se.ID, replay.ID()); err != nil {
			return err
		}
		if rec.Source == SourceClient && rec.Status != StatusRecording {
			return problem.Conflict("the recording this Idempotency-Key created is already " + rec.Status + "; its upload URL is no longer given out")
		}
		idempotency.MarkReplayed(w)
	}
	w.Header().Set("Location", "/api/v1/sessions/"+se.ID+"/recordings/"+rec.ID)
	if rec.Source == SourceGateway {
		// Nobody uploads: the gateway writes the object itself.
		httpx.WriteJSON(w, http.StatusCreated, map[string]any{"recording": rec})
		return nil
	}
	form, err := sv.Objects.UploadForm(r.Context(), rec.StorageKey, rec.ContentType(), MaxUploadBytes, urlTTL)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"recording": rec, "uploadUrl": form.URL, "uploadMethod": http.MethodPost,
		"uploadFields": form.Fields, "uploadMaxBytes": MaxUploadBytes, "uploadExpiresAt": now.Add(urlTTL)})
	return nil
}

func (sv *Service) list(w http.ResponseWriter, r *http.Request) error {
	se, err := sv.session(r, access.View)
	if err != nil {
		return err
	}
	limit, err := httpx.QueryInt(r, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	items, next, err := sv.Store.List(r.Context(), se.ID, limit, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	httpx.WritePage(w, items, next)
	return nil
}

// load reads a recording of a session the caller may view.
func (sv *Service) load(r *http.Request) (Recording, access.Level, error) {
	se, g, err := sv.Sessions.Get(r.Context(), httpx.Caller(r), r.PathValue("id"))
	if err != nil {
		return Recording{}, 0, err
	}
	id := r.PathValue("recordingId")
	if !ids.Valid("rec", id) {
		return Recording{}, g.Level, ErrNotFound
	}
	rec, err := sv.Store.Get(r.Context(), se.ID, id)
	return rec, g.Level, err
}

// loadToChange is load for a change: without control access, a recording that does not exist
// is refused like one that does (403), so the answer says nothing about which exist.
func (sv *Service) loadToChange(r *http.Request) (Recording, error) {
	rec, level, err := sv.load(r)
	if errors.Is(err, ErrNotFound) && level >= access.View && level < access.Control {
		return rec, problem.Forbidden("this needs control access to the session")
	}
	if err != nil {
		return rec, err
	}
	return rec, mayChange(r, rec, level)
}

// mayChange is who may stop, finish or delete a recording: control access to the session, as
// for creating one; a recording the session's template requires is the platform's, out of reach
// of the session's users: operators and admins only.
func mayChange(r *http.Request, rec Recording, level access.Level) error {
	if rec.Policy == PolicyTemplate {
		if !httpx.Caller(r).IsOperator() {
			return problem.Forbidden("the session's template requires this recording: only operators and admins may stop or delete it")
		}
		return nil
	}
	if level < access.Control {
		return problem.Forbidden("this needs control access to the session")
	}
	return nil
}

func (sv *Service) get(w http.ResponseWriter, r *http.Request) error {
	rec, _, err := sv.load(r)
	if err != nil {
		return err
	}
	httpx.SetETag(w, rec.Version)
	out := map[string]any{"recording": rec}
	if rec.Status == StatusCompleted {
		u, err := sv.Objects.DownloadURL(r.Context(), rec.StorageKey, urlTTL)
		if err != nil {
			return err
		}
		out["downloadUrl"], out["downloadExpiresAt"] = u, sv.now().Add(urlTTL)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (sv *Service) patch(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status          string     `json:"status"`
		EndedAt         *time.Time `json:"endedAt"`
		DurationSeconds *int       `json:"durationSeconds"`
		SizeBytes       *int64     `json:"sizeBytes"`
		SHA256          string     `json:"sha256"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
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
	im, err := httpx.IfMatch(r)
	if err != nil {
		return err
	}
	var rec Recording
	status := http.StatusOK
	// Each attempt applies the given fields to a fresh read: two clients reporting different
	// fields concurrently both get theirs, and a finish raced by another finish is a 409.
	err = ddb.RetryOnVersionConflict(im, "recording", func() error {
		if rec, err = sv.loadToChange(r); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(im, "recording", rec.Version); err != nil {
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
			if err := sv.Store.Stop(r.Context(), rec, version, now); err != nil {
				return err
			}
			rec.Status, rec.UpdatedAt, rec.Version, status = StatusStopping, now, version+1, http.StatusAccepted
			return nil
		}
		if in.Status == StatusCompleted {
			// What was stored counts, not what the client says: nothing uploaded is a 409, and
			// so is a size the object does not have.
			size, err := sv.Objects.Size(r.Context(), rec.StorageKey)
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
		if err := sv.Store.Update(r.Context(), rec, version); err != nil {
			return err
		}
		if rec.Status != StatusRecording {
			// Finished: its upload form is dead (locally; in S3 it expires on its own).
			return sv.Objects.Seal(r.Context(), rec.StorageKey)
		}
		return nil
	})
	if err != nil {
		return err
	}
	httpx.SetETag(w, rec.Version)
	httpx.WriteJSON(w, status, map[string]any{"recording": rec})
	return nil
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

func (sv *Service) delete(w http.ResponseWriter, r *http.Request) error {
	rec, err := sv.loadToChange(r)
	if err != nil {
		return err
	}
	if rec.Source == SourceGateway && rec.Active() {
		// The gateway is writing its object: stop it first, so nothing is left behind.
		return problem.Conflict("the gateway is still recording; stop the recording first")
	}
	// The object goes first: a failure leaves the record, so the delete can be retried. Sealed
	// first, an upload form still alive cannot bring it back as an orphan.
	if err := sv.Objects.Seal(r.Context(), rec.StorageKey); err != nil {
		return err
	}
	if err := sv.Objects.Delete(r.Context(), rec.StorageKey); err != nil {
		return err
	}
	if err := sv.Store.Delete(r.Context(), rec.SessionID, rec.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

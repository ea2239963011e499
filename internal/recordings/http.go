package recordings

import (
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

func (sv *Service) create(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Type          string `json:"type"`
		Format        string `json:"format"`
		RetentionDays *int   `json:"retentionDays"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if err := Validate(in.Type, in.Format); err != nil {
		return err
	}
	maxDays := sv.MaxRetentionDays
	if maxDays <= 0 {
		maxDays = 365
	}
	days := min(30, maxDays)
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
	now := sv.now()
	id := ids.New("rec")
	rec := Recording{ID: id, SessionID: se.ID, Type: in.Type, Format: in.Format, Status: StatusRecording, StartedAt: now,
		StorageKey: "recordings/" + se.ID + "/" + id + "." + in.Format, RetentionDays: days, ExpiresAt: now.AddDate(0, 0, days),
		CreatedBy: httpx.Caller(r).UserID, CreatedAt: now, UpdatedAt: now, Version: 1}
	rec.Expiry = rec.ExpiresAt.Unix()
	// The claim keeps the recording's id, not the answer: the upload URL is a credential, and a
	// replay presigns a fresh one for the same recording.
	idem, err := idempotency.FromRequest(r, httpx.Caller(r).UserID, in, now)
	if err != nil {
		return err
	}
	if idem != nil {
		idem.ResourceID, idem.Status = id, http.StatusCreated
	}
	replay, err := sv.Store.Create(r.Context(), rec, idem)
	if err != nil {
		return err
	}
	if replay != nil {
		if rec, err = sv.Store.Get(r.Context(), se.ID, replay.ID()); err != nil {
			return err
		}
		if rec.Status != StatusRecording {
			return problem.Conflict("the recording this Idempotency-Key created is already " + rec.Status + "; its upload URL is no longer given out")
		}
		idempotency.MarkReplayed(w)
	}
	upload, err := sv.Objects.UploadURL(r.Context(), rec.StorageKey, rec.ContentType(), urlTTL)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/sessions/"+se.ID+"/recordings/"+rec.ID)
	httpx.WriteJSON(w, http.StatusCreated, map[string]any{"recording": rec, "uploadUrl": upload, "uploadMethod": http.MethodPut,
		"uploadHeaders": map[string]string{"Content-Type": rec.ContentType()}, "uploadExpiresAt": now.Add(urlTTL)})
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

func (sv *Service) load(r *http.Request, need access.Level) (Recording, error) {
	se, err := sv.session(r, need)
	if err != nil {
		return Recording{}, err
	}
	id := r.PathValue("recordingId")
	if !ids.Valid("rec", id) {
		return Recording{}, ErrNotFound
	}
	return sv.Store.Get(r.Context(), se.ID, id)
}

func (sv *Service) get(w http.ResponseWriter, r *http.Request) error {
	rec, err := sv.load(r, access.View)
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
	// Each attempt applies the given fields to a fresh read: two clients reporting different
	// fields concurrently both get theirs, and a finish raced by another finish is a 409.
	err = ddb.RetryOnVersionConflict(im, "recording", func() error {
		if rec, err = sv.load(r, access.Control); err != nil {
			return err
		}
		if err := ddb.CheckIfMatch(im, "recording", rec.Version); err != nil {
			return err
		}
		if rec.Status != StatusRecording {
			return problem.Conflict("the recording is " + rec.Status + " and can no longer change")
		}
		version, now := rec.Version, sv.now()
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
		return sv.Store.Update(r.Context(), rec, version)
	})
	if err != nil {
		return err
	}
	httpx.SetETag(w, rec.Version)
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"recording": rec})
	return nil
}

func (sv *Service) delete(w http.ResponseWriter, r *http.Request) error {
	rec, err := sv.load(r, access.Control)
	if err != nil {
		return err
	}
	// The object goes first: a failure leaves the record, so the delete can be retried.
	if err := sv.Objects.Delete(r.Context(), rec.StorageKey); err != nil {
		return err
	}
	if err := sv.Store.Delete(r.Context(), rec.SessionID, rec.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package gateway

// One recording a gateway task makes (a job): it opens or continues the object, records the
// desktop through its own RFB connection, and ends as its Recorder or its own writing decides.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"streamspace/internal/recordings"
	"streamspace/internal/rfb"
	"streamspace/internal/sessions"
	"streamspace/internal/tickets"
)

// How a recording's work ends.
const (
	endFinish  = iota + 1 // complete (or fail) the recording
	endRelease            // checkpoint and give the lease back (this task is stopping)
	endAbandon            // the lease is not ours any more: touch nothing
	endDiscard            // the recording was deleted: drop the upload
)

type end struct {
	kind   int
	status string
	reason string
	// next: a template's recording continues past a cap.
	next bool
}

// job is one recording this task makes.
type job struct {
	rc    *Recorder
	rec   recordings.Recording
	lease recordings.Lease

	leaseMu    sync.Mutex
	renewedAtT time.Time
	leaseUntil time.Time

	stopOnce sync.Once
	stopCh   chan struct{}
	why      end

	// The writing state, shared by the desktop reader and the controller.
	mu       sync.Mutex
	up       recordings.Upload
	w        *rfb.RecordingWriter
	buf      bytes.Buffer
	saved    int       // buf.Len() at the last checkpoint
	lastSave time.Time // when the tail was last checkpointed
	log      *slog.Logger
}

func (j *job) renewed(at, until time.Time) {
	j.leaseMu.Lock()
	j.renewedAtT, j.leaseUntil = at, until
	j.leaseMu.Unlock()
}

func (j *job) renewedAt() time.Time {
	j.leaseMu.Lock()
	defer j.leaseMu.Unlock()
	return j.renewedAtT
}

// leaseOK reports whether this task may still write: its lease has more than the margin left.
func (j *job) leaseOK() bool {
	j.leaseMu.Lock()
	defer j.leaseMu.Unlock()
	return time.Now().Add(j.rc.leaseMargin()).Before(j.leaseUntil)
}

// stop asks the job to end; the first reason wins.
func (j *job) stop(e end) {
	j.stopOnce.Do(func() {
		j.why = e
		close(j.stopCh)
	})
}

func (j *job) stopped() bool {
	select {
	case <-j.stopCh:
		return true
	default:
		return false
	}
}

// errLeaseStale: the lease was not confirmed recently enough to write under it.
var errLeaseStale = errors.New("the lease was not renewed in time")

// errCap: the recording reached a cap while writing.
var errCap = errors.New("cap")

func (j *job) run() {
	j.log = j.rc.Log.With(slog.String("recordingId", j.rec.ID), slog.String("sessionId", j.rec.SessionID), slog.Int("leaseGen", j.lease.Gen))
	defer func() {
		// A fault in one recording stays in it: the recording fails, the gateway goes on.
		if p := recover(); p != nil {
			j.log.Error("recording panicked", slog.Any("panic", p))
			j.finish(end{kind: endFinish, status: recordings.StatusFailed, reason: fmt.Sprintf("the gateway failed: %v", p)})
		}
	}()
	if err := j.open(); err != nil {
		j.log.Error("recording not opened", slog.String("error", err.Error()))
		if errors.Is(err, recordings.ErrLeaseLost) {
			return
		}
		j.finish(end{kind: endFinish, status: recordings.StatusFailed, reason: ReasonGatewayFailed + ": " + err.Error()})
		return
	}
	j.log.Info("recording", slog.Int("parts", len(j.up.Parts)), slog.Int("segments", j.up.Segments))
	j.record()
	j.finish(j.why)
}

// opCtx bounds one store operation of a job. It is not the gateway's context: a job's work goes on
// through the gateway's shutdown (it checkpoints and releases).
func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// open starts the object, or continues the one a previous holder left.
func (j *job) open() error {
	ctx, cancel := opCtx()
	defer cancel()
	if j.lease.Gen > maxLeaseGen {
		return fmt.Errorf("taken over %d times: no part numbers left", j.lease.Gen-1)
	}
	if j.rec.Upload == nil || j.rec.Upload.ID == "" {
		id, err := retry(ctx, func() (string, error) {
			return j.rc.Objects.CreateUpload(ctx, j.rec.StorageKey, j.rec.ContentType())
		})
		if err != nil {
			return err
		}
		j.up = recordings.Upload{ID: id, Origin: time.Now().UTC()}
		// Saved at once: a task that takes over continues this upload, whatever happens next.
		if err := j.rc.Store.SaveUpload(ctx, j.rec.SessionID, j.rec.ID, j.lease, j.up); err != nil {
			return err
		}
	} else {
		j.up = *j.rec.Upload
		if j.up.TailSize > 0 {
			tail, err := j.rc.Objects.Get(ctx, recordings.TailKey(j.rec.StorageKey), j.up.TailSize)
			sum := sha256.Sum256(tail)
			if err != nil || hex.EncodeToString(sum[:]) != j.up.TailSHA256 {
				// The checkpoint does not match (its task died while writing it): what it held
				// is lost, the rest continues.
				j.log.Warn("recording checkpoint unusable", slog.Any("error", err))
				j.up.TailSize, j.up.TailSHA256 = 0, ""
			} else {
				j.buf.Write(tail)
			}
		}
	}
	j.saved, j.lastSave = j.buf.Len(), time.Now()
	j.w = rfb.NewRecordingWriter(&j.buf, j.up.Origin)
	j.w.Continue(j.up.LastOffset)
	if len(j.up.Parts) == 0 && j.buf.Len() == 0 {
		return j.w.Header(rfb.RecordingHeader{RecordingID: j.rec.ID, SessionID: j.rec.SessionID, PixelFormat: rfb.RGBA32,
			Encodings: []string{"copyrect", "raw", "desktopsize"}})
	}
	return nil
}

// record connects to the desktop and records until the job is stopped; a lost connection is
// opened again (a new segment) while the session runs.
func (j *job) record() {
	reason := "start"
	if j.up.Segments > 0 {
		reason = "takeover"
	}
	backoff := time.Second
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for !j.stopped() {
		conn, init, err := j.connect()
		if err != nil {
			j.log.Warn("recording: desktop not reached", slog.String("error", err.Error()))
			if !j.wait(backoff) {
				return
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = time.Second
		j.mu.Lock()
		err = j.w.Segment(time.Now(), rfb.RecordingSegment{Width: int(init.Width), Height: int(init.Height), Name: init.Name, Reason: reason})
		j.up.Segments++
		j.mu.Unlock()
		if err != nil {
			conn.Close()
			j.stop(end{kind: endFinish, status: recordings.StatusFailed, reason: ReasonGatewayFailed + ": " + err.Error()})
			return
		}
		reason = "reconnect"
		readErr := make(chan error, 1)
		go func() {
			defer func() {
				// The reader writes the recording too: a fault there fails this recording only.
				if p := recover(); p != nil {
					readErr <- writeError{fmt.Errorf("the gateway failed: %v", p)}
				}
			}()
			readErr <- j.read(conn, init)
		}()
	connected:
		for {
			select {
			case <-j.stopCh:
				conn.Close()
				<-readErr
				return
			case err := <-readErr:
				conn.Close()
				if j.writeFailed(err) {
					return
				}
				j.log.Info("recording: desktop connection ended", slog.String("error", err.Error()))
				if !j.wait(time.Second) {
					return
				}
				break connected
			case <-tick.C:
				j.tick()
			}
		}
	}
}

// writeFailed stops the job when the desktop reader ended because of the recording's own
// writing rather than the desktop.
func (j *job) writeFailed(err error) bool {
	var we writeError
	if !errors.As(err, &we) {
		return false
	}
	switch {
	case errors.Is(we.err, errCap):
		j.stop(j.capEnd(we.err.Error()))
	case errors.Is(we.err, recordings.ErrLeaseLost), errors.Is(we.err, errLeaseStale):
		j.stop(end{kind: endAbandon, reason: we.err.Error()})
	default:
		j.stop(end{kind: endFinish, status: recordings.StatusFailed, reason: ReasonGatewayFailed + ": " + we.err.Error()})
	}
	return true
}

func (j *job) capEnd(reason string) end {
	return end{kind: endFinish, status: recordings.StatusCompleted, reason: reason, next: j.rec.Policy == recordings.PolicyTemplate}
}

// wait sleeps d unless the job is stopped first (false).
func (j *job) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-j.stopCh:
		return false
	case <-t.C:
		return true
	}
}

// tick enforces the caps and checkpoints the tail when due.
func (j *job) tick() {
	j.mu.Lock()
	size := j.up.Size + int64(j.buf.Len()+j.w.Pending())
	elapsed := time.Since(j.up.Origin)
	j.mu.Unlock()
	switch {
	case elapsed >= j.rc.MaxDuration:
		j.stop(j.capEnd(fmt.Sprintf("the duration cap (%s) was reached", j.rc.MaxDuration)))
		return
	case size >= j.rc.MaxBytes:
		j.stop(j.capEnd(fmt.Sprintf("the size cap (%d bytes) was reached", j.rc.MaxBytes)))
		return
	}
	if err := j.checkpointIfDue(false); err != nil {
		j.log.Warn("recording: checkpoint", slog.String("error", err.Error()))
		if errors.Is(err, recordings.ErrLeaseLost) || errors.Is(err, errLeaseStale) {
			j.stop(end{kind: endAbandon, reason: err.Error()})
		}
	}
}

// connect opens the recorder's own connection to the session's desktop.
func (j *job) connect() (net.Conn, rfb.ServerInit, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	se, err := j.rc.Sessions.Get(ctx, j.rec.SessionID)
	if errors.Is(err, sessions.ErrNotFound) {
		j.stop(end{kind: endFinish, status: recordings.StatusCompleted, reason: "the session no longer exists"})
		return nil, rfb.ServerInit{}, err
	}
	if err != nil {
		return nil, rfb.ServerInit{}, err
	}
	if why := notRunning(se); why != "" || se.Runtime == nil || se.Runtime.Upstream == "" {
		if why != "" {
			j.stop(end{kind: endFinish, status: recordings.StatusCompleted, reason: why})
		}
		return nil, rfb.ServerInit{}, errors.New("the desktop is not running")
	}
	network, addr, err := tickets.ParseUpstream(se.Runtime.Upstream)
	if err != nil {
		return nil, rfb.ServerInit{}, err
	}
	conn, err := j.rc.Dial(ctx, network, addr)
	if err != nil {
		return nil, rfb.ServerInit{}, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	init, err := rfb.Dial(conn, se.Runtime.Secret)
	if err == nil {
		err = rfb.Setup(conn)
	}
	if err == nil {
		_, err = conn.Write(rfb.UpdateRequest(false, 0, 0, init.Width, init.Height))
	}
	if err != nil {
		conn.Close()
		return nil, rfb.ServerInit{}, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, init, nil
}

// writeError marks a reader's failure that came from writing the recording.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }

// tee records every byte read from the desktop as it arrives.
type tee struct {
	conn net.Conn
	j    *job
}

func (t tee) Read(p []byte) (int, error) {
	n, err := t.conn.Read(p)
	if n > 0 {
		if werr := t.j.data(p[:n]); werr != nil {
			return n, writeError{werr}
		}
	}
	return n, err
}

// read follows the desktop's messages (to know when an update ended) and asks for the next
// update at most FPS times a second; everything read is recorded on the way.
func (j *job) read(conn net.Conn, init rfb.ServerInit) error {
	br := bufio.NewReaderSize(tee{conn: conn, j: j}, 32<<10)
	sk := &rfb.Skipper{Width: int(init.Width), Height: int(init.Height)}
	every := time.Second / time.Duration(j.rc.FPS)
	last := time.Now()
	for {
		t, err := sk.ReadServerMessage(br)
		if err != nil {
			return err
		}
		if t != rfb.MsgFramebufferUpdate {
			continue
		}
		if wait := time.Until(last.Add(every)); wait > 0 && !j.wait(wait) {
			return errors.New("stopped")
		}
		// After a size change the whole picture is asked for again.
		incremental := !sk.Resized
		sk.Resized = false
		last = time.Now()
		if _, err := conn.Write(rfb.UpdateRequest(incremental, 0, 0, uint16(sk.Width), uint16(sk.Height))); err != nil {
			return err
		}
	}
}

// data records bytes from the desktop; a full part is uploaded at once.
func (j *job) data(b []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.w.Data(time.Now(), b); err != nil {
		return err
	}
	if j.buf.Len() < j.rc.PartSize {
		return nil
	}
	return j.flushPart()
}

// flushPart uploads everything written since the last part as the next part and records it
// under the lease (j.mu held). Every part ends with a whole chunk, so the parts so far always
// make a readable recording.
func (j *job) flushPart() error {
	if !j.leaseOK() {
		return errLeaseStale
	}
	inLease := 0
	for _, p := range j.up.Parts {
		if int(p.N) > (j.lease.Gen-1)*partsPerLease {
			inLease++
		}
	}
	if inLease >= partsPerLease {
		return fmt.Errorf("%w: the part numbers of this lease are used up", errCap)
	}
	if err := j.w.Cut(); err != nil {
		return err
	}
	body := j.buf.Bytes()
	n := int32((j.lease.Gen-1)*partsPerLease + inLease + 1)
	ctx, cancel := opCtx()
	defer cancel()
	etag, err := retry(ctx, func() (string, error) { return j.rc.Objects.UploadPart(ctx, j.rec.StorageKey, j.up.ID, n, body) })
	if err != nil {
		return err
	}
	state, err := hashAfter(j.up.Hash, body)
	if err != nil {
		return err
	}
	up := j.up
	up.Parts = append(append([]recordings.Part(nil), up.Parts...), recordings.Part{N: n, ETag: etag, Size: int64(len(body))})
	up.Size += int64(len(body))
	up.Hash, up.TailSize, up.TailSHA256 = state, 0, ""
	up.LastOffset = j.w.Offset(time.Now())
	if err := j.rc.Store.SaveUpload(ctx, j.rec.SessionID, j.rec.ID, j.lease, up); err != nil {
		return err
	}
	j.up = up
	j.buf.Reset()
	j.saved = 0
	return nil
}

// hashAfter continues a SHA-256 from its saved state over b and returns the new state.
func hashAfter(state, b []byte) ([]byte, error) {
	h := sha256.New()
	if len(state) > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return nil, err
		}
	}
	h.Write(b)
	return h.(encoding.BinaryMarshaler).MarshalBinary()
}

func hashSum(state []byte) (string, error) {
	h := sha256.New()
	if len(state) > 0 {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkpointIfDue saves the tail not yet in a part (force: whatever the time), so a task that
// takes over loses at most Checkpoint of the recording.
func (j *job) checkpointIfDue(force bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !force && time.Since(j.savedAt()) < j.rc.Checkpoint {
		return nil
	}
	if !j.leaseOK() {
		return errLeaseStale
	}
	if err := j.w.Cut(); err != nil {
		return err
	}
	if j.buf.Len() == j.saved {
		j.markSaved()
		return nil
	}
	ctx, cancel := opCtx()
	defer cancel()
	tail := j.buf.Bytes()
	if _, err := retry(ctx, func() (struct{}, error) {
		return struct{}{}, j.rc.Objects.Put(ctx, recordings.TailKey(j.rec.StorageKey), j.rec.ContentType(), tail)
	}); err != nil {
		return err
	}
	sum := sha256.Sum256(tail)
	up := j.up
	up.TailSize, up.TailSHA256, up.LastOffset = int64(len(tail)), hex.EncodeToString(sum[:]), j.w.Offset(time.Now())
	if err := j.rc.Store.SaveUpload(ctx, j.rec.SessionID, j.rec.ID, j.lease, up); err != nil {
		return err
	}
	j.up = up
	j.saved = len(tail)
	j.markSaved()
	return nil
}

func (j *job) savedAt() time.Time { return j.lastSave } // j.mu held

func (j *job) markSaved() { j.lastSave = time.Now() } // j.mu held

// finish ends the job as asked.
func (j *job) finish(e end) {
	switch e.kind {
	case endAbandon:
		ctx, cancel := opCtx()
		defer cancel()
		if _, err := j.rc.Store.Get(ctx, j.rec.SessionID, j.rec.ID); errors.Is(err, recordings.ErrNotFound) {
			// Not taken over but deleted (a write under the lease failed first): drop the upload.
			j.dropObjects(ctx)
			j.log.Info("recording dropped", slog.String("reason", "the recording was deleted"))
			return
		}
		j.log.Warn("recording left to another task", slog.String("reason", e.reason))
		return
	case endDiscard:
		ctx, cancel := opCtx()
		defer cancel()
		j.dropObjects(ctx)
		j.log.Info("recording dropped", slog.String("reason", e.reason))
		return
	case endRelease:
		ctx, cancel := opCtx()
		defer cancel()
		if err := j.checkpointIfDue(true); err != nil {
			j.log.Warn("recording: last checkpoint", slog.String("error", err.Error()))
			return // the lease runs out and the last good checkpoint is taken over
		}
		if err := j.rc.Store.Release(ctx, j.rec.SessionID, j.rec.ID, j.lease, j.up, time.Now()); err != nil {
			j.log.Warn("recording: release", slog.String("error", err.Error()))
			return
		}
		j.log.Info("recording released", slog.String("reason", e.reason))
		return
	}
	ctx, cancel := opCtx()
	defer cancel()
	now := time.Now()
	o, err := j.complete(ctx, e, now)
	if errors.Is(err, errLeaseStale) || errors.Is(err, recordings.ErrLeaseLost) {
		// Not ours to end any more: the task that takes over ends it from the last checkpoint.
		j.log.Warn("recording left to another task", slog.String("reason", err.Error()))
		return
	}
	if err != nil {
		j.log.Error("recording: completing the object", slog.String("error", err.Error()))
		j.dropObjects(ctx)
		o = recordings.Outcome{Status: recordings.StatusFailed, EndedAt: now, Duration: now.Sub(j.up.Origin),
			Reason: ReasonGatewayFailed + ": " + err.Error()}
	}
	var next *recordings.Recording
	if e.next {
		n := recordings.NewGateway(j.rec.SessionID, recordings.PolicyCreator, recordings.PolicyTemplate, j.rec.RetentionDays, now)
		next = &n
	}
	_, err = retry(ctx, func() (struct{}, error) {
		return struct{}{}, j.rc.Store.Finish(ctx, j.rec.SessionID, j.rec.ID, j.lease, o, now, next)
	})
	if err != nil {
		j.log.Error("recording: finish", slog.String("error", err.Error()))
		return
	}
	j.log.Info("recording ended", slog.String("status", o.Status), slog.String("reason", o.Reason),
		slog.Int64("sizeBytes", o.SizeBytes), slog.Int64("durationMs", o.Duration.Milliseconds()), slog.Int("parts", len(j.up.Parts)))
}

// complete writes the end record and the last part, and completes the object; a recording of
// nothing (the desktop never reached) fails instead.
func (j *job) complete(ctx context.Context, e end, now time.Time) (recordings.Outcome, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e.status != recordings.StatusCompleted || j.up.Segments == 0 {
		reason := e.reason
		if e.status == recordings.StatusCompleted {
			reason = ReasonNothing + " (" + e.reason + ")"
		}
		j.dropObjects(ctx)
		return recordings.Outcome{Status: recordings.StatusFailed, EndedAt: now, Duration: now.Sub(j.up.Origin), Reason: reason}, nil
	}
	if !j.leaseOK() {
		return recordings.Outcome{}, errLeaseStale
	}
	last, err := j.w.End(now, e.reason)
	if err != nil {
		return recordings.Outcome{}, err
	}
	if err := j.flushPart(); err != nil {
		return recordings.Outcome{}, err
	}
	if _, err := retry(ctx, func() (struct{}, error) {
		return struct{}{}, j.rc.Objects.CompleteUpload(ctx, j.rec.StorageKey, j.up.ID, j.up.Parts)
	}); err != nil {
		return recordings.Outcome{}, err
	}
	_ = j.rc.Objects.Delete(ctx, recordings.TailKey(j.rec.StorageKey)) // the checkpoint is spent
	sum, err := hashSum(j.up.Hash)
	if err != nil {
		return recordings.Outcome{}, err
	}
	d := time.Duration(last.DurationMs) * time.Millisecond
	return recordings.Outcome{Status: recordings.StatusCompleted, EndedAt: j.up.Origin.Add(d), Duration: d, SizeBytes: j.up.Size,
		SHA256: sum, Reason: e.reason}, nil
}

// dropObjects removes what a recording that will not complete left in the store.
func (j *job) dropObjects(ctx context.Context) {
	if j.up.ID != "" {
		if err := j.rc.Objects.AbortUpload(ctx, j.rec.StorageKey, j.up.ID); err != nil {
			j.log.Warn("recording: abort upload", slog.String("error", err.Error()))
		}
	}
	_ = j.rc.Objects.Delete(ctx, recordings.TailKey(j.rec.StorageKey))
}

// retry runs a store operation up to 3 times (1 s, 2 s apart) unless it is a lost lease.
func retry[T any](ctx context.Context, op func() (T, error)) (T, error) {
	var v T
	var err error
	for attempt := 0; ; attempt++ {
		if v, err = op(); err == nil || errors.Is(err, recordings.ErrLeaseLost) || errors.Is(err, recordings.ErrNoUpload) || attempt == 2 {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(time.Duration(1<<attempt) * time.Second):
		}
	}
}

package gateway

// Gateway recordings. The gateway records a desktop through its own RFB connection (never a
// viewer's stream, so a failing recording cannot touch what viewers see), and writes what the
// desktop sends, timestamped, to the recordings store (docs/recordings.md).
//
// Which recordings to make comes from the table, not from a stream: recordings still to be made
// sit in a sparse index (GSI4 partition GWREC) sorted by when their lease falls due. Every
// round (the gateway's 2 s loop) a task reads the due ones and takes a lease on each with a
// conditional write (owner = this task, expiry), renewed while it records; so two tasks never
// record the same recording, and a task that dies leaves recordings another task takes over
// once their lease expires. The object is a multipart upload whose progress (parts, checksum
// state, a checkpoint of the tail not yet in a part) is written under the lease, so the task
// that takes over continues the same object where the last checkpoint left it.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"streamspace/internal/recordings"
	"streamspace/internal/rfb"
	"streamspace/internal/sessions"
	"streamspace/internal/tickets"
)

// Recorder makes the gateway recordings one gateway task holds.
type Recorder struct {
	Store    *recordings.Store
	Objects  recordings.Objects
	Sessions *sessions.Store
	// ID names this task in leases (GATEWAY_ID; default: the host name and a random suffix).
	ID  string
	Log *slog.Logger
	// Dial reaches a desktop (the gateway's own).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	// PartSize is the size of an uploaded part (default and minimum for S3: 5 MiB): the memory
	// one recording holds, beside its compressor.
	PartSize int
	// MaxBytes and MaxDuration end a recording (completed, with the cap as its reason); a
	// template's recording continues in a new one. Defaults 1 GiB and 4 h.
	MaxBytes    int64
	MaxDuration time.Duration
	// MaxRecordings bounds what one task records at once (default 16): the rest waits for
	// another task, or for this one to finish some.
	MaxRecordings int
	// FPS bounds the update requests per second (default 5): what a recording is for is seeing
	// what happened, not smooth video, and raw pixels are large.
	FPS int
	// Lease is how long a lease lasts without renewal (default 30 s; renewed every third of it).
	Lease time.Duration
	// Checkpoint is how often the tail not yet in a part is saved (default 30 s): what a task
	// that dies loses at most.
	Checkpoint time.Duration

	mu      sync.Mutex
	held    map[string]*job
	closing bool
	jobs    sync.WaitGroup
	// roundBusy keeps rounds from overlapping when the table is slow.
	roundBusy atomic.Bool
}

// Caps and defaults of gateway recordings (docs/recordings.md).
const (
	DefaultRecordingMaxBytes    = 1 << 30
	DefaultRecordingMaxDuration = 4 * time.Hour
	defaultMaxRecordings        = 16
	defaultFPS                  = 5
	defaultLease                = 30 * time.Second
	defaultCheckpoint           = 30 * time.Second
	// partsPerLease: each acquisition of a lease numbers its parts in its own range (gen-1)*250+1
	// …gen*250, so a task that lost its lease without knowing can never overwrite a part of the
	// task that took over; 40 acquisitions fit S3's 10,000 parts.
	partsPerLease = 250
	maxLeaseGen   = 10000 / partsPerLease
)

// leaseMargin: a holder stops writing this long before its lease runs out (5 s of the default
// 30 s), so tasks whose clocks differ by less never write at once.
func (rc *Recorder) leaseMargin() time.Duration { return rc.Lease / 6 }

// Reasons a recording ends (endReason).
const (
	ReasonStopped       = "stopped on request"
	ReasonGatewayFailed = "the recordings store failed"
	ReasonNothing       = "nothing was recorded: the desktop was never reached"
)

func (rc *Recorder) defaults() {
	if rc.ID == "" {
		rc.ID = NewGatewayID()
	}
	if rc.Log == nil {
		rc.Log = slog.New(slog.DiscardHandler)
	}
	if rc.Dial == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		rc.Dial = d.DialContext
	}
	if rc.PartSize <= 0 {
		rc.PartSize = recordings.MinPartSize
	}
	if rc.MaxBytes <= 0 {
		rc.MaxBytes = DefaultRecordingMaxBytes
	}
	if rc.MaxDuration <= 0 {
		rc.MaxDuration = DefaultRecordingMaxDuration
	}
	if rc.MaxRecordings <= 0 {
		rc.MaxRecordings = defaultMaxRecordings
	}
	if rc.FPS <= 0 {
		rc.FPS = defaultFPS
	}
	if rc.Lease <= 0 {
		rc.Lease = defaultLease
	}
	if rc.Checkpoint <= 0 {
		rc.Checkpoint = defaultCheckpoint
	}
	rc.held = map[string]*job{}
}

// NewGatewayID names a gateway task: its host name (the task's, in ECS) and a random suffix.
func NewGatewayID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "gw-" + host + "-" + hex.EncodeToString(b)
}

// Run makes recordings until ctx ends; then every recording in progress is checkpointed and
// its lease given back, so another task continues it at once.
func (rc *Recorder) Run(ctx context.Context, every time.Duration) {
	rc.defaults()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rc.tryRound(ctx)
		select {
		case <-ctx.Done():
			rc.shutdown()
			return
		case <-t.C:
		}
	}
}

func (rc *Recorder) tryRound(ctx context.Context) {
	if !rc.roundBusy.CompareAndSwap(false, true) {
		return
	}
	defer rc.roundBusy.Store(false)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc.round(rctx)
}

func (rc *Recorder) shutdown() {
	rc.mu.Lock()
	rc.closing = true
	list := make([]*job, 0, len(rc.held))
	for _, j := range rc.held {
		list = append(list, j)
	}
	rc.mu.Unlock()
	for _, j := range list {
		j.stop(end{kind: endRelease, reason: "the gateway task stopped"})
	}
	rc.jobs.Wait()
}

// Held is how many recordings this task makes now.
func (rc *Recorder) Held() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.held)
}

func (rc *Recorder) snapshot() []*job {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]*job, 0, len(rc.held))
	for _, j := range rc.held {
		out = append(out, j)
	}
	return out
}

// round checks what this task records (stopped? deleted? the session still running?), renews
// leases that are due, then takes up recordings that need a gateway.
func (rc *Recorder) round(ctx context.Context) {
	now := time.Now()
	if held := rc.snapshot(); len(held) > 0 {
		rc.check(ctx, held, now)
	}
	rc.mu.Lock()
	free := rc.MaxRecordings - len(rc.held)
	rc.mu.Unlock()
	if free <= 0 {
		return
	}
	due, err := rc.Store.Due(ctx, now, free)
	if err != nil {
		rc.Log.Warn("recordings: due", slog.String("error", err.Error()))
		return
	}
	for _, r := range due {
		rc.mu.Lock()
		_, mine := rc.held[r.ID]
		full := rc.closing || len(rc.held) >= rc.MaxRecordings
		rc.mu.Unlock()
		if mine || full {
			continue
		}
		got, err := rc.Store.Acquire(ctx, r.SessionID, r.ID, rc.ID, now, now.Add(rc.Lease))
		if errors.Is(err, recordings.ErrLeaseLost) {
			continue // another task was quicker, or it ended meanwhile
		}
		if err != nil {
			rc.Log.Warn("recordings: acquire", slog.String("recordingId", r.ID), slog.String("error", err.Error()))
			continue
		}
		rc.start(got, now.Add(rc.Lease))
	}
}

func (rc *Recorder) check(ctx context.Context, held []*job, now time.Time) {
	keys := make([][2]string, 0, len(held))
	ids := make([]string, 0, len(held))
	for _, j := range held {
		keys = append(keys, [2]string{j.rec.SessionID, j.rec.ID})
		if !slices.Contains(ids, j.rec.SessionID) { // a batch read refuses duplicate keys
			ids = append(ids, j.rec.SessionID)
		}
	}
	recs, err := rc.Store.Held(ctx, keys)
	if err != nil {
		// Nothing is decided on a failed read: a lease that cannot be renewed ends its own
		// writing before it expires.
		rc.Log.Warn("recordings: read held", slog.String("error", err.Error()))
		return
	}
	ses, err := rc.Sessions.GetMany(ctx, ids)
	if err != nil {
		rc.Log.Warn("recordings: read sessions", slog.String("error", err.Error()))
		return
	}
	for _, j := range held {
		r, ok := recs[j.rec.ID]
		se, seOK := ses[j.rec.SessionID]
		switch {
		case !ok:
			j.stop(end{kind: endDiscard, reason: "the recording was deleted"})
			continue
		case r.Recorder != rc.ID || r.LeaseGen != j.lease.Gen:
			j.stop(end{kind: endAbandon, reason: "another gateway task holds the recording"})
			continue
		case r.Status == recordings.StatusStopping:
			j.stop(end{kind: endFinish, status: recordings.StatusCompleted, reason: ReasonStopped})
		case !seOK:
			j.stop(end{kind: endFinish, status: recordings.StatusCompleted, reason: "the session no longer exists"})
		default:
			if why := notRunning(se); why != "" {
				j.stop(end{kind: endFinish, status: recordings.StatusCompleted, reason: why})
			}
		}
		if now.Sub(j.renewedAt()) >= rc.Lease/3 {
			until := now.Add(rc.Lease)
			switch err := rc.Store.Renew(ctx, j.rec.SessionID, j.rec.ID, j.lease, until); {
			case errors.Is(err, recordings.ErrLeaseLost):
				j.stop(end{kind: endAbandon, reason: "the lease was lost"})
			case err != nil:
				rc.Log.Warn("recordings: renew lease", slog.String("recordingId", j.rec.ID), slog.String("error", err.Error()))
			default:
				j.renewed(now, until)
			}
		}
	}
}

// notRunning says why a session's desktop is not (or soon no longer) there to record; "" while
// it runs.
func notRunning(se sessions.Session) string {
	switch {
	case se.DesiredState == sessions.StateHibernated:
		return "the session was hibernated"
	case se.DesiredState == sessions.StateTerminated || se.State == sessions.StateTerminated:
		return "the session was terminated"
	case se.State != sessions.StateRunning:
		return "the session is " + se.State
	}
	return ""
}

func (rc *Recorder) start(r recordings.Recording, until time.Time) {
	j := &job{rc: rc, rec: r, lease: recordings.Lease{Owner: rc.ID, Gen: r.LeaseGen}, stopCh: make(chan struct{})}
	j.renewed(time.Now(), until)
	if r.Status == recordings.StatusStopping {
		// Stopped while nobody held it (or its task died finishing it): finish what there is.
		j.stop(end{kind: endFinish, status: recordings.StatusCompleted, reason: ReasonStopped})
	}
	rc.mu.Lock()
	rc.held[r.ID] = j
	rc.jobs.Add(1)
	rc.mu.Unlock()
	go func() {
		defer rc.jobs.Done()
		defer func() {
			rc.mu.Lock()
			delete(rc.held, r.ID)
			rc.mu.Unlock()
		}()
		j.run()
	}()
}

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

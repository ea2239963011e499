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
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"streamspace/internal/recordings"
	"streamspace/internal/sessions"
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

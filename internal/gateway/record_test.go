package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image/color"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"streamspace/internal/app"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/gateway"
	"streamspace/internal/ids"
	"streamspace/internal/local/objects"
	"streamspace/internal/recordings"
	"streamspace/internal/resources"
	"streamspace/internal/rfb"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// desktop is a fake VNC server: every update request gets a full frame of noise (so parts fill
// quickly) whose first pixel changes colour each frame.
type desktop struct {
	ln     net.Listener
	frames atomic.Int64
}

const deskW, deskH = 64, 48

func newDesktop(t *testing.T) *desktop {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &desktop{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go d.serve(c)
		}
	}()
	return d
}

func (d *desktop) upstream() string { return "tcp:" + d.ln.Addr().String() }

func (d *desktop) serve(c net.Conn) {
	defer c.Close()
	if _, err := rfb.Accept(c, rfb.ServerInit{Width: deskW, Height: deskH, Format: rfb.RGBA32, Name: "fake"}); err != nil {
		return
	}
	r := bufio.NewReader(c)
	for {
		m, err := rfb.ReadClientMessage(r)
		if err != nil {
			return
		}
		if m.Type != rfb.MsgFramebufferUpdateReq {
			continue
		}
		n := d.frames.Add(1)
		msg := []byte{rfb.MsgFramebufferUpdate, 0, 0, 1, 0, 0, 0, 0, 0, deskW, 0, deskH, 0, 0, 0, 0}
		msg = append(msg, byte(n), byte(n*7), 200, 0)
		noise := make([]byte, 4*(deskW*deskH-1))
		_, _ = rand.Read(noise)
		msg = append(msg, noise...)
		if _, err := c.Write(msg); err != nil {
			return
		}
	}
}

type env struct {
	app     *app.App
	objects *objects.Store
	se      sessions.Session
}

// newEnv is the table, the object store and one running session whose desktop is d; no
// gateway runs (each test runs its own recorders).
func newEnv(t *testing.T, d *desktop) *env {
	ctx := context.Background()
	a := app.New(app.Config{Tables: ddb.WithPrefix(testenv.Prefix(t)), DynamoEndpoint: testenv.DynamoEndpoint(t)}, ddb.LocalConfig(),
		slog.New(slog.DiscardHandler))
	if err := ddb.EnsureAll(ctx, a.DB, a.Cfg.Tables); err != nil {
		t.Fatal(err)
	}
	store, err := objects.New(t.TempDir(), "http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.Objects = store
	now := time.Now().UTC()
	se := sessions.Session{ID: ids.New("sess"), OwnerID: "alice", TemplateName: "terminal",
		State: sessions.StatePending, DesiredState: sessions.StateRunning, Resources: resources.Resources{CPU: "1", Memory: "1Gi"},
		IdleTimeout: 3600, MaxSessionDuration: 3600, LastActivity: now, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, _, err := a.SessionStore().Create(ctx, se, resources.Amount{CPUMillis: 1000, MemoryMiB: 1024}, sessions.DefaultLimits, nil); err != nil {
		t.Fatal(err)
	}
	se, err = a.Sessions().ApplyRuntime(runtime.WithActor(ctx), runtime.Caller, se.ID, sessions.RuntimeUpdate{
		Runtime: sessions.Runtime{Action: sessions.ActionStart, Secret: "secret", Upstream: d.upstream()},
		Report:  &sessions.StatusReport{State: sessions.StateRunning}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{app: a, objects: store, se: se}
}

func (e *env) recorder(id string) *gateway.Recorder {
	return &gateway.Recorder{Store: e.app.RecordingStore(), Objects: e.objects, Sessions: e.app.SessionStore(), ID: id,
		PartSize: 16 << 10, FPS: 20, Lease: 6 * time.Second, Checkpoint: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
}

// run runs a recorder on a fast loop until the returned stop is called (a graceful stop).
func run(rc *gateway.Recorder) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rc.Run(ctx, 300*time.Millisecond) }()
	return func() { cancel(); <-done }
}

func (e *env) get(t *testing.T, id string) recordings.Recording {
	t.Helper()
	r, err := e.app.RecordingStore().Get(context.Background(), e.se.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) start(t *testing.T) recordings.Recording {
	t.Helper()
	r := recordings.NewGateway(e.se.ID, "alice", "", 1, time.Now().UTC())
	if _, err := e.app.RecordingStore().Create(context.Background(), r, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) stopRecording(t *testing.T, id string) {
	t.Helper()
	r := e.get(t, id)
	if err := e.app.RecordingStore().Stop(context.Background(), r, r.Version, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// completed waits for the recording to complete and checks its object against the metadata;
// it returns the player, played to the end.
func (e *env) completed(t *testing.T, id string) (recordings.Recording, *rfb.Player) {
	t.Helper()
	var r recordings.Recording
	waitFor(t, 20*time.Second, "the recording completes", func() bool { r = e.get(t, id); return !r.Active() })
	if r.Status != recordings.StatusCompleted || r.EndedAt == nil {
		t.Fatalf("recording %+v, want completed", r)
	}
	obj, err := e.objects.Get(context.Background(), r.StorageKey, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(obj)
	if r.SizeBytes != int64(len(obj)) || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("metadata size %d sha %s; object %d bytes sha %x", r.SizeBytes, r.SHA256, len(obj), sum)
	}
	p, err := rfb.NewPlayer(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PlayUntil(-1); err != nil {
		t.Fatal(err)
	}
	if p.End == nil || p.FB.Image.Bounds().Dx() != deskW || p.FB.Image.RGBAAt(0, 0) == (color.RGBA{}) {
		t.Fatalf("replay: end %+v size %v pixel %v", p.End, p.FB.Image.Bounds(), p.FB.Image.RGBAAt(0, 0))
	}
	// 20 s is a bound to stop at, not a timing: on a saturated CI machine the other recordings'
	// ends (a deleted one's upload dropped in the same round) once took over 5 s.
	uploads := filepath.Join(e.objects.Dir, ".uploads")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		entries, _ := os.ReadDir(uploads)
		if len(entries) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var left []string
			for _, en := range entries {
				left = append(left, en.Name())
			}
			t.Fatalf("uploads left behind in %s: %v", uploads, left)
		}
	}
	if _, err := e.objects.Get(context.Background(), recordings.TailKey(r.StorageKey), 1<<20); err != recordings.ErrNoObject {
		t.Fatalf("the checkpoint outlived the recording: %v", err)
	}
	return r, p
}

// A task that dies leaves its recording to another, which continues the same object from the
// last checkpoint once the lease runs out: one recording, two segments, parts numbered apart.
func TestRecordingTakenOverWhenItsTaskDies(t *testing.T) {
	d := newDesktop(t)
	e := newEnv(t, d)
	rec := e.start(t)
	a := e.recorder("gw-a")
	stopA := run(a)
	waitFor(t, 15*time.Second, "gw-a records and saves a part and a checkpoint", func() bool {
		u := e.get(t, rec.ID).Upload
		return u != nil && len(u.Parts) > 0 && u.TailSize > 0
	})
	a.Die()
	stopA()
	died := time.Now()
	before := e.get(t, rec.ID)

	b := e.recorder("gw-b")
	defer run(b)()
	waitFor(t, 15*time.Second, "gw-b takes the recording over", func() bool {
		r := e.get(t, rec.ID)
		return r.Recorder == "gw-b" && r.Upload != nil && r.Upload.Segments == 2
	})
	if took := time.Since(died); took < 3*time.Second {
		t.Fatalf("taken over after %s, while gw-a's lease still ran", took)
	}
	waitFor(t, 10*time.Second, "gw-b uploads parts after gw-a's, numbered in its own range", func() bool {
		ps := e.get(t, rec.ID).Upload.Parts
		return len(ps) > len(before.Upload.Parts) && ps[0].N == 1 && ps[len(ps)-1].N > 250
	})
	e.stopRecording(t, rec.ID)
	r, p := e.completed(t, rec.ID)
	if p.Segments != 2 || p.End.Reason != gateway.ReasonStopped || r.EndReason != gateway.ReasonStopped || r.LeaseGen != 2 {
		t.Fatalf("segments %d end %+v recording %+v", p.Segments, p.End, r)
	}
	if before.Upload.Origin.IsZero() || !p.Header.StartedAt.Equal(before.Upload.Origin) {
		t.Fatalf("the timeline restarted: header %v, first task's origin %v", p.Header.StartedAt, before.Upload.Origin)
	}
}

// A task that stops (a deploy) checkpoints and gives its recordings back: another continues at
// once, without waiting for the lease.
func TestRecordingReleasedOnShutdown(t *testing.T) {
	d := newDesktop(t)
	e := newEnv(t, d)
	rec := e.start(t)
	stopA := run(e.recorder("gw-a"))
	waitFor(t, 15*time.Second, "gw-a records", func() bool { return d.frames.Load() > 10 })
	stopA()
	if r := e.get(t, rec.ID); r.Recorder != "" || r.Upload == nil || r.Upload.TailSize == 0 && len(r.Upload.Parts) == 0 {
		t.Fatalf("after shutdown: %+v %+v", r, r.Upload)
	}
	released := time.Now()
	defer run(e.recorder("gw-b"))()
	waitFor(t, 5*time.Second, "gw-b continues", func() bool { return e.get(t, rec.ID).Recorder == "gw-b" })
	if took := time.Since(released); took > 3*time.Second {
		t.Fatalf("taken over after %s", took)
	}
	time.Sleep(time.Second)
	e.stopRecording(t, rec.ID)
	if _, p := e.completed(t, rec.ID); p.Segments != 2 {
		t.Fatalf("segments %d", p.Segments)
	}
}

// A deleted recording's upload is dropped; a session that stops ends its recording completed.
func TestRecordingEndsWithItsSession(t *testing.T) {
	d := newDesktop(t)
	e := newEnv(t, d)
	gone, kept := e.start(t), e.start(t)
	defer run(e.recorder("gw-a"))()
	waitFor(t, 15*time.Second, "both record", func() bool {
		return e.get(t, gone.ID).Upload != nil && e.get(t, kept.ID).Upload != nil && d.frames.Load() > 20
	})
	if err := e.app.RecordingStore().Delete(context.Background(), e.se.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	ctx := runtime.WithActor(context.Background())
	if _, err := e.app.Sessions().Patch(ctx, auth.Caller{UserID: "alice", Role: auth.RoleUser}, e.se.ID,
		sessions.PatchInput{DesiredState: ptr(sessions.StateHibernated)}, nil); err != nil {
		t.Fatal(err)
	}
	r, p := e.completed(t, kept.ID)
	if r.EndReason != "the session was hibernated" || p.End.Reason != r.EndReason {
		t.Fatalf("end reason %q / %q", r.EndReason, p.End.Reason)
	}
	if _, err := e.objects.Get(context.Background(), gone.StorageKey, 1<<20); err != recordings.ErrNoObject {
		t.Fatalf("the deleted recording's object: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// faulty is a recordings store whose parts fail (or panic).
type faulty struct {
	*objects.Store
	panics bool
}

func (f faulty) UploadPart(context.Context, string, string, int32, []byte) (string, error) {
	if f.panics {
		panic("the store's client is broken")
	}
	return "", errors.New("the bucket is unreachable")
}

// A recording whose store fails, or whose writing panics, fails by itself: the recording says
// why, its upload is dropped, and the gateway goes on (the other recording, the desktop).
func TestRecordingFailsAlone(t *testing.T) {
	for _, panics := range []bool{false, true} {
		d := newDesktop(t)
		e := newEnv(t, d)
		rec := e.start(t)
		rc := e.recorder("gw-a")
		rc.Objects = faulty{Store: e.objects, panics: panics}
		stop := run(rc)
		var r recordings.Recording
		waitFor(t, 20*time.Second, "the recording fails", func() bool { r = e.get(t, rec.ID); return !r.Active() })
		if r.Status != recordings.StatusFailed || !strings.HasPrefix(r.EndReason, gateway.ReasonGatewayFailed) {
			t.Fatalf("panics %v: %+v", panics, r)
		}
		waitFor(t, 5*time.Second, "the upload is dropped", func() bool {
			entries, _ := os.ReadDir(filepath.Join(e.objects.Dir, ".uploads"))
			return len(entries) == 0
		})
		// The same gateway records the next one with a working store.
		rc2 := e.recorder("gw-b")
		next := e.start(t)
		stop()
		defer run(rc2)()
		waitFor(t, 10*time.Second, "the next recording records", func() bool { return e.get(t, next.ID).Recorder == "gw-b" })
		time.Sleep(500 * time.Millisecond)
		e.stopRecording(t, next.ID)
		e.completed(t, next.ID)
		t.Logf("panics %v: failed with %q", panics, r.EndReason)
	}
}

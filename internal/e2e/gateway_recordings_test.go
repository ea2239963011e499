package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"streamspace/internal/rfb"
	"streamspace/internal/testenv"
)

type gatewayRecording struct {
	ID, Status, Source, Policy, StorageKey, SHA256, EndReason, CreatedBy, Format, Type string
	SizeBytes                                                                          int64
	DurationSeconds                                                                    int
	StartedAt                                                                          time.Time
	EndedAt                                                                            *time.Time
}

// getRecording reads a recording through the API, with its download URL once completed.
func getRecording(t *testing.T, e *testenv.Env, tok, sessionID, id string) (gatewayRecording, string) {
	t.Helper()
	var got struct {
		Recording   gatewayRecording
		DownloadURL string
	}
	e.Do("GET", "/api/v1/sessions/"+sessionID+"/recordings/"+id, tok, nil).Want(t, 200).Decode(t, &got)
	return got.Recording, got.DownloadURL
}

// finished waits until the gateway has ended the recording and returns it.
func finished(t *testing.T, e *testenv.Env, tok, sessionID, id string) (gatewayRecording, string) {
	t.Helper()
	var r gatewayRecording
	var url string
	waitUntil(t, 30*time.Second, "the gateway ends the recording", func() bool {
		r, url = getRecording(t, e, tok, sessionID, id)
		return r.Status != "recording" && r.Status != "stopping"
	})
	return r, url
}

// download fetches a completed recording's object and checks it against the metadata.
func download(t *testing.T, r gatewayRecording, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	if resp.StatusCode != 200 || int64(len(body)) != r.SizeBytes || hex.EncodeToString(sum[:]) != r.SHA256 {
		t.Fatalf("download: %d, %d bytes, sha256 %x; the recording says %d bytes, %s", resp.StatusCode, len(body), sum, r.SizeBytes, r.SHA256)
	}
	return body
}

// lastFrame replays a recording to its end, writes the last frame as a PNG (what
// `streamspace recording render` does) and returns the picture read back from the PNG.
func lastFrame(t *testing.T, obj []byte, name string) (image.Image, *rfb.Player) {
	t.Helper()
	p, err := rfb.NewPlayer(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PlayUntil(-1); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("STREAMSPACE_ARTIFACTS") // keep the PNG to look at
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, p.FB.Image); err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, _ = os.Open(path)
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img, p
}

func distinct(img image.Image, limit int) int {
	seen := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && len(seen) < limit; y++ {
		for x := b.Min.X; x < b.Max.X && len(seen) < limit; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	return len(seen)
}

// The test: the gateway records 10 s of an xterm session in which a control viewer
// types a command; the stopped recording is complete (duration, size, checksum of the object),
// and its last frame, rendered to a PNG, shows the terminal as a live viewer sees it.
func TestGatewayRecordsATerminal(t *testing.T) {
	e := startLocal(t)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(t, e, bob)
	s := runningTerminal(t, e, alice, nil)
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)
	ctl := openViewer(t, e, alice, s.ID)
	if err := ctl.frame(1, 30*time.Second); err != nil {
		t.Fatalf("the terminal: %v", err)
	}

	p := "/api/v1/sessions/" + s.ID + "/recordings"
	e.Do("POST", p, bob, map[string]any{"source": "gateway"}).Want(t, 403) // view cannot record
	e.Do("POST", p, alice, map[string]any{"source": "gateway", "format": "webm"}).Want(t, 400)
	e.Do("POST", p, alice, map[string]any{"source": "camera"}).Want(t, 400)
	e.Do("POST", p, alice, map[string]any{"type": "video", "format": "rfb"}).Want(t, 400) // rfb is the gateway's
	var created struct {
		Recording gatewayRecording
		UploadURL string
	}
	started := time.Now()
	e.Do("POST", p, alice, map[string]any{"source": "gateway", "retentionDays": 7}).Want(t, 201).Decode(t, &created)
	rec := created.Recording
	if rec.Status != "recording" || rec.Source != "gateway" || rec.Format != "rfb" || rec.Type != "video" || created.UploadURL != "" {
		t.Fatalf("created: %+v (upload URL %q)", rec, created.UploadURL)
	}
	waitUntil(t, 10*time.Second, "a gateway takes the recording", func() bool {
		r, err := e.App.RecordingStore().Get(context.Background(), s.ID, rec.ID)
		return err == nil && r.Upload != nil && r.Recorder != ""
	})
	e.Do("DELETE", p+"/"+rec.ID, alice, nil).Want(t, 409) // stop it first

	ctl.typeText("echo recorded-$RANDOM\n")
	time.Sleep(10*time.Second - time.Since(started))
	e.Do("PATCH", p+"/"+rec.ID, bob, map[string]any{"status": "completed"}).Want(t, 403)
	e.Do("PATCH", p+"/"+rec.ID, alice, map[string]any{"status": "completed", "sizeBytes": 1}).Want(t, 400) // measured by the gateway
	var stopping struct{ Recording gatewayRecording }
	e.Do("PATCH", p+"/"+rec.ID, alice, map[string]any{"status": "completed"}).Want(t, 202).Decode(t, &stopping)
	if stopping.Recording.Status != "stopping" {
		t.Fatalf("after stop: %+v", stopping.Recording)
	}
	e.Do("PATCH", p+"/"+rec.ID, alice, map[string]any{"status": "completed"}).Want(t, 409)

	r, url := finished(t, e, bob, s.ID, rec.ID) // view may watch it
	t.Logf("recording: %d s, %d bytes, %s", r.DurationSeconds, r.SizeBytes, r.EndReason)
	if r.Status != "completed" || r.DurationSeconds < 7 || r.DurationSeconds > 13 || r.SizeBytes <= 0 || r.EndedAt == nil ||
		r.EndReason != "stopped on request" || r.CreatedBy != "alice" || url == "" {
		t.Fatalf("completed recording: %+v (download %q)", r, url)
	}
	obj := download(t, r, url)
	img, player := lastFrame(t, obj, "gateway-recording-last.png")
	if n := distinct(img, 16); n < 2 {
		t.Fatalf("the last frame is blank (%d colour)", n)
	}
	if player.End == nil || player.Segments != 1 || player.Header.RecordingID != rec.ID {
		t.Fatalf("replay: end %+v, %d segments, header %+v", player.End, player.Segments, player.Header)
	}

	// What the live viewer sees now is what the recording ended with (nothing moved since).
	if err := ctl.alive(); err != nil {
		t.Fatalf("the viewer's stream while recording: %v", err)
	}
	live := ctl.fb.Image
	if live.Bounds() != player.FB.Image.Bounds() {
		t.Fatalf("live %v, recorded %v", live.Bounds(), player.FB.Image.Bounds())
	}
	differ := 0
	for i := 0; i+3 < len(live.Pix); i += 4 {
		if !bytes.Equal(live.Pix[i:i+3], player.FB.Image.Pix[i:i+3]) {
			differ++
		}
	}
	if frac := float64(differ) / float64(len(live.Pix)/4); frac > 0.01 {
		t.Fatalf("the recording's last frame differs from the live picture in %.1f%% of its pixels", 100*frac)
	}
	e.Do("DELETE", p+"/"+rec.ID, bob, nil).Want(t, 403)
	e.Do("DELETE", p+"/"+rec.ID, alice, nil).Want(t, 204)
}

// A template that records every session: each run of its sessions is recorded from when it
// runs, the session's own user can neither stop nor delete the recording, hibernating ends it
// completed, waking starts another, and terminating ends that one.
func TestTemplateRecordsEverySession(t *testing.T) {
	e := startLocal(t)
	alice, admin := e.Token("alice", ""), e.Token("root", "admin")
	var tpl map[string]any
	e.Do("GET", "/api/v1/templates/terminal", alice, nil).Want(t, 200).Decode(t, &tpl)
	for _, k := range []string{"createdAt", "updatedAt", "version"} {
		delete(tpl, k)
	}
	tpl["name"], tpl["recordSessions"] = "recorded-terminal", true
	e.Do("POST", "/api/v1/templates", alice, tpl).Want(t, 403) // templates are operators'
	e.Do("POST", "/api/v1/templates", admin, tpl).Want(t, 201)

	ws := e.MustDialWS(alice, nil)
	s := create(t, e, alice, map[string]any{"templateName": "recorded-terminal", "persistentHome": false})
	t.Cleanup(func() { e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil) })
	if st, m := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("session: %s (%v)", st, m.Data)
	}
	p := "/api/v1/sessions/" + s.ID + "/recordings"
	list := func() []gatewayRecording {
		var page struct{ Items []gatewayRecording }
		e.Do("GET", p, alice, nil).Want(t, 200).Decode(t, &page)
		return page.Items
	}
	recs := list() // written with the session's move to running: no wait
	if len(recs) != 1 || recs[0].Source != "gateway" || recs[0].Policy != "template" || recs[0].Status != "recording" {
		t.Fatalf("recordings of a running session of a recording template: %+v", recs)
	}
	first := recs[0].ID
	e.Do("PATCH", p+"/"+first, alice, map[string]any{"status": "completed"}).Want(t, 403)
	e.Do("DELETE", p+"/"+first, alice, nil).Want(t, 403)
	v := openViewer(t, e, alice, s.ID)
	if err := v.frame(1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	v.typeText("echo under-policy\n")
	time.Sleep(4 * time.Second)

	e.Do("PATCH", "/api/v1/sessions/"+s.ID, alice, map[string]string{"desiredState": "hibernated"}).Want(t, 200)
	r, url := finished(t, e, alice, s.ID, first)
	if r.Status != "completed" || r.EndReason != "the session was hibernated" || r.SizeBytes <= 0 || r.DurationSeconds < 2 {
		t.Fatalf("after hibernation: %+v", r)
	}
	if img, _ := lastFrame(t, download(t, r, url), "policy-recording-last.png"); distinct(img, 16) < 2 {
		t.Fatal("the policy recording's last frame is blank")
	}
	if st, _ := stateChange(t, ws, s.ID, startWait); st != "hibernated" {
		t.Fatalf("after hibernate: %s", st)
	}
	if n := len(list()); n != 1 {
		t.Fatalf("a hibernated session has %d recordings, want 1", n)
	}

	e.Do("PATCH", "/api/v1/sessions/"+s.ID, alice, map[string]string{"desiredState": "running"}).Want(t, 200)
	if st, _ := stateChange(t, ws, s.ID, startWait); st != "running" {
		t.Fatalf("after wake: %s", st)
	}
	recs = list()
	if len(recs) != 2 || recs[1].Status != "recording" || recs[1].Policy != "template" {
		t.Fatalf("after wake: %+v, want a second recording", recs)
	}
	waitUntil(t, 10*time.Second, "a gateway takes the second recording", func() bool {
		r, err := e.App.RecordingStore().Get(context.Background(), s.ID, recs[1].ID)
		return err == nil && r.Upload != nil
	})
	time.Sleep(3 * time.Second)
	e.Do("DELETE", "/api/v1/sessions/"+s.ID, alice, nil).Want(t, 200)
	// Completed (not failed for want of a picture): the desktop was recorded before it went.
	if r, _ := finished(t, e, alice, s.ID, recs[1].ID); r.Status != "completed" || r.EndReason != "the session was terminated" || r.SizeBytes <= 0 {
		t.Fatalf("after terminate: %+v", r)
	}
	e.Do("DELETE", p+"/"+first, admin, nil).Want(t, 204) // the platform's to delete
}

package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"streamspace/internal/testenv"
)

type recording struct {
	ID, Status, StorageKey, SHA256 string
	SizeBytes                      int64
	RetentionDays                  int
}

// Defect 7: recording had only a table and nothing wrote it. Here a recording is created,
// uploaded through its presigned URL, completed, downloaded and deleted on the local stack.
func TestRegressionDefect7_RecordingsWork(t *testing.T) {
	e := testenv.Start(t)
	alice, bob, mallory := e.Token("alice", ""), e.Token("bob", ""), e.Token("mallory", "")
	seen(t, e, alice, bob)
	s := create(t, e, alice, map[string]any{"templateName": "terminal"})
	p := "/api/v1/sessions/" + s.ID + "/recordings"
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "view"}).Want(t, 201)

	e.Do("POST", p, alice, map[string]any{"type": "film", "format": "webm"}).Want(t, 400)
	e.Do("POST", p, alice, map[string]any{"type": "video", "format": "avi"}).Want(t, 400)
	e.Do("POST", p, alice, map[string]any{"type": "video", "format": "webm", "retentionDays": 0}).Want(t, 400)
	e.Do("POST", p, bob, map[string]any{"type": "video", "format": "webm"}).Want(t, 403) // view cannot record
	e.Do("POST", p, mallory, map[string]any{"type": "video", "format": "webm"}).Want(t, 404)
	var created uploadable
	e.Do("POST", p, alice, map[string]any{"type": "video", "format": "webm", "retentionDays": 7}).Want(t, 201).Decode(t, &created)
	if created.Recording.Status != "recording" || created.UploadMethod != "POST" || created.Recording.RetentionDays != 7 {
		t.Fatalf("created: %+v", created)
	}
	content := bytes.Repeat([]byte("frame"), 2000)
	tampered := created
	tampered.UploadFields = map[string]string{}
	for k, v := range created.UploadFields {
		tampered.UploadFields[k] = v
	}
	tampered.UploadFields["signature"] = "0" + tampered.UploadFields["signature"]
	if st := tampered.upload(t, content); st != 403 {
		t.Fatalf("tampered upload form: %d, want 403", st)
	}
	if st := created.upload(t, content); st != 204 {
		t.Fatalf("upload: %d", st)
	}
	sum := sha256.Sum256(content)
	rp := p + "/" + created.Recording.ID
	e.Do("PATCH", rp, bob, map[string]any{"status": "completed"}).Want(t, 403)
	e.Do("PATCH", rp, alice, map[string]any{"status": "paused"}).Want(t, 400)
	e.Do("PATCH", rp, alice, map[string]any{"status": "completed", "sizeBytes": len(content), "sha256": hex.EncodeToString(sum[:])}).Want(t, 200)
	e.Do("PATCH", rp, alice, map[string]any{"status": "failed"}).Want(t, 409)

	var got struct {
		Recording   recording
		DownloadURL string
	}
	e.Do("GET", rp, bob, nil).Want(t, 200).Decode(t, &got) // view may watch the recording
	if got.Recording.Status != "completed" || got.DownloadURL == "" || got.Recording.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("completed recording: %+v", got)
	}
	resp, err := http.Get(got.DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, content) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
	var list struct{ Items []recording }
	e.Do("GET", p, bob, nil).Want(t, 200).Decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("list: %+v", list.Items)
	}
	e.Do("GET", p, mallory, nil).Want(t, 404)
	e.Do("GET", p+"/rec_01jd0000000000000000000000", alice, nil).Want(t, 404)

	e.Do("DELETE", rp, bob, nil).Want(t, 403)
	e.Do("DELETE", rp, alice, nil).Want(t, 204)
	e.Do("GET", rp, alice, nil).Want(t, 404)
	if _, err := os.Stat(filepath.Join(e.Objects.Dir, filepath.FromSlash(created.Recording.StorageKey))); !os.IsNotExist(err) {
		t.Fatalf("the object outlived its recording: %v", err)
	}
	if resp, err := http.Get(got.DownloadURL); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("download after delete: %d", resp.StatusCode)
		}
	}
}

// uploadable is POST …/recordings' answer for a client recording.
type uploadable struct {
	Recording      recording
	UploadURL      string
	UploadMethod   string
	UploadFields   map[string]string
	UploadMaxBytes int64
}

// upload posts body through the recording's upload form, as a browser would.
func (u uploadable) upload(t testing.TB, body []byte) int {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range u.UploadFields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "recording")
	fw.Write(body)
	mw.Close()
	resp, err := http.Post(u.UploadURL, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

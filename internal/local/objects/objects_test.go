package objects

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The local store enforces what S3's POST policy does: the signed maximum size, the expiry,
// the signature; and, beyond S3, a sealed key takes no upload at all (SEC-16).
func TestUploadFormBoundsAndSeal(t *testing.T) {
	st, err := New(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(st)
	defer srv.Close()
	st.BaseURL = srv.URL
	ctx := context.Background()
	form, err := st.UploadForm(ctx, "recordings/s/r.webm", "video/webm", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) int {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range form.Fields {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("file", "f")
		fw.Write(body)
		mw.Close()
		resp, err := http.Post(form.URL, mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(bytes.Repeat([]byte("x"), 11)); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("11 bytes under a 10-byte bound: %d", st)
	}
	if n, err := st.Size(ctx, "recordings/s/r.webm"); err == nil {
		t.Fatalf("a refused upload left %d bytes", n)
	}
	if st := post(bytes.Repeat([]byte("x"), 10)); st != http.StatusNoContent {
		t.Fatalf("10 bytes: %d", st)
	}
	if n, err := st.Size(ctx, "recordings/s/r.webm"); err != nil || n != 10 {
		t.Fatalf("size: %d %v", n, err)
	}
	if err := st.Seal(ctx, "recordings/s/r.webm"); err != nil {
		t.Fatal(err)
	}
	if st := post([]byte("y")); st != http.StatusForbidden {
		t.Fatalf("upload to a sealed key: %d", st)
	}
}

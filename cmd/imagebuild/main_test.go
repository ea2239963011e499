package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"streamspace/internal/images"
)

// make push-images without ECR: every .oci folder in the cache goes to the registry under each
// tag, digest for digest (the gateway image here, built from stand-in files).
func TestPushCommand(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	bin, novnc := filepath.Join(dir, "gateway"), filepath.Join(dir, "novnc")
	_ = os.WriteFile(bin, []byte("binary"), 0o755)
	_ = os.MkdirAll(novnc, 0o755)
	_ = os.WriteFile(filepath.Join(novnc, "vnc.html"), []byte("<html>"), 0o644)
	cache := filepath.Join(dir, "cache")
	if err := gatewayCmd([]string{"-cache", cache, "-binary", bin, "-novnc", novnc, "-ca", bin}); err != nil {
		t.Fatal(err)
	}
	built, err := images.ReadLayout(filepath.Join(cache, "gateway.oci"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pushCmd(context.Background(), []string{"-cache", cache, "-registry", host, "-tag", "latest,t1"}); err != nil {
		t.Fatal(err)
	}
	want, _ := built.Digest()
	for _, tag := range []string{"latest", "t1"} {
		ref, err := name.ParseReference(host + "/streamspace/gateway:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(ref)
		if err != nil || d.Digest != want {
			t.Fatalf("%s: %v %v, want %s", ref, d, err, want)
		}
	}
}

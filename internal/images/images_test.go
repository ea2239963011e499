package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"streamspace/internal/templates"
)

func TestDefinitions(t *testing.T) {
	defs, err := Load(filepath.Join(repoRoot(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range defs {
		names = append(names, im.Name)
		for _, p := range []string{"xvfb", "x11vnc", "fonts-dejavu-core"} {
			if !slices.Contains(im.Packages, p) {
				t.Errorf("%s lacks the common package %s: %v", im.Name, p, im.Packages)
			}
		}
		if slices.Contains(im.Packages, "sudo") {
			t.Errorf("%s installs sudo", im.Name)
		}
	}
	for _, want := range []string{"terminal", "firefox-browser", "chromium"} {
		if !slices.Contains(names, want) {
			t.Errorf("images %v: no %s", names, want)
		}
	}
	term, _ := Find(defs, "terminal")
	if !slices.Contains(term.Packages, "xterm") || !slices.Equal(term.Command, []string{"xterm"}) {
		t.Errorf("terminal: %+v", term)
	}
}

// The cache key covers the packages and the suite, and nothing else varies it.
func TestRootfsKey(t *testing.T) {
	r := Rootfs{Suite: "bookworm"}
	a := Image{Name: "a", Packages: []string{"xterm", "xvfb"}}
	k1, _ := r.Key(a)
	k2, _ := r.Key(a)
	b := a
	b.Packages = []string{"xterm", "xvfb", "vim"}
	k3, _ := r.Key(b)
	k4, _ := Rootfs{Suite: "trixie"}.Key(a)
	if k1 != k2 || k1 == k3 || k1 == k4 || len(k1) != 64 {
		t.Fatalf("keys: same %s %s, other packages %s, other suite %s", k1, k2, k3, k4)
	}
}

// mmdebstrap's tarball becomes a layer: relative names, no devices, no setuid bits, no xattrs.
func TestFilterRootfs(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, h := range []*tar.Header{
		{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./dev/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "./dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "./usr/bin/su", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 2, Uname: "root"},
		{Name: "./usr/bin/ping", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01"}},
		{Name: "./usr/bin/pong", Typeflag: tar.TypeLink, Linkname: "./usr/bin/ping"},
		{Name: "./home/streamspace/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			_, _ = tw.Write([]byte("ok"))
		}
	}
	tw.Close()
	var out bytes.Buffer
	if err := FilterRootfs(&in, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
	if len(got) != 5 || got["dev/"] == nil || got["dev/null"] != nil {
		t.Fatalf("entries %v", got)
	}
	if h := got["usr/bin/su"]; h.Mode != 0o755 || h.Uname != "" {
		t.Errorf("su: mode %o uname %q", h.Mode, h.Uname)
	}
	if h := got["usr/bin/ping"]; len(h.PAXRecords) != 0 {
		t.Errorf("ping keeps %v", h.PAXRecords)
	}
	if h := got["usr/bin/pong"]; h.Linkname != "usr/bin/ping" {
		t.Errorf("hard link to %q", h.Linkname)
	}
	if h := got["home/streamspace/"]; h.Uid != 1000 || h.Mode != 0o700 {
		t.Errorf("home: %d %o", h.Uid, h.Mode)
	}
}

// fakeRootfs is a tiny root filesystem layer (.tar.gz).
func fakeRootfs(t *testing.T) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if err := TarFiles(zw, []File{{Path: "etc/passwd", Mode: 0o644, Body: []byte("streamspace:x:1000:1000::/home/streamspace:/bin/bash\n")},
		{Path: Home, Mode: 0o700, Dir: true, UID: UID, GID: UID}}); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// layerFiles lists a layer's entries with their modes.
func layerFiles(t *testing.T, l v1.Layer) map[string]*tar.Header {
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

// A desktop image: the root filesystem, then the entrypoint; run as uid 1000, VNC on 5900; an
// OCI layout keeps it digest for digest.
func TestDesktopImage(t *testing.T) {
	im := Image{Name: "terminal", Command: []string{"xterm"}}
	img, err := DesktopImage(im, fakeRootfs(t), writeFile(t, "#!entrypoint"))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	_, port := c.ExposedPorts["5900/tcp"]
	if !slices.Equal(c.Entrypoint, []string{Entrypoint}) || !slices.Equal(c.Cmd, []string{"xterm"}) || c.User != "1000:1000" ||
		c.WorkingDir != Home || !port || len(c.ExposedPorts) != 1 || cf.OS != "linux" {
		t.Fatalf("config %+v", cf)
	}
	mt, _ := img.MediaType()
	layers, _ := img.Layers()
	if mt != "application/vnd.oci.image.manifest.v1+json" || len(layers) != 2 {
		t.Fatalf("media type %s, %d layers", mt, len(layers))
	}
	if h := layerFiles(t, layers[1])["usr/local/bin/desktop"]; h == nil || h.Mode != 0o755 || h.Uid != 0 {
		t.Fatalf("entrypoint layer: %+v", h)
	}
	dir := filepath.Join(t.TempDir(), "terminal.oci")
	digest, err := WriteLayout(dir, "terminal", img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := back.Digest(); d != digest {
		t.Fatalf("layout digest %s, written %s", d, digest)
	}
}

// The gateway image: the binary, noVNC, CA certificates, an unprivileged user, nothing else.
func TestGatewayImage(t *testing.T) {
	novnc := t.TempDir()
	_ = os.MkdirAll(filepath.Join(novnc, "core"), 0o755)
	_ = os.WriteFile(filepath.Join(novnc, "vnc.html"), []byte("<html>"), 0o600)
	_ = os.WriteFile(filepath.Join(novnc, "core", "rfb.js"), []byte("//"), 0o600)
	img, err := GatewayImage(writeFile(t, "gateway"), novnc, writeFile(t, "CERTS"))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.User != "65532:65532" || !slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/gateway"}) ||
		!slices.Contains(cf.Config.Env, "NOVNC_DIR=/opt/novnc") {
		t.Fatalf("config %+v", cf.Config)
	}
	layers, _ := img.Layers()
	files := layerFiles(t, layers[0])
	for name, mode := range map[string]int64{"usr/local/bin/gateway": 0o755, "opt/novnc/vnc.html": 0o644,
		"opt/novnc/core/rfb.js": 0o644, "etc/ssl/certs/ca-certificates.crt": 0o644, "tmp/": 0o1777, "etc/passwd": 0o644} {
		if h := files[name]; h == nil || h.Mode != mode {
			t.Errorf("%s: %+v, want mode %o", name, h, mode)
		}
	}
	if len(files) > 16 {
		t.Errorf("gateway layer holds %d entries: %v", len(files), files)
	}
}

// fakeECR answers GetAuthorizationToken and CreateRepository as ECR does (JSON 1.1).
func fakeECR(t *testing.T, user, pass string, created *atomic.Int32) *ecr.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch {
		case strings.HasSuffix(target, ".GetAuthorizationToken"):
			tok := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
			_ = json.NewEncoder(w).Encode(map[string]any{"authorizationData": []map[string]any{{"authorizationToken": tok,
				"proxyEndpoint": "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", "expiresAt": 1.9e9}}})
		case strings.HasSuffix(target, ".CreateRepository"):
			var in struct{ RepositoryName string }
			_ = json.NewDecoder(r.Body).Decode(&in)
			if created.Add(1) > 1 {
				w.WriteHeader(400)
				_ = json.NewEncoder(w).Encode(map[string]string{"__type": "RepositoryAlreadyExistsException", "message": "exists"})
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"repository": map[string]string{"repositoryName": in.RepositoryName}})
		default:
			http.Error(w, "unexpected "+target, 400)
		}
	}))
	t.Cleanup(srv.Close)
	return ecr.New(ecr.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}

// make push-images' path, against go-containerregistry's in-memory registry behind basic auth:
// the credentials come from ECR's authorization token, the repository is created once, and
// the pushed image reads back with the same digest under every tag.
func TestPushWithECRCredentials(t *testing.T) {
	const user, pass = "AWS", "token-password"
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := DesktopImage(Image{Name: "terminal", Command: []string{"xterm"}}, fakeRootfs(t), writeFile(t, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	var created atomic.Int32
	p := Pusher{Registry: host, Tags: []string{"latest", "v1"}, ECR: fakeECR(t, user, pass, &created)}
	digest, err := p.Push(context.Background(), "terminal", img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Push(context.Background(), "terminal", img); err != nil {
		t.Fatalf("second push (the repository exists): %v", err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: pass})
	for _, tag := range []string{"latest", "v1"} {
		ref, err := name.ParseReference(host + "/streamspace/terminal:" + tag)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref, auth)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := got.Digest(); d != digest {
			t.Errorf("%s: digest %s, pushed %s", tag, d, digest)
		}
	}
	if ref, _ := name.ParseReference(host + "/streamspace/terminal:latest"); ref == nil {
		t.Fatal("reference")
	} else if _, err := remote.Image(ref); err == nil {
		t.Error("the registry served the image without credentials")
	}
}

func TestResolveAndRegion(t *testing.T) {
	const reg = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	if got := Resolve("streamspace/terminal:latest", reg); got != reg+"/streamspace/terminal:latest" {
		t.Errorf("resolve ours: %s", got)
	}
	if got := Resolve("lscr.io/linuxserver/firefox:latest", reg); got != "lscr.io/linuxserver/firefox:latest" {
		t.Errorf("resolve theirs: %s", got)
	}
	if ECRRegion(reg) != "eu-west-1" || ECRRegion("127.0.0.1:5000") != "" {
		t.Errorf("regions: %q %q", ECRRegion(reg), ECRRegion("127.0.0.1:5000"))
	}
}

// The seeded templates of Firefox, Chromium and the terminal run images defined here.
func TestTemplatesUseOurImages(t *testing.T) {
	defs, err := Load(filepath.Join(repoRoot(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"terminal": true, "firefox-browser": true, "chromium": true, "gimp": true, "libreoffice": true}
	for _, tpl := range templates.Catalog {
		repo, _, _ := strings.Cut(tpl.Image, ":")
		name, ours := strings.CutPrefix(repo, RepositoryPrefix+"/")
		if !ours {
			continue
		}
		if _, err := Find(defs, name); err != nil {
			t.Errorf("template %s: %v", tpl.Name, err)
		}
		delete(want, tpl.Name)
	}
	if len(want) != 0 {
		t.Errorf("templates not on our images: %v", want)
	}
}

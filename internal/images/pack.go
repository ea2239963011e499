package images

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DesktopConfig is a desktop image's runtime configuration: the entrypoint runs the image's
// application as uid 1000 and serves VNC on 5900.
func DesktopConfig(im Image) v1.Config {
	return v1.Config{
		Entrypoint: []string{Entrypoint},
		Cmd:        im.Command,
		User:       strconv.Itoa(UID) + ":" + strconv.Itoa(UID),
		WorkingDir: Home,
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "HOME=" + Home},
		ExposedPorts: map[string]struct{}{
			strconv.Itoa(VNCPort) + "/tcp": {},
		},
		StopSignal: "SIGTERM",
		Labels:     map[string]string{"org.opencontainers.image.title": RepositoryPrefix + "/" + im.Name},
	}
}

// EntrypointFiles is the layer above the root filesystem: the static entrypoint binary.
func EntrypointFiles(binary []byte) []File {
	return []File{{Path: Entrypoint, Mode: 0o755, Body: binary}}
}

// DesktopImage packs a root filesystem layer (Rootfs.Layer) and the entrypoint binary
// (cmd/desktop, static) into an OCI image.
func DesktopImage(im Image, rootfsLayer, entrypoint string) (v1.Image, error) {
	base, err := tarball.LayerFromFile(rootfsLayer, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(entrypoint)
	if err != nil {
		return nil, fmt.Errorf("the desktop entrypoint: %w", err)
	}
	top, err := filesLayer(EntrypointFiles(bin))
	if err != nil {
		return nil, err
	}
	return ociImage(DesktopConfig(im), base, top)
}

// GatewayPort is where the gateway image listens (GATEWAY_ADDR).
const GatewayPort = 8080

// GatewayImage packs the static gateway binary, the noVNC client it serves (NOVNC_DIR) and
// the CA certificates it needs for AWS's HTTPS APIs into a one-layer image, run as an
// unprivileged user of its own (65532) with nothing else: no shell, no package manager.
func GatewayImage(binary, novncDir, caFile string) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("the gateway binary: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	files := []File{
		{Path: "usr/local/bin/gateway", Mode: 0o755, Body: bin},
		{Path: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Body: ca},
		{Path: "etc/passwd", Mode: 0o644, Body: []byte("root:x:0:0:root:/root:/sbin/nologin\ngateway:x:65532:65532:gateway:/nonexistent:/sbin/nologin\n")},
		{Path: "etc/group", Mode: 0o644, Body: []byte("root:x:0:\ngateway:x:65532:\n")},
		{Path: "tmp", Mode: 0o1777, Dir: true},
	}
	web, err := TreeFiles(novncDir, "opt/novnc")
	if err != nil {
		return nil, fmt.Errorf("noVNC: %w", err)
	}
	layer, err := filesLayer(append(files, web...))
	if err != nil {
		return nil, err
	}
	return ociImage(v1.Config{
		Entrypoint:   []string{"/usr/local/bin/gateway"},
		User:         "65532:65532",
		Env:          []string{"NOVNC_DIR=/opt/novnc", "GATEWAY_ADDR=:" + strconv.Itoa(GatewayPort)},
		ExposedPorts: map[string]struct{}{strconv.Itoa(GatewayPort) + "/tcp": {}},
		StopSignal:   "SIGTERM",
		Labels:       map[string]string{"org.opencontainers.image.title": RepositoryPrefix + "/gateway"},
	}, layer)
}

func filesLayer(files []File) (v1.Layer, error) {
	b, err := tarBytes(files)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// ociImage is an OCI image (manifest and config media types) of layers for this machine's
// architecture.
func ociImage(cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Config = runtime.GOARCH, "linux", cfg
	cf.Created = v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	return mutate.ConfigFile(img, cf)
}

// RefAnnotation names the image inside its OCI layout.
const RefAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes an image as an OCI image layout folder (index.json, blobs/), replacing
// what was there: what make images leaves in .cache/images/<name>.oci and make push-images
// pushes, digest for digest.
func WriteLayout(dir, name string, img v1.Image) (v1.Hash, error) {
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{RefAnnotation: RepositoryPrefix + "/" + name})); err != nil {
		return v1.Hash{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

// ReadLayout returns the one image of a layout folder written by WriteLayout.
func ReadLayout(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s holds %d images, want 1", filepath.Base(dir), len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

// Command imagebuild builds StreamSpace's container images without Docker and pushes them
// (docs/runtime.md "Desktop images"):
//
//	imagebuild rootfs NAME                           build (or reuse) an image's root filesystem layer; print its path
//	imagebuild desktop -entrypoint BIN [NAME...]     desktop images → .cache/images/<name>.oci (all without names)
//	imagebuild gateway -binary BIN -novnc DIR        the gateway image → .cache/images/gateway.oci
//	imagebuild push -registry HOST [-tag T] [NAME...] push built images as HOST/streamspace/<name>:<tag>
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"streamspace/internal/images"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "rootfs":
		err = rootfsCmd(ctx, os.Args[2:])
	case "desktop":
		err = desktopCmd(ctx, os.Args[2:])
	case "gateway":
		err = gatewayCmd(os.Args[2:])
	case "push":
		err = pushCmd(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: imagebuild rootfs NAME | desktop -entrypoint BIN [NAME...] | gateway -binary BIN -novnc DIR | push -registry HOST [-tag T] [NAME...]")
	os.Exit(2)
}

// common flags: where definitions and outputs live.
type paths struct{ defs, cache, suite *string }

func pathFlags(fs *flag.FlagSet) paths {
	return paths{
		defs:  fs.String("images", "images", "folder of image definitions"),
		cache: fs.String("cache", ".cache/images", "cache and output folder"),
		suite: fs.String("suite", "", "Debian suite (default: this machine's)"),
	}
}

func (p paths) rootfs() images.Rootfs {
	return images.Rootfs{CacheDir: *p.cache, Suite: *p.suite, Log: os.Stderr}
}

// selected is the named images, or all of them.
func (p paths) selected(names []string) ([]images.Image, error) {
	all, err := images.Load(*p.defs)
	if err != nil || len(names) == 0 {
		return all, err
	}
	var out []images.Image
	for _, n := range names {
		im, err := images.Find(all, n)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

func rootfsCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rootfs", flag.ExitOnError)
	p := pathFlags(fs)
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		usage()
	}
	sel, err := p.selected(fs.Args())
	if err != nil {
		return err
	}
	layer, err := buildRootfs(ctx, p.rootfs(), sel[0])
	if err != nil {
		return err
	}
	fmt.Println(layer)
	return nil
}

func buildRootfs(ctx context.Context, r images.Rootfs, im images.Image) (string, error) {
	start := time.Now()
	layer, cached, err := r.Layer(ctx, im)
	if err != nil {
		return "", err
	}
	how := "cached"
	if !cached {
		how = "built with mmdebstrap"
	}
	fi, _ := os.Stat(layer)
	fmt.Fprintf(os.Stderr, "%s: root filesystem %s in %s (%s, %.0f MB)\n", im.Name, how, time.Since(start).Round(time.Millisecond),
		filepath.Base(layer), float64(fi.Size())/1e6)
	return layer, nil
}

func desktopCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("desktop", flag.ExitOnError)
	p := pathFlags(fs)
	entry := fs.String("entrypoint", ".cache/bin/desktop", "the static cmd/desktop binary")
	_ = fs.Parse(args)
	sel, err := p.selected(fs.Args())
	if err != nil {
		return err
	}
	for _, im := range sel {
		layer, err := buildRootfs(ctx, p.rootfs(), im)
		if err != nil {
			return err
		}
		img, err := images.DesktopImage(im, layer, *entry)
		if err != nil {
			return err
		}
		if err := write(*p.cache, im.Name, img); err != nil {
			return err
		}
	}
	return nil
}

func gatewayCmd(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	p := pathFlags(fs)
	bin := fs.String("binary", "", "the static cmd/gateway binary")
	novnc := fs.String("novnc", "", "the noVNC client folder (npm @novnc/novnc's package/)")
	ca := fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA certificates for the gateway's HTTPS calls to AWS")
	_ = fs.Parse(args)
	if *bin == "" || *novnc == "" {
		usage()
	}
	img, err := images.GatewayImage(*bin, *novnc, *ca)
	if err != nil {
		return err
	}
	return write(*p.cache, "gateway", img)
}

// write leaves the image in <cache>/<name>.oci, an OCI image layout.
func write(cache, name string, img v1.Image) error {
	start := time.Now()
	dir := filepath.Join(cache, name+".oci")
	digest, err := images.WriteLayout(dir, name, img)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	size, _ := img.Size()
	layers, _ := img.Layers()
	var total int64
	for _, l := range layers {
		n, _ := l.Size()
		total += n
	}
	fmt.Fprintf(os.Stderr, "%s: image %s in %s (%d layers, %.0f MB compressed, manifest %d bytes) in %s\n", name, digest, dir,
		len(layers), float64(total)/1e6, size, time.Since(start).Round(time.Millisecond))
	return nil
}

func pushCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	p := pathFlags(fs)
	registry := fs.String("registry", "", "<account>.dkr.ecr.<region>.amazonaws.com (or host:port of another registry)")
	tags := fs.String("tag", "latest", "comma-separated tags")
	_ = fs.Parse(args)
	if *registry == "" {
		return fmt.Errorf("-registry is required (make push-images REGISTRY=<account>.dkr.ecr.<region>.amazonaws.com)")
	}
	names := fs.Args()
	if len(names) == 0 {
		found, _ := filepath.Glob(filepath.Join(*p.cache, "*.oci"))
		for _, f := range found {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".oci"))
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no images in %s: run make images first", *p.cache)
	}
	pusher := images.Pusher{Registry: *registry, Tags: strings.Split(*tags, ","),
		Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }}
	if region := images.ECRRegion(*registry); region != "" {
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return fmt.Errorf("AWS credentials: %w", err)
		}
		pusher.ECR = ecr.NewFromConfig(cfg)
	}
	for _, n := range names {
		img, err := images.ReadLayout(filepath.Join(*p.cache, n+".oci"))
		if err != nil {
			return fmt.Errorf("%s: %w (run make images)", n, err)
		}
		if _, err := pusher.Push(ctx, n, img); err != nil {
			return err
		}
	}
	return nil
}

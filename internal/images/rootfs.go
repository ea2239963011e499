package images

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Rootfs builds Debian root filesystems with mmdebstrap and caches each as the gzipped layer
// the image uses, named by the SHA-256 of everything mmdebstrap is told (suite, architecture,
// mirrors, packages, options, hooks): the same definition is built once, a changed one again.
// Package versions are not part of the key: to pick up Debian's updates, remove the cache
// (rm -rf .cache/images) or change a list.
type Rootfs struct {
	CacheDir string    // .cache/images
	Suite    string    // Debian suite; default: the build machine's (VERSION_CODENAME)
	Mirrors  []string  // apt source lines; default: deb.debian.org with updates and security
	Log      io.Writer // mmdebstrap's progress; nil = discarded
}

// keyVersion changes when the way a root filesystem is built changes outside mmdebstrap's
// arguments (the layer filter).
const keyVersion = "streamspace-rootfs-1"

// hooks run in the finished root filesystem, before it is packed: the image's user, a private
// home, and no setuid or setgid program (nothing in a session can gain privileges; sudo is not
// installed at all).
var hooks = []string{
	fmt.Sprintf(`chroot "$1" useradd --uid %d --user-group --create-home --home-dir %s --shell /bin/bash streamspace`, UID, Home),
	`chmod 0700 "$1` + Home + `"`,
	`find "$1" -xdev -type f -perm /6000 -exec chmod ug-s {} +`,
}

// command is mmdebstrap's command line: the tarball goes to stdout.
func (b Rootfs) command(im Image) ([]string, error) {
	suite := b.Suite
	if suite == "" {
		var err error
		if suite, err = hostSuite(); err != nil {
			return nil, err
		}
	}
	mirrors := b.Mirrors
	if len(mirrors) == 0 {
		mirrors = []string{
			"deb http://deb.debian.org/debian " + suite + " main",
			"deb http://deb.debian.org/debian " + suite + "-updates main",
			"deb http://deb.debian.org/debian-security " + suite + "-security main",
		}
	}
	args := []string{"--mode=root", "--variant=apt", "--format=tar", "--architectures=" + runtime.GOARCH,
		"--include=" + strings.Join(im.Packages, ","),
		`--aptopt=Acquire::Retries "3"`,
		// No manuals, documentation or translations in a desktop image (copyrights stay).
		"--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/info/*",
		"--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
		"--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-include=/usr/share/locale/locale.alias"}
	for _, h := range hooks {
		args = append(args, "--customize-hook="+h)
	}
	return append(append(args, suite, "-"), mirrors...), nil
}

// Key is the cache key of an image's root filesystem.
func (b Rootfs) Key(im Image) (string, error) {
	args, err := b.command(im)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(keyVersion + "\n" + strings.Join(args, "\n")))
	return hex.EncodeToString(sum[:]), nil
}

// Layer returns the image's root filesystem layer (.tar.gz), building it unless cached.
func (b Rootfs) Layer(ctx context.Context, im Image) (path string, cached bool, err error) {
	key, err := b.Key(im)
	if err != nil {
		return "", false, err
	}
	dir := filepath.Join(b.CacheDir, "rootfs")
	path = filepath.Join(dir, im.Name+"-"+key[:16]+".tar.gz")
	if _, err := os.Stat(path); err == nil {
		return path, true, nil
	}
	if os.Geteuid() != 0 {
		return "", false, errors.New("building a root filesystem needs root (mmdebstrap --mode=root keeps file owners): run it with sudo")
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		return "", false, errors.New("mmdebstrap is not installed: sudo apt-get install -y mmdebstrap")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	args, _ := b.command(im)
	tmp := path + ".tmp"
	defer os.Remove(tmp)
	if err := b.build(ctx, args, tmp); err != nil {
		return "", false, fmt.Errorf("root filesystem of %s: %w", im.Name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", false, err
	}
	prune(dir, im.Name, filepath.Base(path))
	return path, false, nil
}

// build runs mmdebstrap and filters its tarball into a gzipped layer.
func (b Rootfs) build(ctx context.Context, args []string, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Stderr = b.Log
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
	ferr := FilterRootfs(bufio.NewReaderSize(stdout, 1<<20), zw)
	if ferr != nil {
		_, _ = io.Copy(io.Discard, stdout) // let mmdebstrap finish
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("mmdebstrap: %w", err)
	}
	if ferr != nil {
		return ferr
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

var cacheName = regexp.MustCompile(`^(.+)-[0-9a-f]{16}\.tar\.gz$`)

// prune removes the image's older root filesystems (another key), which nothing uses any more.
func prune(dir, name, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if m := cacheName.FindStringSubmatch(e.Name()); m != nil && m[1] == name && e.Name() != keep {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// hostSuite is the build machine's Debian suite: the images get the libraries the local
// runtime is tested with.
func hostSuite() (string, error) {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "", fmt.Errorf("the Debian suite to build: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VERSION_CODENAME="); ok && v != "" {
			return strings.Trim(v, `"`), nil
		}
	}
	return "", errors.New("no VERSION_CODENAME in /etc/os-release: set the suite (imagebuild -suite bookworm)")
}

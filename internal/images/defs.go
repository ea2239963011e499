// Package images builds the desktop images (images/<name>/: Debian packages and the
// application's command) and the gateway image without Docker: mmdebstrap makes a Debian root
// filesystem, cached by the hash of what went into it; go-containerregistry packs it with the
// desktop entrypoint (cmd/desktop) into an OCI image, written as a tarball and pushed to ECR.
// docs/runtime.md "Desktop images" describes the contract the images keep.
package images

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"streamspace/internal/imageref"
	"strings"
)

// Image is one desktop image's definition.
type Image struct {
	Name     string
	Packages []string // Debian packages: the common list and the image's own, sorted
	Command  []string // the application, started by the entrypoint
}

// The image's user: uid 1000, home /home/streamspace (the EFS access point's mount when the
// session's home persists), no sudo, no setuid programs.
const (
	UID        = 1000
	Home       = "/home/streamspace"
	Entrypoint = "/usr/local/bin/desktop"
	VNCPort    = 5900
)

// Load reads every image under dir (images/).
func Load(dir string) ([]Image, error) {
	common, err := readList(filepath.Join(dir, "common.txt"))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Image
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		own, err := readList(filepath.Join(dir, e.Name(), "packages.txt"))
		if err != nil {
			return nil, err
		}
		cmd, err := readList(filepath.Join(dir, e.Name(), "command"))
		if err != nil || len(cmd) != 1 {
			return nil, fmt.Errorf("%s/command: one line, the application's command (%v)", e.Name(), err)
		}
		pkgs := slices.Compact(slices.Sorted(slices.Values(append(append([]string(nil), common...), own...))))
		out = append(out, Image{Name: e.Name(), Packages: pkgs, Command: strings.Fields(cmd[0])})
	}
	return out, nil
}

// Find returns the named image.
func Find(all []Image, name string) (Image, error) {
	for _, im := range all {
		if im.Name == name {
			return im, nil
		}
	}
	return Image{}, fmt.Errorf("no image %q under images/", name)
}

// readList reads the non-empty lines of a file, without # comments.
func readList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}

// Resolve and RepositoryPrefix live in imageref, which the ECS runtime imports without this
// package's image-building dependencies.
var Resolve = imageref.Resolve

const RepositoryPrefix = imageref.RepositoryPrefix

package images

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// FilterRootfs copies mmdebstrap's tarball into a layer: paths relative to the image's root,
// numeric owners only, no device nodes (the container runtime provides /dev), no extended
// attributes (so no file capabilities), and no setuid or setgid bit on any file.
func FilterRootfs(r io.Reader, w io.Writer) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("mmdebstrap's tarball: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		switch {
		case name == "" || name == ".":
			continue
		case strings.HasPrefix(name, "dev/") && name != "dev/":
			continue
		case h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock || h.Typeflag == tar.TypeFifo:
			continue
		}
		out := &tar.Header{Typeflag: h.Typeflag, Name: name, Linkname: h.Linkname, Size: h.Size, Mode: h.Mode,
			Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime}
		if h.Typeflag == tar.TypeLink {
			out.Linkname = strings.TrimPrefix(h.Linkname, "./")
		}
		if h.Typeflag == tar.TypeReg {
			out.Mode &^= 0o6000
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// File is one entry of a small layer (the entrypoint, the gateway and its web client).
type File struct {
	Path     string // in the image, without the leading slash
	Mode     int64  // permission bits (and sticky for folders)
	Dir      bool
	Body     []byte
	UID, GID int
}

// TarFiles writes a layer holding files, with every parent folder (root's, 0755) before them.
func TarFiles(w io.Writer, files []File) error {
	all := map[string]File{}
	for _, f := range files {
		f.Path = strings.Trim(path.Clean("/"+f.Path), "/")
		all[f.Path] = f
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			if _, ok := all[dir]; !ok {
				all[dir] = File{Path: dir, Mode: 0o755, Dir: true}
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range all {
			if !yield(n) {
				return
			}
		}
	})
	tw := tar.NewWriter(w)
	for _, n := range names {
		f := all[n]
		h := &tar.Header{Name: n, Mode: f.Mode, Uid: f.UID, Gid: f.GID, Typeflag: tar.TypeReg, Size: int64(len(f.Body))}
		if f.Dir {
			h.Name, h.Typeflag, h.Size = n+"/", tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// TreeFiles lists a host folder's regular files and folders as layer files under prefix,
// readable by all (the noVNC client).
func TreeFiles(dir, prefix string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		target := path.Join(prefix, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			out = append(out, File{Path: target, Mode: 0o755, Dir: true})
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, File{Path: target, Mode: 0o644, Body: b})
		}
		return nil
	})
	return out, err
}

// tarBytes is TarFiles into memory.
func tarBytes(files []File) ([]byte, error) {
	var b bytes.Buffer
	err := TarFiles(&b, files)
	return b.Bytes(), err
}

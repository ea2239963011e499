// Package objects is the local stand-in for the recordings bucket: files in a folder, reached
// through URLs signed with HMAC-SHA256 and bounded in time, like S3's presigned URLs, and
// written by the gateway through multipart uploads with S3's rules.
package objects

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"streamspace/internal/recordings"
)

// The store is the recordings bucket's stand-in, reads and writes alike.
var _ recordings.Objects = (*Store)(nil)

// Prefix is the HTTP path the store is served under.
const Prefix = "/local-objects/"

// MaxObject bounds one upload whatever its form says.
const MaxObject = recordings.MaxUploadBytes

// Store keeps objects under Dir and serves them at BaseURL + Prefix.
type Store struct {
	Dir     string
	BaseURL string
	secret  []byte
}

// New makes a store with a fresh signing secret.
func New(dir, baseURL string) (*Store, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return &Store{Dir: dir, BaseURL: baseURL, secret: secret}, os.MkdirAll(dir, 0o700)
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9/_.-]{1,512}$`)

func (s *Store) sign(method, key string, expires int64) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(method + "\n" + key + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Store) url(method, key string, ttl time.Duration) (string, error) {
	if !keyRE.MatchString(key) || filepath.Clean(key) != key {
		return "", errors.New("bad object key")
	}
	exp := time.Now().Add(ttl).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "signature": {s.sign(method, key, exp)}}
	return s.BaseURL + Prefix + key + "?" + q.Encode(), nil
}

// UploadForm signs a POST of at most maxBytes to key, as S3's POST policy does: the fields
// expires, max and signature (HMAC of method, key, expiry and bound) come back with the file.
func (s *Store) UploadForm(_ context.Context, key, contentType string, maxBytes int64, ttl time.Duration) (recordings.Form, error) {
	if !keyRE.MatchString(key) || filepath.Clean(key) != key {
		return recordings.Form{}, errors.New("bad object key")
	}
	exp := time.Now().Add(ttl).Unix()
	max := strconv.FormatInt(maxBytes, 10)
	return recordings.Form{URL: s.BaseURL + Prefix + key, Fields: map[string]string{"key": key, "Content-Type": contentType,
		"expires": strconv.FormatInt(exp, 10), "max": max, "signature": s.sign(http.MethodPost, key+"\n"+max, exp)}}, nil
}

// sealPath marks a key whose upload forms are dead (completed or deleted recordings).
func (s *Store) sealPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.Dir, sealedDir, hex.EncodeToString(sum[:]))
}

const sealedDir = ".sealed"

func (s *Store) Seal(_ context.Context, key string) error {
	if err := os.MkdirAll(filepath.Join(s.Dir, sealedDir), 0o700); err != nil {
		return err
	}
	return os.WriteFile(s.sealPath(key), nil, 0o600)
}

func (s *Store) sealed(key string) bool {
	_, err := os.Stat(s.sealPath(key))
	return err == nil
}

func (s *Store) Size(_ context.Context, key string) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, recordings.ErrNoObject
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (s *Store) DownloadURL(_ context.Context, key string, ttl time.Duration) (string, error) {
	return s.url(http.MethodGet, key, ttl)
}

func (s *Store) Delete(_ context.Context, key string) error {
	err := os.Remove(filepath.Join(s.Dir, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ServeHTTP answers signed POST uploads and GET requests; anything unsigned, tampered or late
// is 403, and so is an upload to a sealed key.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Path[len(Prefix):]
	if r.Method == http.MethodPost {
		s.post(w, r, key)
		return
	}
	exp, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	want := s.sign(r.Method, key, exp)
	if err != nil || !keyRE.MatchString(key) || filepath.Clean(key) != key || time.Now().Unix() > exp ||
		!hmac.Equal([]byte(want), []byte(r.URL.Query().Get("signature"))) {
		http.Error(w, "signature does not match, or the URL has expired", http.StatusForbidden)
		return
	}
	path := filepath.Join(s.Dir, filepath.FromSlash(key))
	switch r.Method {
	case http.MethodGet:
		http.ServeFile(w, r, path)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// post stores a form upload: the fields first (key, expires, max, signature), then the file,
// of at most max bytes (413 beyond, nothing kept).
func (s *Store) post(w http.ResponseWriter, r *http.Request, key string) {
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "want multipart/form-data", http.StatusBadRequest)
		return
	}
	fields := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err != nil {
			http.Error(w, "no file part", http.StatusBadRequest)
			return
		}
		if part.FormName() != "file" {
			b, _ := io.ReadAll(io.LimitReader(part, 4096))
			fields[part.FormName()] = string(b)
			continue
		}
		exp, err1 := strconv.ParseInt(fields["expires"], 10, 64)
		max, err2 := strconv.ParseInt(fields["max"], 10, 64)
		want := s.sign(http.MethodPost, key+"\n"+fields["max"], exp)
		if err1 != nil || err2 != nil || fields["key"] != key || !keyRE.MatchString(key) || filepath.Clean(key) != key ||
			time.Now().Unix() > exp || !hmac.Equal([]byte(want), []byte(fields["signature"])) {
			http.Error(w, "signature does not match, or the form has expired", http.StatusForbidden)
			return
		}
		if s.sealed(key) {
			http.Error(w, "the recording is completed or deleted: its upload form is dead", http.StatusForbidden)
			return
		}
		path := filepath.Join(s.Dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			http.Error(w, "cannot store", http.StatusInternalServerError)
			return
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
		if err != nil {
			http.Error(w, "cannot store", http.StatusInternalServerError)
			return
		}
		defer os.Remove(tmp.Name())
		limit := min(max, MaxObject)
		n, err := io.Copy(tmp, io.LimitReader(part, limit+1))
		tmp.Close()
		if err != nil || n > limit || n < 1 {
			http.Error(w, fmt.Sprintf("upload failed, empty or larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
			return
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			http.Error(w, "cannot store", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
}

// The gateway's side, as S3 does it: multipart uploads kept under Dir/.uploads/<id>/ (one file
// per part) until completion assembles the named parts, in order, into the object; and whole
// small objects.

const uploadsDir = ".uploads"

func (s *Store) path(key string) (string, error) {
	if !keyRE.MatchString(key) || filepath.Clean(key) != key || strings.HasPrefix(key, uploadsDir) {
		return "", errors.New("bad object key")
	}
	return filepath.Join(s.Dir, filepath.FromSlash(key)), nil
}

func (s *Store) uploadDir(key, id string) (string, error) {
	if !uploadRE.MatchString(id) {
		return "", recordings.ErrNoUpload
	}
	dir := filepath.Join(s.Dir, uploadsDir, id)
	b, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil || string(b) != key {
		return "", recordings.ErrNoUpload
	}
	return dir, nil
}

var uploadRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Store) CreateUpload(_ context.Context, key, _ string) (string, error) {
	if _, err := s.path(key); err != nil {
		return "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	dir := filepath.Join(s.Dir, uploadsDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return id, os.WriteFile(filepath.Join(dir, "key"), []byte(key), 0o644)
}

func (s *Store) UploadPart(_ context.Context, key, id string, n int32, body []byte) (string, error) {
	dir, err := s.uploadDir(key, id)
	if err != nil {
		return "", err
	}
	if n < 1 || n > 10000 {
		return "", fmt.Errorf("part number %d", n)
	}
	if err := writeAtomic(filepath.Join(dir, strconv.Itoa(int(n))), body); err != nil {
		return "", err
	}
	return etag(body), nil
}

func etag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (s *Store) CompleteUpload(_ context.Context, key, id string, parts []recordings.Part) error {
	dir, err := s.uploadDir(key, id)
	if err != nil {
		return err
	}
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".complete-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	last := int32(0)
	for _, p := range parts {
		b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(int(p.N))))
		if err != nil || p.N <= last || etag(b) != p.ETag {
			tmp.Close()
			return fmt.Errorf("part %d is missing, out of order or not the one uploaded", p.N)
		}
		last = p.N
		if _, err := tmp.Write(b); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func (s *Store) AbortUpload(_ context.Context, key, id string) error {
	dir, err := s.uploadDir(key, id)
	if errors.Is(err, recordings.ErrNoUpload) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func (s *Store) Put(_ context.Context, key, _ string, body []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return writeAtomic(p, body)
}

func (s *Store) Get(_ context.Context, key string, max int64) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, recordings.ErrNoObject
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		err = fmt.Errorf("object of more than %d bytes", max)
	}
	return b, err
}

// writeAtomic replaces path's content as a whole: a reader never sees half a part.
func writeAtomic(path string, body []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".write-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

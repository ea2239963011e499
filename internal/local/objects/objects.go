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

// MaxObject bounds one upload.
const MaxObject = 512 << 20

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

func (s *Store) UploadURL(_ context.Context, key, _ string, ttl time.Duration) (string, error) {
	return s.url(http.MethodPut, key, ttl)
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

// ServeHTTP answers signed PUT and GET requests; anything unsigned, tampered or late is 403.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Path[len(Prefix):]
	exp, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	want := s.sign(r.Method, key, exp)
	if err != nil || !keyRE.MatchString(key) || filepath.Clean(key) != key || time.Now().Unix() > exp ||
		!hmac.Equal([]byte(want), []byte(r.URL.Query().Get("signature"))) {
		http.Error(w, "signature does not match, or the URL has expired", http.StatusForbidden)
		return
	}
	path := filepath.Join(s.Dir, filepath.FromSlash(key))
	switch r.Method {
	case http.MethodPut:
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			http.Error(w, "cannot store", http.StatusInternalServerError)
			return
		}
		f, err := os.Create(path)
		if err != nil {
			http.Error(w, "cannot store", http.StatusInternalServerError)
			return
		}
		n, err := io.Copy(f, io.LimitReader(r.Body, MaxObject+1))
		f.Close()
		if err != nil || n > MaxObject {
			os.Remove(path)
			http.Error(w, "upload failed or too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		http.ServeFile(w, r, path)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
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

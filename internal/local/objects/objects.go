// Package objects is the local stand-in for the recordings bucket: files in a folder, reached
// through URLs signed with HMAC-SHA256 and bounded in time, like S3's presigned URLs.
package objects

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

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

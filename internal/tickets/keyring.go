package tickets

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// KeySet is the stored form of the ticket keys: every key verifies, the signing one signs.
// Rotation without downtime: add a key, wait until every reader reloaded (RefreshEvery), make it
// the signing key, and remove the old one once its last tickets expired (Lifetime later).
type KeySet struct {
	Signing string            `json:"signing"`
	Keys    map[string]string `json:"keys"` // id → base64 of at least 32 random bytes
}

// Source loads the current key set (a file locally, a Secrets Manager secret in AWS).
type Source func(ctx context.Context) (KeySet, error)

// RefreshEvery is how often a keyring reloads its source, so a rotation reaches every reader.
const RefreshEvery = 5 * time.Minute

// Keyring holds decoded keys, reloading them from its source now and then.
type Keyring struct {
	source Source
	now    func() time.Time

	mu      sync.RWMutex
	signing string
	keys    map[string][]byte
	loaded  time.Time
}

// NewKeyring loads the keys once; Refresh reloads them when they are older than RefreshEvery.
func NewKeyring(ctx context.Context, src Source) (*Keyring, error) {
	k := Lazy(src)
	if err := k.load(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Lazy is a keyring that loads its keys at first use (Sign, Refresh): a function that rarely
// signs does not read the secret at start.
func Lazy(src Source) *Keyring { return &Keyring{source: src, now: time.Now} }

func (k *Keyring) hasKeys() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys != nil
}

// Static is a keyring of fixed keys (tests, and tools that sign once).
func Static(ks KeySet) (*Keyring, error) {
	return NewKeyring(context.Background(), func(context.Context) (KeySet, error) { return ks, nil })
}

// Refresh reloads the keys if they are due; a failed reload keeps the old ones (and says so).
func (k *Keyring) Refresh(ctx context.Context) error {
	k.mu.RLock()
	due := k.keys == nil || k.now().Sub(k.loaded) >= RefreshEvery
	k.mu.RUnlock()
	if !due {
		return nil
	}
	return k.load(ctx)
}

func (k *Keyring) load(ctx context.Context) error {
	ks, err := k.source(ctx)
	if err != nil {
		return fmt.Errorf("ticket keys: %w", err)
	}
	keys := map[string][]byte{}
	for id, enc := range ks.Keys {
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(b) < 32 {
			return fmt.Errorf("ticket key %q: must be base64 of at least 32 bytes", id)
		}
		if !validID(id) {
			return fmt.Errorf("ticket key id %q: use 1-32 letters, digits, - or _", id)
		}
		keys[id] = b
	}
	if _, ok := keys[ks.Signing]; !ok {
		return fmt.Errorf("ticket keys: the signing key %q is not among the keys", ks.Signing)
	}
	k.mu.Lock()
	k.signing, k.keys, k.loaded = ks.Signing, keys, k.now()
	k.mu.Unlock()
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (k *Keyring) signer() (string, []byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[k.signing]
	return k.signing, key, ok
}

func (k *Keyring) key(id string) ([]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok := k.keys[id]
	return key, ok
}

// NewKeySet makes a key set with one fresh signing key.
func NewKeySet(id string) (KeySet, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return KeySet{}, err
	}
	return KeySet{Signing: id, Keys: map[string]string{id: base64.StdEncoding.EncodeToString(b)}}, nil
}

// FileSource reads a key set from a JSON file, creating it (mode 0600) with one key if absent:
// the local stack's keys live in its data folder.
func FileSource(path string) Source {
	return func(context.Context) (KeySet, error) {
		var ks KeySet
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			if ks, err = NewKeySet("local1"); err != nil {
				return ks, err
			}
			if b, err = json.Marshal(ks); err != nil {
				return ks, err
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return ks, err
			}
			return ks, os.WriteFile(path, b, 0o600)
		}
		if err != nil {
			return ks, err
		}
		if err := json.Unmarshal(b, &ks); err != nil {
			return ks, fmt.Errorf("%s: %w", path, err)
		}
		return ks, nil
	}
}

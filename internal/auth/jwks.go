package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// JWK is one JSON Web Key (RFC 7517); only the RSA and EC members are used.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKSet is the document served at an issuer's jwks_uri.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicKey decodes the key material.
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err := errors.Join(err1, err2); err != nil || len(n) == 0 || len(e) == 0 {
			return nil, fmt.Errorf("jwk %q: bad RSA members", k.Kid)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, fmt.Errorf("jwk %q: unsupported curve %q", k.Kid, k.Crv)
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("jwk %q: bad EC members", k.Kid)
		}
		return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, nil
	}
	return nil, fmt.Errorf("jwk %q: unsupported key type %q", k.Kid, k.Kty)
}

// RSAJWK describes an RSA public key as a JWK.
func RSAJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{Kty: "RSA", Kid: kid, Use: "sig", Alg: "RS256",
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

// JWKSCache fetches an issuer's keys and keeps them. An unknown kid triggers a refetch (key
// rotation), rate-limited so a flood of forged kids cannot turn into a flood of fetches; the
// limit holds while the issuer is down too (no keys yet: one attempt per interval, not one per
// request). A fetch runs outside the lock: verifications with a known key never wait for it,
// and callers who need it share one fetch (U-3).
type JWKSCache struct {
	URL         string
	Client      *http.Client
	TTL         time.Duration // how long keys are trusted before a refetch; default 1 h
	MinInterval time.Duration // least time between two fetch attempts; default 30 s

	mu        sync.Mutex
	keys      map[string]crypto.PublicKey
	fetched   time.Time     // the last successful fetch
	attempted time.Time     // the last attempt, successful or not
	lastErr   error         // why the last attempt failed
	inflight  chan struct{} // closed when the fetch under way ends
}

// Key returns the public key for kid.
func (c *JWKSCache) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	ttl, minInterval := c.TTL, c.MinInterval
	if ttl == 0 {
		ttl = time.Hour
	}
	if minInterval == 0 {
		minInterval = 30 * time.Second
	}
	for waited := false; ; waited = true {
		c.mu.Lock()
		k, ok := c.keys[kid]
		if ok && time.Since(c.fetched) <= ttl {
			c.mu.Unlock()
			return k, nil
		}
		if wait := c.inflight; wait != nil && !waited {
			c.mu.Unlock()
			select { // someone is fetching: share their answer
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if waited || (!c.attempted.IsZero() && time.Since(c.attempted) < minInterval) {
			// Not due again: serve a known key while the issuer is unreachable, else refuse.
			err := c.lastErr
			c.mu.Unlock()
			if ok {
				return k, nil
			}
			if err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("no key %q in the issuer's key set", kid)
		}
		done := make(chan struct{})
		c.inflight, c.attempted = done, time.Now()
		c.mu.Unlock()
		keys, err := c.fetch(ctx)
		c.mu.Lock()
		if err == nil {
			c.keys, c.fetched = keys, time.Now()
		}
		c.lastErr, c.inflight = err, nil
		close(done)
		c.mu.Unlock()
		waited = true // one attempt per call: re-read the cache, then answer
		if err != nil && !ok {
			return nil, err
		}
	}
}

func (c *JWKSCache) fetch(ctx context.Context) (map[string]crypto.PublicKey, error) {
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var set JWKSet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if pk, err := k.PublicKey(); err == nil {
			keys[k.Kid] = pk
		}
	}
	return keys, nil
}

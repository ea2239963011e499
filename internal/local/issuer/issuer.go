// Package issuer is the local stack's token issuer: an RSA signing key kept in the data folder,
// its JWKS served over HTTP, and tokens minted for any user and role.
package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"streamspace/internal/auth"
)

// Defaults of the local identity provider.
const (
	IssuerName = "streamspace-local"
	Audience   = "streamspace"
	// RoleClaim carries the platform role in local tokens (Cognito would use cognito:groups).
	RoleClaim = "streamspace:role"
	JWKSPath  = "/.well-known/jwks.json"
)

// Issuer signs tokens with one key.
type Issuer struct {
	key *rsa.PrivateKey
	kid string
}

// LoadOrCreate reads the key at path, creating it (0600) on first use.
func LoadOrCreate(path string) (*Issuer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		der := x509.MarshalPKCS1PrivateKey(key)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return New(key), nil
	} else if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM key", path)
	}
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return New(key), nil
}

// New wraps a key; the key id is derived from the public key.
func New(key *rsa.PrivateKey) *Issuer {
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	return &Issuer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8])}
}

// Claims customise a minted token.
type Claims struct {
	Subject string
	Role    string // "" = no role claim (plain user)
	Email   string
	Name    string
	TTL     time.Duration
	// Overrides for tests of rejection paths.
	Issuer          string
	Audience        string
	IssuedAt        time.Time
	EmailUnverified bool
}

// Mint signs a token.
func (is *Issuer) Mint(c Claims) (string, error) {
	now := c.IssuedAt
	if now.IsZero() {
		now = time.Now()
	}
	if c.TTL == 0 {
		c.TTL = 12 * time.Hour
	}
	iss, aud := c.Issuer, c.Audience
	if iss == "" {
		iss = IssuerName
	}
	if aud == "" {
		aud = Audience
	}
	email := c.Email
	if email == "" {
		email = c.Subject + "@example.test"
	}
	claims := jwt.MapClaims{"sub": c.Subject, "iss": iss, "aud": aud, "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(c.TTL).Unix(), "email": email, "email_verified": !c.EmailUnverified, "name": c.Name}
	if c.Role != "" {
		claims[RoleClaim] = c.Role
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = is.kid
	return t.SignedString(is.key)
}

// JWKS is the public key set.
func (is *Issuer) JWKS() auth.JWKSet {
	return auth.JWKSet{Keys: []auth.JWK{auth.RSAJWK(is.kid, &is.key.PublicKey)}}
}

// ServeJWKS serves the key set.
func (is *Issuer) ServeJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(is.JWKS())
}

// Package apikeys is the API-keys area: keys that act as their owner narrowed by scopes, their
// hourly rate limits, usage log and statistics, and the routes under /api-keys.
package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"time"

	"streamspace/internal/expiry"
	"streamspace/internal/problem"
	"streamspace/internal/routes"
)

// Key is an API key as its owner sees it; the secret itself is never stored.
type Key struct {
	ID          string     `json:"id" dynamodbav:"id"`
	OwnerID     string     `json:"ownerId" dynamodbav:"ownerId"`
	Name        string     `json:"name" dynamodbav:"name"`
	Description string     `json:"description,omitempty" dynamodbav:"description,omitempty"`
	KeyPrefix   string     `json:"keyPrefix" dynamodbav:"keyPrefix"`
	Scopes      []string   `json:"scopes" dynamodbav:"scopes"`
	RateLimit   int        `json:"rateLimit" dynamodbav:"rateLimit"` // requests per hour
	CreatedAt   time.Time  `json:"createdAt" dynamodbav:"createdAt"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty" dynamodbav:"keyExpiresAt,omitempty"`
	Revoked     bool       `json:"revoked" dynamodbav:"revoked"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty" dynamodbav:"revokedAt,omitempty"`
	LastUsedAt  *time.Time `json:"lastUsedAt,omitempty" dynamodbav:"-"`
	// RateLimitedHour is the last hour (yyyymmddhh) the key hit its limit; setting it once per
	// hour is the committed change the apikey.rate_limited event is derived from.
	RateLimitedHour string `json:"-" dynamodbav:"rateLimitedHour,omitempty"`
}

// Expired reports whether the key is past its expiry.
func (k Key) Expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// Limits of the API.
const (
	DefaultRateLimit = 1000
	MaxKeysPerUser   = 50 // revoked ones count until deleted
	MaxRateLimit     = 100000
	SecretPrefix     = "sk_"
	secretBytes      = 32
	prefixLength     = 8
	maxLifetimeYears = 5
)

// NewSecret makes a key: "sk_" + base64url of 32 bytes from crypto/rand.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

var secretRE = regexp.MustCompile(`^sk_[A-Za-z0-9_-]{43}$`)

// WellFormed reports whether s could be a key (checked before any database call).
func WellFormed(s string) bool { return secretRE.MatchString(s) }

// Hash is what is stored and looked up: the hex SHA-256 of the key.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// HashesEqual compares two hashes in constant time.
func HashesEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Prefix is the part of a key shown to identify it.
func Prefix(secret string) string { return secret[:prefixLength] }

// ParseExpiresIn reads "12h", "30d", "2w", "6m" (months) or "1y" into an expiry time, at most 5
// calendar years away (so "5y" and "60m" are accepted whatever leap days they span).
func ParseExpiresIn(s string, now time.Time) (time.Time, error) {
	return expiry.Parse("expiresIn", s, now, now.AddDate(maxLifetimeYears, 0, 0).Sub(now))
}

// NormalizeScopes validates requested scopes; none means read-only.
func NormalizeScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return slices.Clone(routes.ReadOnlyScopes), nil
	}
	var out []string
	for _, s := range in {
		if !slices.Contains(routes.Scopes, s) {
			return nil, problem.Invalid("scopes", fmt.Sprintf("unknown scope %q; known: %v", s, routes.Scopes))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig says which tokens are accepted.
type JWTConfig struct {
	Issuer   string
	Audience string // matched against "aud", or Cognito access tokens' "client_id"
	JWKSURL  string
	Leeway   time.Duration // clock skew tolerated on exp/nbf/iat
	// RoleClaim names the claim carrying the platform role: a string, or a list of groups
	// (as Cognito's "cognito:groups") from which the highest known role is taken.
	RoleClaim string
}

// Identity is what a verified token says about its subject.
type Identity struct {
	Subject string
	Email   string
	Name    string
	Role    string // "" when the token names no platform role
	// EmailVerified is the email_verified claim: only a verified address may match a
	// bootstrap admin entry.
	EmailVerified bool
}

// JWTVerifier checks signature (through the issuer's JWKS), issuer, audience and lifetime.
type JWTVerifier struct {
	cfg  JWTConfig
	keys *JWKSCache
}

func NewJWTVerifier(cfg JWTConfig) *JWTVerifier {
	return &JWTVerifier{cfg: cfg, keys: &JWKSCache{URL: cfg.JWKSURL}}
}

// ErrInvalidToken is returned for every token that is not accepted; the reason is wrapped for logs.
var ErrInvalidToken = errors.New("invalid token")

// ErrMisconfigured means the verifier cannot check issuer or audience: a server fault, so
// no token is accepted rather than every token.
var ErrMisconfigured = errors.New("JWT issuer, audience and JWKS URL must all be configured")

func (v *JWTVerifier) Verify(ctx context.Context, raw string) (Identity, error) {
	if v.cfg.Issuer == "" || v.cfg.Audience == "" || v.cfg.JWKSURL == "" {
		return Identity{}, ErrMisconfigured
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		return v.keys.Key(ctx, kid)
	})
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !v.audienceOK(claims) {
		return Identity{}, fmt.Errorf("%w: audience mismatch", ErrInvalidToken)
	}
	id := Identity{Subject: str(claims["sub"]), Email: str(claims["email"]), Name: str(claims["name"])}
	if id.Subject == "" || len(id.Subject) > 128 {
		return Identity{}, fmt.Errorf("%w: missing or oversized sub", ErrInvalidToken)
	}
	if id.Name == "" {
		id.Name = str(claims["preferred_username"])
	}
	id.Role = roleFromClaim(claims[v.cfg.RoleClaim])
	id.EmailVerified, _ = claims["email_verified"].(bool)
	return id, nil
}

// audienceOK accepts tokens for this API. Cognito's access tokens carry no aud, only the app
// client's client_id; that is accepted for Cognito's access tokens alone, so another issuer's
// token for another resource server, issued to the same client, is not replayable here (SEC-20).
func (v *JWTVerifier) audienceOK(claims jwt.MapClaims) bool {
	aud, _ := claims.GetAudience()
	if slices.Contains(aud, v.cfg.Audience) {
		return true
	}
	return len(aud) == 0 && str(claims["token_use"]) == "access" && strings.Contains(v.cfg.Issuer, "://cognito-idp.") &&
		str(claims["client_id"]) == v.cfg.Audience
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// roleFromClaim takes the highest platform role a claim names.
func roleFromClaim(v any) string {
	var names []string
	switch c := v.(type) {
	case string:
		names = strings.Fields(strings.ReplaceAll(c, ",", " "))
	case []any:
		for _, x := range c {
			names = append(names, str(x))
		}
	}
	return HighestRole(names...)
}

// HighestRole returns the most powerful platform role among names ("" when none is a role).
func HighestRole(names ...string) string {
	best := ""
	rank := map[string]int{RoleUser: 1, RoleOperator: 2, RoleAdmin: 3}
	for _, n := range names {
		if rank[n] > rank[best] {
			best = n
		}
	}
	return best
}

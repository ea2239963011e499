package auth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestAudience(t *testing.T) {
	cognito := &JWTVerifier{cfg: JWTConfig{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc", Audience: "client123"}}
	other := &JWTVerifier{cfg: JWTConfig{Issuer: "https://login.example.com/realms/main", Audience: "client123"}}
	for _, c := range []struct {
		name   string
		v      *JWTVerifier
		claims jwt.MapClaims
		ok     bool
	}{
		{"aud", other, jwt.MapClaims{"aud": "client123"}, true},
		{"aud in a list", other, jwt.MapClaims{"aud": []any{"x", "client123"}}, true},
		{"Cognito access token", cognito, jwt.MapClaims{"token_use": "access", "client_id": "client123"}, true},
		{"Cognito access token of another client", cognito, jwt.MapClaims{"token_use": "access", "client_id": "other"}, false},
		{"Cognito id token without aud", cognito, jwt.MapClaims{"token_use": "id", "client_id": "client123"}, false},
		// SEC-20: another issuer's access token for another API, issued to this client.
		{"other issuer's access token", other, jwt.MapClaims{"aud": "https://other-api", "client_id": "client123", "token_use": "access"}, false},
		{"other issuer, client_id only", other, jwt.MapClaims{"client_id": "client123", "token_use": "access"}, false},
	} {
		if got := c.v.audienceOK(c.claims); got != c.ok {
			t.Errorf("%s: %v, want %v", c.name, got, c.ok)
		}
	}
}

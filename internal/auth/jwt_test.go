package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// U-3: an unreachable issuer costs one fetch per interval, not one per request, even before
// any key was fetched; verifications with a known key never wait for a slow fetch.
func TestJWKSFetchesAreBoundedAndShared(t *testing.T) {
	var fetches atomic.Int32
	slow := make(chan struct{})
	down := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		<-slow
		key, _ := rsa.GenerateKey(rand.Reader, 1024)
		_ = json.NewEncoder(w).Encode(JWKSet{Keys: []JWK{RSAJWK("k1", &key.PublicKey)}})
	}))
	defer srv.Close()
	c := &JWKSCache{URL: srv.URL, MinInterval: time.Hour}
	for i := 0; i < 50; i++ {
		if _, err := c.Key(context.Background(), "k1"); err == nil {
			t.Fatal("a key from an issuer that is down")
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 50 verifications while the issuer is down, want 1", n)
	}
	// The issuer is back and slow: concurrent callers share one fetch.
	down, c.attempted = false, time.Time{}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = c.Key(context.Background(), "k1") }()
	}
	time.Sleep(100 * time.Millisecond)
	close(slow)
	wg.Wait()
	if n := fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (the concurrent callers share one)", n)
	}
	if _, err := c.Key(context.Background(), "k1"); err != nil {
		t.Fatalf("the fetched key: %v", err)
	}
}

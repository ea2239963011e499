package authorizer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"streamspace/internal/app"
	"streamspace/internal/auth"
	"streamspace/internal/authorizer"
	"streamspace/internal/ddb"
	"streamspace/internal/local/issuer"
	"streamspace/internal/testenv"
)

type fixture struct {
	authz  *app.App
	issuer *issuer.Issuer
	logs   *testenv.Logs
}

func setup(t *testing.T) fixture {
	t.Helper()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	is := issuer.New(key)
	jwks := httptest.NewServer(http.HandlerFunc(is.ServeJWKS))
	t.Cleanup(jwks.Close)
	tables := ddb.WithPrefix(testenv.Prefix(t))
	cfg := app.Config{Tables: tables, DynamoEndpoint: testenv.DynamoEndpoint(t), BootstrapAdmins: []string{"boss", "chief@example.test"},
		JWT: auth.JWTConfig{Issuer: issuer.IssuerName, Audience: issuer.Audience, JWKSURL: jwks.URL, Leeway: time.Minute, RoleClaim: issuer.RoleClaim}}
	logs := &testenv.Logs{}
	a := app.New(cfg, ddb.LocalConfig(), testenvLogger(logs))
	if err := ddb.EnsureAll(context.Background(), a.DB, tables); err != nil {
		t.Fatal(err)
	}
	return fixture{authz: a, issuer: is, logs: logs}
}

// authHTTP authenticates an HTTP request with these headers as a function does: a refusal is
// (zero, false); any other error fails the test.
func authHTTP(t *testing.T, a *authorizer.Authorizer, headers map[string]string) (auth.Caller, bool) {
	t.Helper()
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	c, err := a.AuthenticateHTTP(context.Background(), "GET /api/v1/users/me", h)
	if errors.Is(err, authorizer.ErrBadCredentials) {
		return auth.Caller{}, false
	}
	if err != nil {
		t.Fatalf("a fault, not a refusal: %v", err)
	}
	return c, true
}

func TestTokensAcceptedAndRefused(t *testing.T) {
	f := setup(t)
	a := f.authz.Authorizer()
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	mint := func(c issuer.Claims) string {
		tok, err := f.issuer.Mint(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, claims)
		tok.Header["kid"] = f.issuer.JWKS().Keys[0].Kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := jwt.MapClaims{"sub": "mallory", "iss": issuer.IssuerName, "aud": issuer.Audience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	cases := []struct {
		name    string
		headers map[string]string
		ok      bool
		role    string
	}{
		{"valid user", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "alice"})}, true, "user"},
		{"role claim", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "olga", Role: "operator"})}, true, "operator"},
		{"bootstrap admin by id", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "boss"})}, true, "admin"},
		{"bootstrap admin by email", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "c1", Email: "chief@example.test"})}, true, "admin"},
		{"bootstrap e-mail not verified", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "c2", Email: "chief@example.test", EmailUnverified: true})}, true, "user"},
		{"within clock skew", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "alice", IssuedAt: now.Add(-time.Hour - 30*time.Second), TTL: time.Hour})}, true, "user"},
		{"expired", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "alice", IssuedAt: now.Add(-3 * time.Hour), TTL: time.Hour})}, false, ""},
		{"not yet valid", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "alice", IssuedAt: now.Add(time.Hour)})}, false, ""},
		{"wrong issuer", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "alice", Issuer: "evil"})}, false, ""},
		{"wrong audience", map[string]string{"authorization": "Bearer " + mint(issuer.Claims{Subject: "alice", Audience: "other-app"})}, false, ""},
		{"foreign key", map[string]string{"authorization": "Bearer " + sign(jwt.SigningMethodRS256, otherKey, base)}, false, ""},
		{"EC key not in JWKS", map[string]string{"authorization": "Bearer " + sign(jwt.SigningMethodES256, ecKey, base)}, false, ""},
		{"HS256 with public key", map[string]string{"authorization": "Bearer " + sign(jwt.SigningMethodHS256, []byte("secret"), base)}, false, ""},
		{"alg none", map[string]string{"authorization": "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base)}, false, ""},
		{"no exp", map[string]string{"authorization": "Bearer " + sign(jwt.SigningMethodRS256, otherKey, jwt.MapClaims{"sub": "x", "iss": issuer.IssuerName, "aud": issuer.Audience})}, false, ""},
		{"garbage", map[string]string{"authorization": "Bearer abc.def.ghi"}, false, ""},
		{"basic auth", map[string]string{"authorization": "Basic YTpi"}, false, ""},
		{"nothing", map[string]string{}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, ok := authHTTP(t, a, c.headers)
			if ok != c.ok {
				t.Fatalf("authenticated = %v, want %v", ok, c.ok)
			}
			if ok && caller.Role != c.role {
				t.Fatalf("role %q, want %q", caller.Role, c.role)
			}
		})
	}
	// Secrets never reach the logs, whatever was refused.
	for _, c := range cases {
		if v := c.headers["authorization"]; len(v) > 20 && strings.Contains(f.logs.String(), strings.TrimPrefix(v, "Bearer ")) {
			t.Errorf("case %q: the token appears in the logs", c.name)
		}
	}
}

func TestUserRecordedOnFirstSight(t *testing.T) {
	f := setup(t)
	a := f.authz.Authorizer()
	tok, _ := f.issuer.Mint(issuer.Claims{Subject: "newbie", Name: "New Bie", Email: "nb@example.test"})
	if _, err := f.authz.Users().Get(context.Background(), "newbie"); err == nil {
		t.Fatal("user exists before first sight")
	}
	authHTTP(t, a, map[string]string{"authorization": "Bearer " + tok})
	u, err := f.authz.Users().Get(context.Background(), "newbie")
	if err != nil || u.Email != "nb@example.test" || u.Name != "New Bie" || u.Role != "user" {
		t.Fatalf("recorded user %+v, %v", u, err)
	}
}

func TestWebSocketAuthorizerPolicy(t *testing.T) {
	f := setup(t)
	a := f.authz.Authorizer()
	tok, _ := f.issuer.Mint(issuer.Claims{Subject: "alice"})
	ev := events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: "arn:aws:execute-api:us-east-1:1:api/prod/$connect",
		QueryStringParameters: map[string]string{"token": tok}}
	raw, _ := json.Marshal(ev)
	out, err := a.Handle(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.APIGatewayCustomAuthorizerResponse)
	if resp.PrincipalID != "alice" || resp.PolicyDocument.Statement[0].Effect != "Allow" || resp.PolicyDocument.Statement[0].Resource[0] != ev.MethodArn {
		t.Fatalf("policy %+v", resp)
	}
	ev.QueryStringParameters["token"] = "bad"
	raw, _ = json.Marshal(ev)
	if _, err := a.Handle(context.Background(), raw); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("bad token: err %v, want Unauthorized", err)
	}
	// The refusal is a Lambda error; the stack's AuthorizerRefusalsMetricFilter counts this log
	// line so that AuthorizerFunctionErrorsAlarm does not (deploy finding 10).
	if logs := f.logs.String(); !strings.Contains(logs, `"msg":"credentials refused"`) || !strings.Contains(logs, `"route":"$connect"`) {
		t.Errorf("the refusal was not logged as msg \"credentials refused\", route \"$connect\":\n%s", logs)
	}
}

// A role that came from a claim is not stored: when the identity provider stops saying
// "admin", the user is a user again on the next request.
func TestClaimRoleIsNotSticky(t *testing.T) {
	f := setup(t)
	a := f.authz.Authorizer()
	for _, c := range []struct{ role, want string }{{"admin", "admin"}, {"", "user"}} {
		tok, _ := f.issuer.Mint(issuer.Claims{Subject: "flip", Role: c.role})
		caller, ok := authHTTP(t, a, map[string]string{"authorization": "Bearer " + tok})
		if !ok || caller.Role != c.want {
			t.Fatalf("claim %q: role %q, want %q", c.role, caller.Role, c.want)
		}
	}
}

// Without an issuer or audience to check, the authorizer accepts nothing and says it is a fault.
func TestMisconfiguredVerifierIsAFaultNotAnAcceptance(t *testing.T) {
	f := setup(t)
	f.authz.Cfg.JWT.Audience = ""
	a := f.authz.Authorizer()
	tok, _ := f.issuer.Mint(issuer.Claims{Subject: "alice"})
	h := http.Header{"Authorization": {"Bearer " + tok}}
	if _, err := a.AuthenticateHTTP(context.Background(), "GET /api/v1/users/me", h); err == nil || errors.Is(err, authorizer.ErrBadCredentials) {
		t.Fatalf("a verifier without audience answered %v instead of failing", err)
	}
}

// A request may carry a token and an X-API-Key; the token is the credential, whatever order
// the headers arrive in (it used to depend on map iteration).
func TestBearerWinsOverAPIKeyHeader(t *testing.T) {
	for i := 0; i < 20; i++ {
		got := authorizer.Credential(map[string]string{"x-api-key": "sk_key", "Authorization": "Bearer tok", "accept": "*/*"})
		if got != "tok" {
			t.Fatalf("credential %q, want the bearer token", got)
		}
	}
	if got := authorizer.Credential(map[string]string{"X-Api-Key": " sk_key ", "authorization": "Basic YTpi"}); got != "sk_key" {
		t.Fatalf("credential %q, want the API key", got)
	}
}

// The HTTP API has no authorizer: a request without credentials is refused by the function,
// logged as a refusal, and nothing is read or written (SEC-09).
func TestNoCredentialsIsARefusalWithoutStorage(t *testing.T) {
	f := setup(t)
	a := f.authz.Authorizer()
	a.Users = nil // any storage call would panic
	a.Keys = nil
	if _, ok := authHTTP(t, a, map[string]string{}); ok {
		t.Fatal("no credentials authenticated")
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"msg":"credentials refused"`) || !strings.Contains(logs, `"route":"GET /api/v1/users/me"`) {
		t.Errorf("the refusal was not logged with its route:\n%s", logs)
	}
}

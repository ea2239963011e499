// Package authorizer turns credentials into the Caller every function reads: in each HTTP
// function, before its router runs a route (AuthenticateHTTP), and as the Lambda REQUEST
// authorizer of the WebSocket API's $connect route.
//
// The HTTP API has no Lambda authorizer (security review SEC-09, cost review): API Gateway's
// identity sources must *all* be present for it to skip an authorizer, and credentials come as
// either Authorization or X-API-Key, so an authorizer ran for every request without credentials
// too, and doubled the Lambda invocations of every request. Authenticating in the function costs
// nothing extra, answers 401 as application/problem+json (an HTTP API authorizer that denies
// makes API Gateway answer a bare 403) and reads the credential on every request, so revoking
// one takes effect on the next. On WebSocket $connect, missing or bad credentials fail the
// handshake with 401.
package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"streamspace/internal/apikeys"
	"streamspace/internal/auth"
	"streamspace/internal/users"
)

// Authorizer authenticates callers.
type Authorizer struct {
	JWT   *auth.JWTVerifier
	Users *users.Store
	Keys  *apikeys.Service
	// BootstrapAdmins are user ids (JWT sub) or e-mail addresses that are always admins.
	BootstrapAdmins []string
	Log             *slog.Logger
}

// ErrUnauthorized is what API Gateway turns into a 401 on WebSocket $connect.
var ErrUnauthorized = errors.New("Unauthorized")

// ErrBadCredentials wraps every refusal of a credential; any other error from Authenticate is a
// server fault (the caller gets a 500, never a misleading 401).
var ErrBadCredentials = errors.New("bad credentials")

func refused(reason error) error { return fmt.Errorf("%w: %v", ErrBadCredentials, reason) }

// Credential extracts the presented credential: Authorization: Bearer or X-API-Key. Only the
// WebSocket handshake also reads ?token= (WebSocketCredential): browsers cannot set headers
// there, and anywhere else a token in a URL ends up in histories, proxies and logs (SEC-17).
// A bearer credential wins over X-API-Key when a request carries both.
func Credential(headers map[string]string) string {
	var bearer, key string
	for k, v := range headers {
		switch strings.ToLower(k) {
		case "authorization":
			if t, ok := strings.CutPrefix(v, "Bearer "); ok {
				bearer = strings.TrimSpace(t)
			}
		case "x-api-key":
			key = strings.TrimSpace(v)
		}
	}
	if bearer != "" {
		return bearer
	}
	return key
}

// AuthenticateHTTP authenticates an HTTP API request in the function serving route. A refusal
// is logged with its reason (never the credential) and wraps ErrBadCredentials.
func (a *Authorizer) AuthenticateHTTP(ctx context.Context, route string, h http.Header) (auth.Caller, error) {
	c, err := a.Authenticate(ctx, Credential(map[string]string{"authorization": h.Get("Authorization"), "x-api-key": h.Get("X-API-Key")}))
	if errors.Is(err, ErrBadCredentials) {
		a.logDenied(ctx, route, err)
	}
	return c, err
}

// WebSocketCredential is Credential, or ?token= for browsers.
func WebSocketCredential(headers, query map[string]string) string {
	if c := Credential(headers); c != "" {
		return c
	}
	return query["token"]
}

// Authenticate verifies a credential and returns the caller, recording the user on first sight.
func (a *Authorizer) Authenticate(ctx context.Context, credential string) (auth.Caller, error) {
	if credential == "" {
		return auth.Caller{}, refused(errors.New("no credentials"))
	}
	if strings.HasPrefix(credential, apikeys.SecretPrefix) {
		return a.authenticateKey(ctx, credential)
	}
	id, err := a.JWT.Verify(ctx, credential)
	if errors.Is(err, auth.ErrMisconfigured) {
		return auth.Caller{}, err
	}
	if err != nil {
		return auth.Caller{}, refused(err)
	}
	// The stored role is only what an admin granted; claims and bootstrap entries are applied
	// per request, so removing someone from an identity-provider group takes effect at once.
	u, err := a.Users.Ensure(ctx, users.User{ID: id.Subject, Email: id.Email, Name: id.Name, Role: auth.RoleUser})
	if err != nil {
		return auth.Caller{}, err
	}
	email := ""
	if id.EmailVerified {
		email = id.Email
	}
	external := auth.HighestRole(id.Role, a.bootstrapRole(id.Subject, email))
	role := auth.HighestRole(auth.RoleUser, u.Role, external)
	return auth.Caller{UserID: id.Subject, Email: id.Email, Name: id.Name, Role: role, ExternalRole: external,
		RoleGranted: u.RoleGrantedAt != nil}, nil
}

// authenticateKey resolves an API key: it acts as its owner (the owner's stored or bootstrap
// role; identity-provider claims are not known here), narrowed by its scopes.
func (a *Authorizer) authenticateKey(ctx context.Context, secret string) (auth.Caller, error) {
	k, ok, err := a.Keys.Authenticate(ctx, secret)
	if err != nil {
		return auth.Caller{}, err
	}
	if !ok {
		return auth.Caller{}, refused(errors.New("unknown, revoked or expired API key"))
	}
	u, err := a.Users.Get(ctx, k.OwnerID)
	if errors.Is(err, users.ErrNotFound) {
		return auth.Caller{}, refused(errors.New("the key's owner no longer exists"))
	} else if err != nil {
		return auth.Caller{}, err
	}
	external := a.bootstrapRole(u.ID, "")
	return auth.Caller{UserID: u.ID, Email: u.Email, Name: u.Name, Role: auth.HighestRole(auth.RoleUser, u.Role, external),
		ExternalRole: external, KeyID: k.ID, Scopes: k.Scopes, RateLimit: k.RateLimit, RoleGranted: u.RoleGrantedAt != nil}, nil
}

func (a *Authorizer) bootstrapRole(sub, email string) string {
	if slices.Contains(a.BootstrapAdmins, sub) || (email != "" && slices.Contains(a.BootstrapAdmins, email)) {
		return auth.RoleAdmin
	}
	return ""
}

// Handle is the authorizer function's Lambda handler: the WebSocket API's $connect REQUEST
// event (which carries a methodArn). Anything else is refused.
func (a *Authorizer) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev events.APIGatewayCustomAuthorizerRequestTypeRequest
	if err := json.Unmarshal(raw, &ev); err != nil || ev.MethodArn == "" {
		return nil, ErrUnauthorized
	}
	return a.HandleWebSocket(ctx, ev)
}

// HandleWebSocket answers the WebSocket $connect authorizer request.
func (a *Authorizer) HandleWebSocket(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	c, err := a.Authenticate(ctx, WebSocketCredential(ev.Headers, ev.QueryStringParameters))
	if err != nil && !errors.Is(err, ErrBadCredentials) {
		a.Log.ErrorContext(ctx, "authorizer fault", slog.String("route", "$connect"), slog.String("error", err.Error()))
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("internal error")
	}
	if err != nil {
		a.logDenied(ctx, "$connect", err)
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: c.UserID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow",
				Resource: []string{ev.MethodArn}}}},
		Context: c.AuthorizerContext(),
	}, nil
}

// logDenied records why a credential was refused, never the credential itself.
func (a *Authorizer) logDenied(ctx context.Context, route string, err error) {
	if a.Log != nil {
		a.Log.InfoContext(ctx, "credentials refused", slog.String("route", route), slog.String("reason", err.Error()))
	}
}

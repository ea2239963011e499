// Package presignup is the Cognito PreSignUp trigger of the stack's user pool when self sign-up
// is on (SEC-05): a user may register only with an e-mail address in one of the allowed domains.
// Users an administrator creates are never refused.
package presignup

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// RefusedMessage is the log message of a refused sign-up (the stack's metric filter counts
// these lines so that the function's errors alarm ignores them).
const RefusedMessage = "sign-up refused: e-mail domain not allowed"

// ErrDomainNotAllowed is what Cognito shows the person signing up (as "PreSignUp failed with
// error …").
var ErrDomainNotAllowed = errors.New("sign-up is not open to this e-mail domain")

// Handler checks sign-ups against an allow-list of e-mail domains.
type Handler struct {
	Domains []string // lower case, without "@"
	Log     *slog.Logger
}

// ParseDomains reads the allow-list as the template passes it: comma- or space-separated
// domains, each optionally with a leading "@"; case is ignored.
func ParseDomains(s string) []string {
	var out []string
	for _, d := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Allowed reports whether an e-mail address is in one of the domains (exactly: a subdomain is
// another domain).
func (h *Handler) Allowed(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return false
	}
	domain := strings.ToLower(email[at+1:])
	for _, d := range h.Domains {
		if domain == d {
			return true
		}
	}
	return false
}

// Handle is the Lambda handler. It never confirms or verifies anyone itself: Cognito still
// verifies the e-mail address.
func (h *Handler) Handle(ctx context.Context, ev events.CognitoEventUserPoolsPreSignup) (events.CognitoEventUserPoolsPreSignup, error) {
	if ev.TriggerSource == "PreSignUp_AdminCreateUser" {
		return ev, nil
	}
	if !h.Allowed(ev.Request.UserAttributes["email"]) {
		h.log().InfoContext(ctx, RefusedMessage, slog.String("triggerSource", ev.TriggerSource))
		return ev, ErrDomainNotAllowed
	}
	return ev, nil
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

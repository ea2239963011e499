package presignup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestParseDomains(t *testing.T) {
	if got := ParseDomains(" Example.COM, @corp.example.org  lab.example.net,,"); !slices.Equal(got, []string{"example.com", "corp.example.org", "lab.example.net"}) {
		t.Errorf("ParseDomains = %v", got)
	}
	if got := ParseDomains(""); got != nil {
		t.Errorf("empty list = %v, want none", got)
	}
}

func TestHandle(t *testing.T) {
	var logs bytes.Buffer
	h := &Handler{Domains: ParseDomains("example.com"), Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ev := func(source, email string) events.CognitoEventUserPoolsPreSignup {
		var e events.CognitoEventUserPoolsPreSignup
		e.TriggerSource = source
		e.Request.UserAttributes = map[string]string{"email": email}
		return e
	}
	for _, c := range []struct {
		source, email string
		ok            bool
	}{
		{"PreSignUp_SignUp", "ann@example.com", true},
		{"PreSignUp_SignUp", "Ann@EXAMPLE.com", true},
		{"PreSignUp_SignUp", "bob@evil.example", false},
		{"PreSignUp_SignUp", "bob@sub.example.com", false}, // a subdomain is another domain
		{"PreSignUp_SignUp", "bob@example.com.evil.example", false},
		{"PreSignUp_SignUp", "no-at-sign", false},
		{"PreSignUp_SignUp", "", false},
		{"PreSignUp_ExternalProvider", "eve@evil.example", false},
		{"PreSignUp_AdminCreateUser", "partner@elsewhere.example", true}, // admins may create anyone
	} {
		out, err := h.Handle(context.Background(), ev(c.source, c.email))
		if c.ok && err != nil {
			t.Errorf("%s %q: refused: %v", c.source, c.email, err)
		}
		if !c.ok && !errors.Is(err, ErrDomainNotAllowed) {
			t.Errorf("%s %q: err %v, want ErrDomainNotAllowed", c.source, c.email, err)
		}
		if out.Response.AutoConfirmUser || out.Response.AutoVerifyEmail {
			t.Errorf("%s %q: the trigger must not confirm or verify anyone", c.source, c.email)
		}
	}
	if !strings.Contains(logs.String(), `"msg":"`+RefusedMessage+`"`) {
		t.Errorf("refusals are not logged as %q:\n%s", RefusedMessage, logs.String())
	}
}

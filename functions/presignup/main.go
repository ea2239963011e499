// Command presignup is the user pool's PreSignUp trigger when self sign-up is on: it refuses
// e-mail addresses outside SELF_SIGN_UP_EMAIL_DOMAINS (SEC-05).
package main

import (
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"streamspace/internal/presignup"
)

func main() {
	h := &presignup.Handler{Domains: presignup.ParseDomains(os.Getenv("SELF_SIGN_UP_EMAIL_DOMAINS")),
		Log: slog.New(slog.NewJSONHandler(os.Stdout, nil))}
	if len(h.Domains) == 0 {
		log.Fatal("SELF_SIGN_UP_EMAIL_DOMAINS is empty: self sign-up needs an allow-list of e-mail domains")
	}
	lambda.Start(h.Handle)
}

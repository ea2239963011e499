package app

import (
	"context"
	"log"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"streamspace/internal/httpx"
)

// StartHTTP is the whole life of an HTTP function: configuration from the environment, clients,
// the function's handler (built by build, e.g. (*App).SessionsHandler), then the Lambda loop.
func StartHTTP(build func(*App) (http.Handler, error)) {
	a, err := FromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	h, err := build(a)
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httpx.LambdaHandler(h))
}

// Start is the whole life of a non-HTTP function: configuration, clients, then the Lambda loop
// with the handler handler picks (e.g. func(a *App) any { return a.Notifier().Handle }).
func Start(handler func(*App) any) {
	a, err := FromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(handler(a))
}

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

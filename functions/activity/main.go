// Command activity is the activity HTTP API function: configuration, clients, handler, lambda.Start.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"streamspace/internal/app"
	"streamspace/internal/httpx"
)

func main() {
	a, err := app.FromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	h, err := a.ActivityHandler()
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(httpx.LambdaHandler(h))
}

// Command authorizer is the REQUEST authorizer of the HTTP API and the WebSocket $connect route.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"streamspace/internal/app"
)

func main() {
	a, err := app.FromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(a.Authorizer().Handle)
}

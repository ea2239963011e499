// Command websocket serves the WebSocket API's $connect, $disconnect and $default routes.
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
	lambda.Start(a.WebSocket().Handle)
}

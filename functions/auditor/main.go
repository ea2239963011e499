// Command auditor consumes the main table's stream and writes the activity log.
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
	lambda.Start(a.Auditor().Handle)
}

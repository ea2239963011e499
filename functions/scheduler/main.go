// Command scheduler runs every minute: it marks idle sessions (and asks them to hibernate) and
// terminates sessions past their maximum duration.
package main

import (
	"context"
	"log"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"streamspace/internal/app"
)

func main() {
	a, err := app.FromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	s := a.Scheduler()
	lambda.Start(func(ctx context.Context, ev events.EventBridgeEvent) error {
		now := ev.Time
		if now.IsZero() {
			now = time.Now()
		}
		_, err := s.Run(ctx, now)
		return err
	})
}

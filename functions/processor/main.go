// Command processor is the main table stream's second reader (after the notifier): it runs the
// auditor (activity log) and the runtime reconciler (ECS Fargate tasks) as independent steps.
package main

import (
	"log"

	"streamspace/internal/app"
	"streamspace/internal/app/awsruntime"
)

func main() {
	app.Start(func(a *app.App) any {
		d, err := awsruntime.Driver(a)
		if err != nil {
			log.Fatal(err)
		}
		return a.Processor(d).Handle
	})
}

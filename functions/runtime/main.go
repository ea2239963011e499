// Command runtime consumes the main table's stream (session items only) and drives each session
// towards its desired state with ECS Fargate tasks.
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
		return a.Reconciler(d).Handle
	})
}

// Command taskevents records the session cluster's ECS task state changes (EventBridge) as
// observed session states: running with its URL, hibernated, or failed with a reason.
package main

import (
	"log"

	"streamspace/internal/app"
	"streamspace/internal/app/awsruntime"
)

func main() {
	app.Start(func(a *app.App) any {
		h, err := awsruntime.TaskEvents(a)
		if err != nil {
			log.Fatal(err)
		}
		return h.Handle
	})
}

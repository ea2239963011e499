// Command auditor consumes the main table's stream and writes the activity log.
package main

import "streamspace/internal/app"

func main() { app.Start(func(a *app.App) any { return a.Auditor().Handle }) }

// Command notifier consumes the main table's stream and pushes events to WebSocket clients.
package main

import "streamspace/internal/app"

func main() { app.Start(func(a *app.App) any { return a.Notifier().Handle }) }

// Command authorizer is the REQUEST authorizer of the HTTP API and the WebSocket $connect route.
package main

import "streamspace/internal/app"

func main() { app.Start(func(a *app.App) any { return a.Authorizer().Handle }) }

// Command websocket serves the WebSocket API's $connect, $disconnect and $default routes.
package main

import "streamspace/internal/app"

func main() { app.Start(func(a *app.App) any { return a.WebSocket().Handle }) }

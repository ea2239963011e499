// Command meta is the meta HTTP API function: configuration, clients, handler, lambda.Start.
package main

import "streamspace/internal/app"

func main() { app.StartHTTP((*app.App).MetaHandler) }

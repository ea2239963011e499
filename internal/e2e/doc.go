// Package e2e holds end-to-end tests and benchmarks: real HTTP and WebSocket clients against a
// whole local stack (gateway emulators, functions in process, DynamoDB Local and its stream).
package e2e

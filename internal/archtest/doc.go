// Package archtest holds the tests that keep the code's architecture as docs/architecture.md
// describes it: packages in layers with every import pointing down, and every function wired in
// every place a function needs. It has no code of its own.
package archtest

// Package tier splits the tests in two tiers with the standard -short flag: the unit tier
// (`go test -short ./...`, make test-unit) runs only what needs nothing but the test process,
// and every test that needs a part outside it — DynamoDB Local (Java), a session's processes
// (Xvfb, x11vnc, a browser), the moto emulator, cfn-lint, `go run` — calls Integration first.
//
// Why -short and not a build tag: plain `go test` (what make test and the commands in the
// notes run, with -run to pick a test) keeps running everything, and nothing is compiled
// differently between the tiers, so a test cannot silently drop out of both. The package is a
// leaf (it imports only testing) so the in-package tests of internal/desktop and
// internal/runtime/local, which testenv itself depends on, can use it too.
package tier

import "testing"

// Integration skips t under -short, naming what it needs; otherwise it does nothing.
func Integration(t testing.TB, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration test (needs %s): not in the unit tier (-short); make test runs it", needs)
	}
}

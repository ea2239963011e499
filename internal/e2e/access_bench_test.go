package e2e

import (
	"fmt"
	"testing"
	"time"

	"streamspace/internal/testenv"
)

// BenchmarkAccessEnded measures the gateway's promise that a stream whose access ends closes
// within 5 s: over N revocations (BENCH_REVOKES, default 10) of bob's control share on a real
// running desktop, the time from the API's 204 to bob's viewer being closed with 4403. The
// ordinary tests only log this figure (testenv.Target); here it runs alone.
func BenchmarkAccessEnded(b *testing.B) {
	n := benchN("BENCH_REVOKES", 10)
	e := testenv.Start(b, withLocalRuntime)
	alice, bob := e.Token("alice", ""), e.Token("bob", "")
	seen(b, e, bob)
	s := runningTerminal(b, e, alice, nil)
	p := "/api/v1/sessions/" + s.ID
	took := make([]time.Duration, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		var sh struct{ ID string }
		e.Do("POST", p+"/share", alice, map[string]string{"sharedWithUserId": "bob", "permissionLevel": "control"}).Want(b, 201).Decode(b, &sh)
		v := openViewer(b, e, bob, s.ID)
		e.Do("DELETE", p+"/shares/"+sh.ID, alice, nil).Want(b, 204)
		code, reason, d := v.closedWithin(20 * time.Second)
		if code != 4403 {
			b.Fatalf("revocation %d: closed with %d %q after %s, want 4403", i, code, reason, d)
		}
		took = append(took, d)
	}
	b.StopTimer()
	const target = 5 * time.Second
	verdict := "within"
	if percentile(took, 1) > target {
		verdict = "OVER"
	}
	fmt.Printf("access ended → stream closed over %d revocations (gateway re-check every 2 s): p50 %s  max %s   (%s the target of %s)\n",
		n, ms(percentile(took, .5)), ms(percentile(took, 1)), verdict, ms(target))
}

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"streamspace/internal/testenv"
)

// BenchmarkSustainedLoad drives the local stack at a fixed rate (LOAD_RPS, default 200 req/s)
// for LOAD_SECONDS (default 60) with a mix of reads and writes from several users, and prints
// status counts, latency percentiles and memory before/after. It fails on any 5xx or transport
// error: the target is zero, whatever the timings.
func BenchmarkSustainedLoad(b *testing.B) {
	rps, secs := envInt("LOAD_RPS", 200), envInt("LOAD_SECONDS", 60)
	e := testenv.Start(b)
	// 20 users with 5 sessions each (the default quota): writes spread as a UI's would, rather
	// than hammering one item per user (which only measures optimistic-lock contention).
	const users, perUser = 20, 5
	tokens := make([]string, users)
	sessionsOf := make([][]string, users)
	for i := range tokens {
		tokens[i] = e.Token(fmt.Sprintf("load%02d", i), "")
		for range perUser {
			sessionsOf[i] = append(sessionsOf[i], create(b, e, tokens[i], map[string]any{"templateName": "terminal"}).ID)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	// Each request is one of these, in turn: the list and get reads dominate, as in a UI.
	type call struct {
		method, path, body string
		user               int
	}
	mix := func(i int) []call {
		// A fixed pseudo-random pick per request: repeatable, and every user does every kind.
		r := rand.New(rand.NewPCG(uint64(i), 42))
		u := r.IntN(users)
		id := sessionsOf[u][r.IntN(perUser)]
		switch r.IntN(10) {
		case 0, 1, 2:
			return []call{{"GET", "/api/v1/sessions", "", u}}
		case 3, 4, 5:
			return []call{{"GET", "/api/v1/sessions/" + id, "", u}}
		case 6:
			return []call{{"GET", "/api/v1/templates", "", u}}
		case 7:
			return []call{{"PUT", "/api/v1/sessions/" + id + "/tags", fmt.Sprintf(`{"tags":["t%d"]}`, i), u}}
		case 8:
			return []call{{"POST", "/api/v1/sessions/" + id + "/heartbeat", "", u}}
		default:
			return []call{{"GET", "/api/v1/users/me", "", u}}
		}
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		lat      []time.Duration
		errs     []string
		late     atomic.Int64
	)
	do := func(i int) {
		for _, c := range mix(i) {
			req, _ := http.NewRequest(c.method, e.HTTPURL+c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", "Bearer "+tokens[c.user])
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			start := time.Now()
			resp, err := client.Do(req)
			took := time.Since(start)
			mu.Lock()
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				statuses[resp.StatusCode]++
				lat = append(lat, took)
				if resp.StatusCode >= 500 && len(errs) < 20 {
					body, _ := io.ReadAll(resp.Body)
					errs = append(errs, fmt.Sprintf("%s %s → %d %s", c.method, c.path, resp.StatusCode, body))
				}
			}
			mu.Unlock()
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	before := memory(e.DynamoDB)
	work := make(chan int, 4096)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				do(i)
			}
		}()
	}
	b.ResetTimer()
	// Paced by the clock, not a ticker (which drops ticks when this goroutine runs late): every
	// request of the schedule is sent, late ones at once.
	interval := time.Second / time.Duration(rps)
	t0 := time.Now()
	for sent := 0; sent < rps*secs; sent++ {
		time.Sleep(time.Until(t0.Add(time.Duration(sent) * interval)))
		select {
		case work <- sent:
		default:
			late.Add(1) // every worker busy and the queue full: the stack is not keeping up
		}
	}
	elapsed := time.Since(t0)
	close(work)
	wg.Wait()
	b.StopTimer()
	runtime.GC()
	after := memory(e.DynamoDB)
	fmt.Printf("sustained load: %d req/s for %d s → %d requests answered (sending took %s), statuses %v, transport errors %d, not sent (queue full) %d\n",
		rps, secs, len(lat), elapsed.Round(time.Millisecond), statuses, len(errs), late.Load())
	fmt.Printf("  latency p50 %s  p90 %s  p99 %s  max %s\n", ms(percentile(lat, .5)), ms(percentile(lat, .9)), ms(percentile(lat, .99)), ms(percentile(lat, 1)))
	fmt.Printf("  memory: stack heap %d → %d MiB, stack RSS %d → %d MiB, DynamoDB Local RSS %d → %d MiB\n",
		before.heap, after.heap, before.rss, after.rss, before.ddbRSS, after.ddbRSS)
	fives := 0
	for st, n := range statuses {
		if st >= 500 {
			fives += n
		}
	}
	if fives > 0 || len(errs) > 0 {
		b.Fatalf("%d 5xx and %d transport errors under load, e.g. %v", fives, len(errs), errs[:min(5, len(errs))])
	}
}

type memFigures struct{ heap, rss, ddbRSS int }

// memory reads this process's heap and RSS, and DynamoDB Local's RSS when it is a local process.
func memory(ddbEndpoint string) memFigures {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memFigures{heap: int(ms.HeapAlloc >> 20), rss: rssOf(os.Getpid()), ddbRSS: rssOf(listenerPID(ddbEndpoint))}
}

func rssOf(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb >> 10
		}
	}
	return 0
}

// listenerPID finds the java process serving DynamoDB Local on the endpoint's port (0 if unknown).
func listenerPID(endpoint string) int {
	port := endpoint[strings.LastIndexByte(endpoint, ':')+1:]
	cmds, _ := os.ReadDir("/proc")
	for _, d := range cmds {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		args := bytes.Split(cmdline, []byte{0})
		for i, a := range args {
			if string(a) == "-port" && i+1 < len(args) && string(args[i+1]) == port {
				return pid
			}
		}
	}
	return 0
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

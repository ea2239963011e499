package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"streamspace/internal/local/stack"
	"streamspace/internal/rfb"
	rt "streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
	"streamspace/internal/tickets"
)

// BenchmarkGatewayVsWebsockify measures the streaming gateway side by side with websockify
// (the local proxy before the gateway, the baseline) in one run, against the same
// upstream: a fake desktop in this process (fakeDesktop: RFB 3.8 with VNC authentication) that
// echoes, streams or swallows bytes on request. docs/gateway-bench.md explains the method.
//
// Three proxies are measured:
//   - websockify, started here as `websockify 127.0.0.1:PORT 127.0.0.1:DESKTOP` (its default
//     mode: one forked process per connection); the client does the RFB handshake itself,
//     with the desktop's password, straight to the fake desktop.
//   - the gateway inside the local stack (Stack.GatewayAddr), as `make run` runs it.
//   - the gateway as a process of its own (this test binary re-executed as a gateway on the
//     stack's tables and ticket keys: TestMain, gatewayProcess), as it runs in AWS.
//
// Gateway streams are real: sessions created through the API, marked running with their
// upstream at the fake desktop, tickets from POST /sessions/{id}/connect, WebSockets with the
// ticket in Sec-WebSocket-Protocol, and the gateway does VNC authentication for the viewer.
//
// Figures:
//   - latency: sequential 64-byte round trips (a ClientCutText with 56 bytes of text, echoed by
//     the desktop as 64 bytes of server→client data), p50/p99 over BENCH_GW_ROUNDTRIPS;
//   - throughput: desktop→viewer over BENCH_GW_MB (the desktop writes as fast as it can), and
//     viewer→desktop over BENCH_GW_UP_MB in 64 KiB clipboard messages (each parsed by the
//     gateway), MB/s (10^6 bytes) as the median of the rounds;
//   - idle viewers: BENCH_GW_IDLE streams (RFB handshake done, then silent) held by a fresh
//     gateway process, and BENCH_GW_IDLE_WEBSOCKIFY held by websockify; memory is the
//     proportional set size (PSS, so pages shared by websockify's forked children count once)
//     of the proxy's whole process tree, after minus before, divided by the streams: that is
//     the memory each idle viewer costs, and 256 MB (10^6 bytes) divided by it is the viewers
//     per 256 MB.
//     The gateway process's figure is read as it is (no forced collection: garbage the Go
//     runtime has not yet returned counts), and again after a forced collection for reference.
//
// The work is split into BENCH_GW_ROUNDS rounds, each running every proxy in turn (in a
// rotating order), so a busy moment on a shared machine falls on all of them. Nothing here
// fails on a timing: the figures are printed and reported; only a broken stream fails.
func BenchmarkGatewayVsWebsockify(b *testing.B) {
	wsk, err := exec.LookPath("websockify")
	if err != nil {
		b.Skip("websockify is not installed (make runtime-packages): nothing to compare the gateway with")
	}
	cfg := gatewayBenchConfig{
		roundTrips: envInt("BENCH_GW_ROUNDTRIPS", 5000), downMB: envInt("BENCH_GW_MB", 512), upMB: envInt("BENCH_GW_UP_MB", 128),
		idle: envInt("BENCH_GW_IDLE", 2000), idleWebsockify: envInt("BENCH_GW_IDLE_WEBSOCKIFY", 250), rounds: envInt("BENCH_GW_ROUNDS", 5),
	}
	load0 := loadAvg()
	const secret = "benchpw1"
	desk := startFakeDesktop(b, secret)
	dir := b.TempDir()
	prefix := testenv.Prefix(b)
	// A data folder so the ticket keys are in a file the gateway process can read too.
	e := testenv.Start(b, func(c *stack.Config) { c.DataDir, c.TablePrefix = dir, prefix })
	keys := filepath.Join(dir, "ticket-keys.json")
	admin, owner := e.Token("root", "admin"), e.Token("bencher", "")
	sessionID := benchSession(b, e, owner, admin, "tcp:"+desk.Addr(), secret)

	wsProc := startWebsockify(b, wsk, desk.Addr(), dir)
	gwProc := startGatewayProcess(b, e, prefix, keys)
	gatewayDial := func(addr string) func() (net.Conn, error) {
		return func() (net.Conn, error) {
			ticket, err := e.Ticket(owner, sessionID)
			if err != nil {
				return nil, err
			}
			return openRFB("ws://"+addr+"/gateway/ws/"+sessionID, []string{"binary", tickets.Protocol + ticket}, "")
		}
	}
	proxies := []*benchProxy{
		{name: "websockify", dial: func() (net.Conn, error) { return openRFB("ws://"+wsProc.addr+"/", []string{"binary"}, secret) }},
		{name: "gateway (stack)", dial: gatewayDial(e.GatewayAddr)},
		{name: "gateway (process)", dial: gatewayDial(gwProc.addr), mem: gwProc.mem},
	}
	for _, p := range proxies {
		if p.conn, err = p.dial(); err != nil {
			b.Fatalf("%s: open a stream: %v", p.name, err)
		}
		defer p.conn.Close()
		// Warm up: the first round trips and megabytes pay for code paths, buffers and caches.
		if _, err := echoRoundTrips(p.conn, 200); err != nil {
			b.Fatalf("%s: warm-up: %v", p.name, err)
		}
		if _, err := downstream(p.conn, 8<<20); err != nil {
			b.Fatalf("%s: warm-up: %v", p.name, err)
		}
	}

	profiles := os.Getenv("BENCH_GW_PROFILE_DIR")
	if profiles != "" {
		gwProc.post("/bench/cpu/start", filepath.Join(profiles, "gateway-cpu.pprof"))
	}
	b.ResetTimer()
	for r := 0; r < cfg.rounds; r++ {
		for i := range proxies {
			p := proxies[(i+r)%len(proxies)]
			var m0 *goMem
			if p.mem != nil {
				m0 = p.mem(false)
			}
			lat, err := echoRoundTrips(p.conn, cfg.roundTrips/cfg.rounds)
			if err != nil {
				b.Fatalf("%s: round trips: %v", p.name, err)
			}
			p.lat = append(p.lat, lat...)
			if m0 != nil {
				if m := p.mem(false); m != nil {
					p.allocs += m.Mallocs - m0.Mallocs
					p.gcs += m.NumGC - m0.NumGC
				}
			}
		}
		for i := range proxies {
			p := proxies[(i+r)%len(proxies)]
			mbps, err := downstream(p.conn, int64(cfg.downMB)<<20/int64(cfg.rounds))
			if err != nil {
				b.Fatalf("%s: desktop → viewer: %v", p.name, err)
			}
			p.down = append(p.down, mbps)
		}
		for i := range proxies {
			p := proxies[(i+r)%len(proxies)]
			mbps, err := upstream(p.conn, int64(cfg.upMB)<<20/int64(cfg.rounds))
			if err != nil {
				b.Fatalf("%s: viewer → desktop: %v", p.name, err)
			}
			p.up = append(p.up, mbps)
		}
	}
	if profiles != "" {
		gwProc.post("/bench/cpu/stop", "")
	}
	for _, p := range proxies {
		p.conn.Close()
	}
	gwProc.stop()

	// Idle viewers: websockify's, then a fresh gateway process's (so nothing the throughput runs
	// left behind in its heap hides what the idle streams cost).
	wIdle := measureIdle(b, "websockify", desk, wsProc.cmd.Process.Pid, cfg.idleWebsockify, 16, nil,
		func(int) (net.Conn, error) { return openRFB("ws://"+wsProc.addr+"/", []string{"binary"}, secret) })
	gwIdleProc := startGatewayProcess(b, e, prefix, keys)
	// Viewers spread over up to 16 sessions (a session's viewers share its re-checks, as they
	// would) of several users (5 sessions each, the default quota), one worker per session.
	nSessions := min(16, max(1, (cfg.idle+124)/125))
	idleSessions := make([]string, nSessions)
	idleOwners := make([]string, nSessions)
	for i := range idleSessions {
		idleOwners[i] = e.Token(fmt.Sprintf("idle%03d", i/5), "")
		idleSessions[i] = benchSession(b, e, idleOwners[i], admin, "tcp:"+desk.Addr(), secret)
	}
	gIdle := measureIdle(b, "gateway (process)", desk, gwIdleProc.cmd.Process.Pid, cfg.idle, nSessions, gwIdleProc,
		func(i int) (net.Conn, error) {
			s := max(i-1, 0) % nSessions
			ticket, err := e.Ticket(idleOwners[s], idleSessions[s])
			if err != nil {
				return nil, err
			}
			return openRFB("ws://"+gwIdleProc.addr+"/gateway/ws/"+idleSessions[s], []string{"binary", tickets.Protocol + ticket}, "")
		})
	gwIdleProc.stop()
	b.StopTimer()

	// The table.
	fmt.Printf("\nstreaming gateway vs websockify, loopback, one run (%d CPUs, GOMAXPROCS %d, %s; load average %s at start, %s at end)\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), load0, loadAvg())
	fmt.Printf("  %-44s", "")
	for _, p := range proxies {
		fmt.Printf(" %18s", p.name)
	}
	fmt.Println()
	row := func(label string, f func(p *benchProxy) string) {
		fmt.Printf("  %-44s", label)
		for _, p := range proxies {
			fmt.Printf(" %18s", f(p))
		}
		fmt.Println()
	}
	row(fmt.Sprintf("64-byte round trip p50 (%d sequential)", len(proxies[0].lat)), func(p *benchProxy) string { return msPrec(percentile(p.lat, .5)) })
	row("64-byte round trip p90", func(p *benchProxy) string { return msPrec(percentile(p.lat, .9)) })
	row("64-byte round trip p99", func(p *benchProxy) string { return msPrec(percentile(p.lat, .99)) })
	row(fmt.Sprintf("desktop→viewer MB/s (%d MiB, median of %d)", cfg.downMB, cfg.rounds), func(p *benchProxy) string { return mbps(p.down) })
	row(fmt.Sprintf("viewer→desktop MB/s (%d MiB, median of %d)", cfg.upMB, cfg.rounds), func(p *benchProxy) string { return mbps(p.up) })
	idleRow := func(label string, f func(m idleFigures) string) {
		fmt.Printf("  %-44s %18s %18s %18s\n", label, f(wIdle), "—", f(gIdle))
	}
	idleRow("idle viewers held", func(m idleFigures) string { return fmt.Sprintf("%d/%d", m.held, m.wanted) })
	idleRow("memory before → with them (PSS, tree)", func(m idleFigures) string { return fmt.Sprintf("%.0f → %.0f MiB", m.before/1024, m.after/1024) })
	idleRow("memory per idle viewer", func(m idleFigures) string { return fmt.Sprintf("%.1f KiB", m.perConn()) })
	idleRow("idle viewers per 256 MB", func(m idleFigures) string { return fmt.Sprintf("%.0f", m.per256()) })
	fmt.Printf("  %-44s %18s %18s %18s\n", "  same, after a forced GC", "—", "—", fmt.Sprintf("%.0f (%.1f KiB)", gIdle.per256GC(), gIdle.perConnGC()))
	if gIdle.goAfter != nil {
		g0, g1 := gIdle.goBefore, gIdle.goAfter
		n := float64(max(1, gIdle.held))
		fmt.Printf("  gateway process, Go's view per idle viewer: heap %.1f KiB, goroutine stacks %.1f KiB, %.1f goroutines\n",
			(float64(g1.HeapInuse)-float64(g0.HeapInuse))/1024/n, (float64(g1.StackInuse)-float64(g0.StackInuse))/1024/n,
			float64(g1.Goroutines-g0.Goroutines)/n)
	}
	gw, ws := proxies[2], proxies[0]
	if gw.allocs > 0 {
		fmt.Printf("  gateway process during the round trips: %.1f allocations per round trip, %d collections\n",
			float64(gw.allocs)/float64(len(gw.lat)), gw.gcs)
	}
	fmt.Printf("  targets (issue 12): gateway p50/p99 ≤ websockify's: %s/%s; gateway MB/s ≥ websockify's: %s; ≥ 2000 idle viewers per 256 MB: %s\n",
		verdict(percentile(gw.lat, .5) <= percentile(ws.lat, .5)), verdict(percentile(gw.lat, .99) <= percentile(ws.lat, .99)),
		verdict(median(gw.down) >= median(ws.down)), verdict(gIdle.per256() >= 2000))
	fmt.Println("  (websockify serves each viewer from a process of its own, forked; the gateway's in-stack copy shares the test process, so its memory is not measured)")
	fmt.Println("  (timings on a shared machine are noisy: compare columns of the same run, and re-run alone for figures to quote)")

	for _, m := range []struct {
		p      *benchProxy
		prefix string
	}{{proxies[0], "wsk"}, {proxies[1], "gw-stack"}, {proxies[2], "gw"}} {
		b.ReportMetric(float64(percentile(m.p.lat, .5).Microseconds())/1000, m.prefix+"-p50-ms")
		b.ReportMetric(float64(percentile(m.p.lat, .99).Microseconds())/1000, m.prefix+"-p99-ms")
		b.ReportMetric(median(m.p.down), m.prefix+"-down-MB/s")
		b.ReportMetric(median(m.p.up), m.prefix+"-up-MB/s")
	}
	b.ReportMetric(wIdle.per256(), "wsk-idle/256MB")
	b.ReportMetric(gIdle.per256(), "gw-idle/256MB")
}

type gatewayBenchConfig struct {
	roundTrips, downMB, upMB, idle, idleWebsockify, rounds int
}

type benchProxy struct {
	name     string
	dial     func() (net.Conn, error)
	conn     net.Conn
	lat      []time.Duration
	down, up []float64
	// mem reads a Go proxy process's own figures: its allocations and collections during the
	// round trips tell what a round trip costs it beyond the system calls.
	mem    func(gc bool) *goMem
	allocs uint64
	gcs    uint32
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func msPrec(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Nanoseconds())/1e6) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	for i := range s { // insertion sort: a handful of rounds
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

func mbps(v []float64) string { return fmt.Sprintf("%.0f", median(v)) }

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// benchSession creates a session for tok and makes it a running desktop at upstream, as the
// runtime would (openAsGateway does the same for tests without desktops).
func benchSession(b *testing.B, e *testenv.Env, tok, admin, upstream, secret string) string {
	b.Helper()
	s := create(b, e, tok, map[string]any{"templateName": "terminal", "persistentHome": false})
	e.Do("POST", "/api/v1/sessions/"+s.ID+"/status", admin, map[string]any{"state": "running", "url": "http://bench"}).Want(b, 200)
	next := sessions.Runtime{Action: sessions.ActionStart, Secret: secret, Upstream: upstream}
	if _, err := e.App.Sessions().ApplyRuntime(rt.WithActor(context.Background()), rt.Caller, s.ID, sessions.RuntimeUpdate{Runtime: next}); err != nil {
		b.Fatal(err)
	}
	return s.ID
}

// openRFB opens a viewer WebSocket and completes the RFB handshake through it (password for
// a desktop that asks for one, "" for the gateway, which asks for none).
func openRFB(wsURL string, protocols []string, password string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: protocols})
	if err != nil {
		return nil, err
	}
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := rfb.Dial(conn, password); err != nil {
		conn.Close()
		return nil, fmt.Errorf("RFB handshake: %w (%s)", err, closeReason(err))
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

// echoRoundTrips sends n 64-byte clipboard messages one after the other, each after the echo
// of the previous one came back, and returns each round trip's time.
func echoRoundTrips(conn net.Conn, n int) ([]time.Duration, error) {
	msg := cutText(bytes.Repeat([]byte{'e'}, 56))
	got := make([]byte, len(msg))
	lat := make([]time.Duration, 0, n)
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	defer conn.SetDeadline(time.Time{})
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, got); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0))
	}
	if !bytes.Equal(got, msg) {
		return nil, errors.New("the echo differs from what was sent")
	}
	return lat, nil
}

// downstream has the desktop send n bytes and returns the MB/s they arrived at.
func downstream(conn net.Conn, n int64) (float64, error) {
	buf := make([]byte, 256<<10)
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	defer conn.SetDeadline(time.Time{})
	t0 := time.Now()
	if _, err := conn.Write(fakeCommand("SEND", n)); err != nil {
		return 0, err
	}
	for got := int64(0); got < n; {
		k, err := conn.Read(buf[:min(int64(len(buf)), n-got)])
		if err != nil {
			return 0, err
		}
		got += int64(k)
	}
	return float64(n) / 1e6 / time.Since(t0).Seconds(), nil
}

// upstream sends about n bytes to the desktop in 64 KiB clipboard messages and returns the
// MB/s they were taken at (until the desktop's answer to the last one).
func upstream(conn net.Conn, n int64) (float64, error) {
	const size = 64 << 10
	msg := cutText(make([]byte, size-8))
	count := max(1, n/size)
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	defer conn.SetDeadline(time.Time{})
	t0 := time.Now()
	if _, err := conn.Write(fakeCommand("RECV", count*size)); err != nil {
		return 0, err
	}
	for i := int64(0); i < count; i++ {
		if _, err := conn.Write(msg); err != nil {
			return 0, err
		}
	}
	var ack [1]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return 0, err
	}
	return float64(count*size) / 1e6 / time.Since(t0).Seconds(), nil
}

type idleFigures struct {
	wanted, held              int
	before, after, afterGC    float64 // PSS of the process tree, KiB
	goBefore, goAfter, goGCed *goMem
}

func (m idleFigures) perConn() float64 {
	if m.held == 0 {
		return 0
	}
	return (m.after - m.before) / float64(m.held)
}

// mb256 is 256 MB (10^6 bytes) in KiB.
const mb256 = 256e6 / 1024

func (m idleFigures) per256() float64 {
	if m.perConn() <= 0 {
		return 0
	}
	return mb256 / m.perConn()
}

func (m idleFigures) perConnGC() float64 {
	if m.held == 0 || m.afterGC == 0 {
		return 0
	}
	return (m.afterGC - m.before) / float64(m.held)
}

func (m idleFigures) per256GC() float64 {
	if m.perConnGC() <= 0 {
		return 0
	}
	return mb256 / m.perConnGC()
}

// measureIdle opens k idle viewers through a proxy (workers at once; viewers 1..k, viewer i by
// worker (i-1)%workers, so a session's viewers can be opened one after another) and reads the proxy's memory before and with them. One viewer is opened first
// and counted in "before": the first stream pays one-time costs (connection pools, code pages).
// Opening stops at BENCH_GW_IDLE_MINUTES (default 5); the figures use the viewers held.
func measureIdle(b *testing.B, name string, desk *fakeDesktop, pid, k, workers int, gw *gatewayProc, open func(i int) (net.Conn, error)) idleFigures {
	b.Helper()
	m := idleFigures{wanted: k}
	first, err := open(0)
	if err != nil {
		b.Fatalf("%s: first idle viewer: %v", name, err)
	}
	defer first.Close()
	time.Sleep(3 * time.Second) // settle: handlers done, children forked
	m.before = pssTree(pid)
	if gw != nil {
		m.goBefore = gw.mem(false)
	}
	deadline := time.Now().Add(time.Duration(envInt("BENCH_GW_IDLE_MINUTES", 5)) * time.Minute)
	var (
		mu    sync.Mutex
		conns []net.Conn
		errs  []error
		wg    sync.WaitGroup
	)
	workers = min(workers, 16)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1 + w; i <= k; i += workers {
				if time.Now().After(deadline) {
					return
				}
				c, err := open(i)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					conns = append(conns, c)
				}
				stop := len(errs) > 10
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(errs) > 10 {
		b.Fatalf("%s: idle viewers failed to open: %v", name, errs[:5])
	}
	m.held = len(conns)
	time.Sleep(3 * time.Second)
	m.after = pssTree(pid)
	if gw != nil {
		if dir := os.Getenv("BENCH_GW_PROFILE_DIR"); dir != "" {
			gw.post("/bench/heap", filepath.Join(dir, "gateway-idle-heap.pprof"))
		}
		m.goAfter = gw.mem(false)
		m.goGCed = gw.mem(true)
		m.afterGC = pssTree(pid)
	}
	// Every viewer is still there: the desktop holds a connection for each (and the first).
	if held := desk.Conns(); held < m.held+1 {
		b.Fatalf("%s: the desktop holds %d connections with %d idle viewers open", name, held, m.held+1)
	}
	if len(errs) > 0 {
		fmt.Printf("%s: %d idle viewers failed to open, e.g. %v\n", name, len(errs), errs[0])
	}
	return m
}

// pssTree is the proportional set size (KiB) of pid and all its descendants.
func pssTree(pid int) float64 {
	children := map[int][]int{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) >= 2 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], p)
		}
	}
	total := 0.0
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[0]
		todo = append(todo[1:], children[p]...)
		total += pssOf(p)
	}
	return total
}

func pssOf(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) >= 2 && fields[0] == "Pss:" {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb
		}
	}
	return 0
}

// websockifyProc is a websockify started for the benchmark, in a process group of its own.
type websockifyProc struct {
	cmd  *exec.Cmd
	addr string
}

func startWebsockify(b *testing.B, path, target, dir string) *websockifyProc {
	b.Helper()
	addr := freeAddr(b)
	logf, err := os.Create(filepath.Join(dir, "websockify.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(path, addr, target)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		// websockify ends its per-connection children on SIGTERM; the group catches stragglers.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		logf.Close()
	})
	waitListening(b, addr, done, "websockify")
	return &websockifyProc{cmd: cmd, addr: addr}
}

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(b *testing.B, addr string, exited <-chan struct{}, what string) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			b.Fatalf("%s exited before listening", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	b.Fatalf("%s not listening on %s after 15 s", what, addr)
}

// gatewayProc is the gateway as a process of its own: this test binary, re-executed.
type gatewayProc struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.WriteCloser
	done  chan struct{}
}

func startGatewayProcess(b *testing.B, e *testenv.Env, prefix, keys string) *gatewayProc {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), gatewayProcessEnv+"=1", "BENCH_GATEWAY_DYNAMODB="+e.DynamoDB,
		"BENCH_GATEWAY_TABLE_PREFIX="+prefix, "BENCH_GATEWAY_TICKET_KEYS="+keys)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	g := &gatewayProc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "listening ") {
		_ = cmd.Process.Kill()
		b.Fatalf("gateway process: %q", lines.Text())
	}
	g.addr = strings.TrimPrefix(lines.Text(), "listening ")
	go func() { _, _ = io.Copy(io.Discard, out); _ = cmd.Wait(); close(g.done) }()
	b.Cleanup(g.stop)
	return g
}

// stop ends the process (closing its standard input; killing it if it lingers).
func (g *gatewayProc) stop() {
	_ = g.stdin.Close()
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// post asks the process to profile (file: where it writes the profile).
func (g *gatewayProc) post(path, file string) {
	resp, err := http.Post("http://"+g.addr+path+"?file="+url.QueryEscape(file), "", nil)
	if err == nil {
		resp.Body.Close()
	}
}

func (g *gatewayProc) mem(gc bool) *goMem {
	u := "http://" + g.addr + "/bench/mem"
	if gc {
		u += "?gc=1"
	}
	resp, err := http.Get(u)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var m goMem
	if json.NewDecoder(resp.Body).Decode(&m) != nil {
		return nil
	}
	return &m
}

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"testing"
	"time"

	"streamspace/internal/app"
	"streamspace/internal/ddb"
	"streamspace/internal/gateway"
	"streamspace/internal/sessions"
	"streamspace/internal/tickets"
)

// gatewayProcessEnv makes the test binary a streaming gateway process instead of running tests
// (the benchmark's way of measuring the gateway's memory apart from the clients and the fake
// desktop that share the test process); see startGatewayProcess.
const gatewayProcessEnv = "STREAMSPACE_BENCH_GATEWAY_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(gatewayProcessEnv) != "" {
		os.Exit(gatewayProcess())
	}
	os.Exit(m.Run())
}

// gatewayProcess serves the streaming gateway as cmd/gateway does (app.Gateway on the tables
// and ticket keys of a local stack started by the parent), on a loopback port it prints as
// "listening <addr>", until its standard input ends (the parent is done or gone). Besides the
// gateway it serves GET /bench/mem: the Go runtime's own memory figures (after a collection
// with ?gc=1), for the benchmark's breakdown, and POST /bench/cpu/start|stop and /bench/heap
// (?file=) to profile it.
func gatewayProcess() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "bench gateway:", err); return 1 }
	ctx := context.Background()
	cfg := app.Config{Tables: ddb.WithPrefix(os.Getenv("BENCH_GATEWAY_TABLE_PREFIX")), DynamoEndpoint: os.Getenv("BENCH_GATEWAY_DYNAMODB"),
		BootstrapAdmins: []string{"admin"}, Limits: sessions.DefaultLimits}
	a := app.New(cfg, ddb.LocalConfig(), slog.New(slog.DiscardHandler))
	keys, err := tickets.NewKeyring(ctx, tickets.FileSource(os.Getenv("BENCH_GATEWAY_TICKET_KEYS")))
	if err != nil {
		return fail(err)
	}
	a.Tickets = keys
	gw := a.Gateway("", nil)
	mux := http.NewServeMux()
	mux.Handle(gateway.Prefix, gw)
	mux.HandleFunc("GET /bench/mem", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			runtime.GC()
			debug.FreeOSMemory()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(goMem{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Sys: ms.Sys,
			HeapReleased: ms.HeapReleased, Mallocs: ms.Mallocs, NumGC: ms.NumGC, Goroutines: runtime.NumGoroutine(), Streams: gw.Streams()})
	})
	// Profiles for whoever tunes the gateway (BENCH_GW_PROFILE_DIR): the CPU between start and
	// stop, the heap when asked.
	var cpu *os.File
	mux.HandleFunc("POST /bench/cpu/start", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Create(r.URL.Query().Get("file"))
		if err == nil {
			if err = pprof.StartCPUProfile(f); err == nil {
				cpu = f
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /bench/cpu/stop", func(w http.ResponseWriter, r *http.Request) {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
			cpu = nil
		}
	})
	mux.HandleFunc("POST /bench/heap", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Create(r.URL.Query().Get("file"))
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	go gw.Run(ctx)
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	// The parent's tables are throwaway: no need to record every stream's end.
	return 0
}

// goMem is what GET /bench/mem answers.
type goMem struct {
	HeapInuse, StackInuse, Sys, HeapReleased, Mallocs uint64
	NumGC                                             uint32
	Goroutines, Streams                               int
}

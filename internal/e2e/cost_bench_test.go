package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/auth"
	"streamspace/internal/cost"
	"streamspace/internal/ddb"
	"streamspace/internal/gateway"
	localgw "streamspace/internal/local/gateway"
	"streamspace/internal/local/stack"
	"streamspace/internal/local/streams"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

type labelKey struct{}

func withLabel(ctx context.Context, l string) context.Context {
	return context.WithValue(ctx, labelKey{}, l)
}

// countingWriter counts the bytes of the structured log lines.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// consumerTally counts the stream records each consumer was handed.
type consumerTally struct {
	mu      sync.Mutex
	records map[string]int
	calls   int
}

func (t *consumerTally) take() (map[string]int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, c := t.records, t.calls
	t.records = map[string]int{}
	return r, c
}

func (t *consumerTally) seen() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls
}

// BenchmarkConsumedCapacity measures the DynamoDB capacity each route consumes
// (ReturnConsumedCapacity TOTAL on every call, summed from the outputs), in the request and in
// the stream consumers its changes reach, plus one re-check of a watched session by the
// streaming gateway, and prints the cost model of docs/cost.md computed from them
// (internal/cost).
func BenchmarkConsumedCapacity(b *testing.B) {
	meter := &testenv.CapacityMeter{Label: func(ctx context.Context) string {
		if l, ok := ctx.Value(labelKey{}).(string); ok {
			return l
		}
		if localgw.InRequest(ctx) {
			return "request"
		}
		return "other"
	}, Relabel: func(label, op string, in any) string {
		// The processor's activity counters, written once per batch (cost.Route.ProcessorCounters).
		if u, ok := in.(*dynamodb.UpdateItemInput); ok && label == "processor" {
			if pk, ok := u.Key[ddb.PK].(*types.AttributeValueMemberS); ok && strings.HasPrefix(pk.Value, ddb.ActivityStatsPK) {
				return "processor-counters"
			}
		}
		return label
	}}
	logs := &countingWriter{}
	tally := &consumerTally{records: map[string]int{}}
	desk := startFakeDesktop(b, "costpw01")
	e := testenv.Start(b, func(c *stack.Config) {
		c.DBOptions = append(c.DBOptions, meter.Option())
		c.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		c.WrapConsumer = func(name string, h streams.Handler) streams.Handler {
			return func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
				tally.mu.Lock()
				tally.records[name] += len(ev.Records)
				tally.calls++
				tally.mu.Unlock()
				return h(withLabel(ctx, name), ev)
			}
		}
	})
	// settle waits until the stream consumers have been quiet for 300 ms.
	settle := func() {
		time.Sleep(300 * time.Millisecond)
		for last := tally.seen(); ; {
			time.Sleep(300 * time.Millisecond)
			if n := tally.seen(); n == last {
				return
			}
			last = tally.seen()
		}
	}
	steps := benchRoutes(b, e)
	settle()
	meter.Take()
	tally.take()
	routes := map[string]cost.Route{}
	unreported, floored := 0, 0
	fmt.Println("DynamoDB consumed capacity per route (ReturnConsumedCapacity TOTAL on DynamoDB Local; request = the function, which authenticates its caller):")
	fmt.Printf("  %-36s %-6s %6s %7s %7s %7s %8s %8s %8s %8s %6s\n", "route", "status", "ms", "req RRU", "req WRU", "records",
		"notif RRU", "proc WRU", "proc RRU", "other", "log B")
	for _, st := range steps {
		l0 := logs.n.Load()
		t0 := time.Now()
		r := st.do()
		ms := float64(time.Since(t0).Microseconds()) / 1000
		if r.Status >= 300 {
			b.Fatalf("%s: %d %s", st.route, r.Status, r.Body)
		}
		settle()
		u := meter.Take()
		recs, _ := tally.take()
		for _, v := range u {
			unreported += v.Unreported
			floored += v.Floored
		}
		rt := cost.Route{Request: cost.Units{RRU: u["request"].RRU, WRU: u["request"].WRU}, Records: float64(recs["notifier"]),
			Notifier:          cost.Units{RRU: u["notifier"].RRU, WRU: u["notifier"].WRU},
			Processor:         cost.Units{RRU: u["processor"].RRU + u["processor-counters"].RRU, WRU: u["processor"].WRU + u["processor-counters"].WRU},
			ProcessorCounters: cost.Units{RRU: u["processor-counters"].RRU, WRU: u["processor-counters"].WRU},
			LogBytes:          float64(logs.n.Load() - l0), Millis: ms}
		routes[st.route] = rt
		other := u["other"]
		fmt.Printf("  %-36s %-6d %6.1f %7.2f %7.2f %7.0f %8.2f %8.2f %8.2f %8s %6.0f\n", st.route, r.Status, ms, rt.Request.RRU, rt.Request.WRU,
			rt.Records, rt.Notifier.RRU, rt.Processor.WRU, rt.Processor.RRU, fmt.Sprintf("%.1f/%.1f", other.RRU, other.WRU), rt.LogBytes)
	}

	// The streaming gateway: one watched session, its re-checks over 5 periods.
	admin, owner := e.Token("root", "admin"), e.Token("watcher", "")
	id := benchSession(b, e, owner, admin, "tcp:"+desk.Addr(), "costpw01")
	ticket, err := e.Ticket(owner, id)
	if err != nil {
		b.Fatal(err)
	}
	conn, _, err := e.Stream(id, ticket)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	const periods = 5
	time.Sleep(3 * time.Second) // the first round (it also renews the connection) is over
	settle()
	meter.Take()
	time.Sleep(periods * 2 * time.Second)
	g := meter.Take()["other"]
	check := cost.Units{RRU: g.RRU / periods, WRU: g.WRU / periods}
	fmt.Printf("  %-36s %.2f RRU %.2f WRU, %.1f calls (mean of %d periods of 2 s)\n", "gateway re-check of 1 watched session", check.RRU, check.WRU, float64(g.Calls)/periods, periods)
	// A renewal and an activity mark, as the gateway makes them once a minute.
	connID := ""
	for _, c := range mustConns(b, e, id) {
		connID = c
	}
	settle()
	meter.Take()
	tally.take()
	ctx := withLabel(context.Background(), "renew")
	if err := e.App.SessionStore().RenewConnections(ctx, id, []string{connID}, time.Now()); err != nil {
		b.Fatal(err)
	}
	renew := meter.Take()["renew"]
	fmt.Printf("  %-36s %.2f RRU %.2f WRU\n", "gateway connection renewal", renew.RRU, renew.WRU)
	l0 := logs.n.Load()
	actx := auth.WithActor(withLabel(context.Background(), "heartbeat"), auth.Actor{UserID: "watcher"})
	if _, err := e.App.Sessions().Heartbeat(actx, gateway.Principal, id, ""); err != nil {
		b.Fatal(err)
	}
	settle()
	hu := meter.Take()
	hrec, _ := tally.take()
	hb := cost.Route{Request: cost.Units{RRU: hu["heartbeat"].RRU, WRU: hu["heartbeat"].WRU}, Records: float64(hrec["notifier"]),
		Notifier: cost.Units{RRU: hu["notifier"].RRU, WRU: hu["notifier"].WRU}, Processor: cost.Units{RRU: hu["processor"].RRU, WRU: hu["processor"].WRU},
		LogBytes: float64(logs.n.Load() - l0)}
	fmt.Printf("  %-36s %.2f RRU %.2f WRU, %.0f records, notifier %.2f RRU, processor %.2f WRU %.2f RRU\n", "gateway activity mark (heartbeat)",
		hb.Request.RRU, hb.Request.WRU, hb.Records, hb.Notifier.RRU, hb.Processor.WRU, hb.Processor.RRU)
	fmt.Printf("  (%d reads found nothing and were reported as 0 units by DynamoDB Local; counted at DynamoDB's minimum, 0.5 RRU or 1 when consistent)\n", floored)
	if unreported > 0 {
		fmt.Printf("  %d calls returned no ConsumedCapacity (not counted)\n", unreported)
	}

	p, a := cost.USEast1, cost.Documented
	key := routes["GET /sessions with an API key"]
	base := routes["GET /sessions"]
	keyExtra := cost.Route{Request: cost.Units{RRU: key.Request.RRU - base.Request.RRU, WRU: key.Request.WRU - base.Request.WRU},
		LogBytes: key.LogBytes - base.LogBytes}
	lines, err := cost.PerMillion(p, a, routes, cost.DocumentedMix, keyExtra)
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("Modelled cost per 1 M API requests (documented mix, %.0f M requests a month, %s list prices, %s):\n", a.RequestsPerMonth/1e6, p.Region, p.Date)
	printLines(lines)
	on := a
	on.XRay = true
	xl, _ := cost.PerMillion(p, on, routes, cost.DocumentedMix, keyExtra)
	fmt.Printf("  %-52s %8.2f  with X-Ray on: %.2f\n", "TOTAL $ per 1 M requests, tables on demand", cost.Total(lines), cost.Total(xl))
	b.ReportMetric(cost.Total(lines), "$/M-requests")
	prov := a
	prov.Provisioned = true
	pl, _ := cost.PerMillion(p, prov, routes, cost.DocumentedMix, keyExtra)
	fmt.Printf("The same with TableCapacityMode=Provisioned (auto scaling at %.0f %% utilisation):\n", prov.Utilization*100)
	printLines(pl)
	fmt.Printf("  %-52s %8.2f  (target ≤ 4.00)\n", "TOTAL $ per 1 M requests, tables provisioned", cost.Total(pl))
	b.ReportMetric(cost.Total(pl), "$/M-requests-provisioned")

	sh := cost.SessionHour(p, a, cost.Session{Checks: 1800, Check: check, Renewals: 60, Renewal: cost.Units{RRU: renew.RRU, WRU: renew.WRU},
		Heartbeats: float64(time.Hour / gateway.ActivityEvery(sessions.DefaultIdleTimeout)), Heartbeat: hb, TaskEvents: 2.0 / 8, TaskEvent: routes["PATCH /sessions/{id}"]}) // a task event writes the session item as a patch does
	fargate := cost.FargateHour(p, 1, 2)
	fmt.Printf("Modelled control-plane cost of a running, watched session per hour (%s):\n", p.Region)
	printLines(sh)
	fmt.Printf("  %-52s %8.5f  = %.2f %% of the Fargate task (1 vCPU / 2 GiB x86: $%.5f/h; target ≤ 2 %%)\n", "TOTAL $ per session-hour",
		cost.Total(sh), 100*cost.Total(sh)/fargate, fargate)
	b.ReportMetric(cost.Total(sh)*1e6, "µ$/session-hour")
}

func printLines(lines []cost.Line) {
	for _, l := range lines {
		fmt.Printf("  %-52s %8.5f  %s\n", l.Name, l.Dollars, l.Quantity)
	}
}

func mustConns(b *testing.B, e *testenv.Env, id string) []string {
	b.Helper()
	conns, err := e.App.SessionStore().Connections(context.Background(), id, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, c := range conns {
		out = append(out, c.ConnectionID)
	}
	sort.Strings(out)
	return out
}

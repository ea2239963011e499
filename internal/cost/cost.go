// Package cost is the cost model of docs/cost.md: list prices and the arithmetic that turns the
// consumed capacity measured per route (make bench, BenchmarkConsumedCapacity) into $ per
// million API requests and $ per running session-hour. The benchmark prints what this computes,
// so the document and the benchmark agree.
package cost

import "fmt"

// Prices are on-demand list prices in one region, without the free tier.
type Prices struct {
	Region, Date      string
	HTTPAPIPerM       float64 // API Gateway HTTP API, per million requests (first 300 M)
	WSMessagePerM     float64 // API Gateway WebSocket, per million messages (32 KB units)
	LambdaRequestPerM float64
	LambdaGBSecondArm float64
	WRUPerM, RRUPerM  float64 // DynamoDB on-demand, Standard table class
	WCUHour, RCUHour  float64 // DynamoDB provisioned capacity, per unit-hour
	LogsPerGB         float64 // CloudWatch Logs ingestion (Standard class)
	XRayTracePerM     float64 // traces recorded
	FargateVCPUHour   float64 // Linux x86
	FargateGBHour     float64
	PublicIPv4Hour    float64
	KMSKeyMonth       float64
}

// USEast1 are the us-east-1 prices this model uses (sources in docs/cost.md, "Prices used").
var USEast1 = Prices{
	Region: "us-east-1", Date: "December 2026",
	HTTPAPIPerM: 1.00, WSMessagePerM: 1.00,
	LambdaRequestPerM: 0.20, LambdaGBSecondArm: 0.0000133334,
	WRUPerM: 0.625, RRUPerM: 0.125,
	WCUHour: 0.00065, RCUHour: 0.00013,
	LogsPerGB: 0.50, XRayTracePerM: 5.00,
	FargateVCPUHour: 0.04048, FargateGBHour: 0.004445, PublicIPv4Hour: 0.005,
	KMSKeyMonth: 1.00,
}

// Units are DynamoDB request units.
type Units struct{ RRU, WRU float64 }

// Plus adds two unit counts.
func (u Units) Plus(v Units) Units { return Units{u.RRU + v.RRU, u.WRU + v.WRU} }

// Times scales a unit count.
func (u Units) Times(f float64) Units { return Units{u.RRU * f, u.WRU * f} }

// Dollars is what the units cost.
func (u Units) Dollars(p Prices) float64 { return (u.RRU*p.RRUPerM + u.WRU*p.WRUPerM) / 1e6 }

// Route is what one request of a route costs, as measured on the local stack.
type Route struct {
	Request Units   // the function (it authenticates its caller itself)
	Records float64 // stream records the request produces (Main table changes)
	// What the two stream readers used for those records: the notifier, and the processor (its
	// auditor step's writes, its runtime step's reads — 0 for records that need no work; starts
	// and stops are task lifecycle, see SessionHour — and the steps' progress read per batch).
	Notifier, Processor Units
	// ProcessorCounters is the part of Processor that went to the activity counters (written
	// once per batch, so shared by the records of a batch).
	ProcessorCounters Units
	LogBytes          float64 // structured log bytes the request and its consumers wrote
	Millis            float64 // wall time through the local gateway
}

// Share is one class of the request mix.
type Share struct {
	Class, Route string
	Share        float64
}

// DocumentedMix is the request mix of docs/cost.md: 40 % reads of one session, 20 % lists,
// 30 % writes, 5 % creates, 4 % shares, 1 % invitation accepts; 20 % of requests use API keys
// (the API-key routes add their bookkeeping on top: Assumptions.APIKeyShare).
var DocumentedMix = []Share{
	{"read one session", "GET /sessions/{id}", 0.40},
	{"list", "GET /sessions", 0.20},
	{"write (patch)", "PATCH /sessions/{id}", 0.30},
	{"create", "POST /sessions", 0.05},
	{"share", "POST /sessions/{id}/share", 0.04},
	{"accept an invitation", "POST /invitations/{token}/accept", 0.01},
}

// Assumptions are what the local stack cannot measure.
type Assumptions struct {
	RequestsPerMonth float64
	APIKeyShare      float64 // of requests made with an API key
	// Memory (MB) of the Lambdas; an HTTP function is billed the measured wall time, at least
	// 1 ms. (The HTTP API has no authorizer: one Lambda per request.)
	FunctionMB, NotifierMB, ProcessorMB float64
	ConsumerMillis                      float64 // billed per consumer invocation
	ConsumerInvocationsPerRecord        float64 // per reader; 1 = no batching (upper bound)
	PostsPerRecord                      float64 // listening WebSocket connections per change
	PlatformLogBytes                    float64 // START/END/REPORT per invocation
	// The processor's mapping gathers records for ProcessorWindow seconds, ProcessorParallel
	// batches of a shard at once (template.yaml): at RequestsPerMonth a batch carries
	// RecordsPerProcessorBatch records, which share its counters, its invocation and its
	// progress read. The measurements run one record per invocation.
	ProcessorWindow, ProcessorParallel float64
	// Provisioned: the Main and Audit tables on provisioned capacity with auto scaling at
	// Utilization (TableCapacityMode=Provisioned) instead of on demand.
	Provisioned        bool
	Utilization        float64
	XRay               bool    // Tracing: Active (off by default)
	XRayTracedFraction float64 // when on: Lambda samples 1/s + 5 %
}

// Documented are the assumptions of docs/cost.md at 26 M requests a month.
var Documented = Assumptions{
	RequestsPerMonth: 26e6, APIKeyShare: 0.20,
	FunctionMB: 256, NotifierMB: 512, ProcessorMB: 256,
	ConsumerMillis: 20, ConsumerInvocationsPerRecord: 1, PostsPerRecord: 2,
	// Both templates set SystemLogLevel WARN: Lambda writes no START/END/REPORT lines
	// (≈ 300 bytes an invocation before; internal/infratest keeps the setting).
	PlatformLogBytes: 0,
	ProcessorWindow:  1, ProcessorParallel: 2, Utilization: 0.70,
	// 26 M a month is ≈ 10 requests/s: 1 traced per second per function plus 5 % of the rest.
	XRayTracedFraction: 0.145,
}

// Line is one component of a cost.
type Line struct {
	Name     string
	Quantity string
	Dollars  float64
}

// Total adds lines up.
func Total(lines []Line) float64 {
	t := 0.0
	for _, l := range lines {
		t += l.Dollars
	}
	return t
}

// RecordsPerProcessorBatch is how many stream records one processor invocation carries when
// requests bring recordsPerRequest records each (at least 1: a quiet second still invokes it).
func (a Assumptions) RecordsPerProcessorBatch(recordsPerRequest float64) float64 {
	perSecond := a.RequestsPerMonth / (30 * 24 * 3600) * recordsPerRequest
	if a.ProcessorParallel <= 0 || a.ProcessorWindow <= 0 {
		return 1
	}
	return max(1, perSecond*a.ProcessorWindow/a.ProcessorParallel)
}

// counterShare is the part of one record's counter writes left when k records share a batch: a
// batch writes two counter items (its day's item, with every hour, category and type it counts,
// and the total) whatever its entries, so k records share them. (A day's item stays under 1 KB,
// 1 WRU, with the event types there are: ≈ 800 bytes with all of them.)
func counterShare(k float64) float64 { return 1 / k }

// effective are the prices a request unit costs: on demand, or a provisioned unit-hour spread
// over the requests it serves at the target utilisation (3,600 one-second units an hour).
func (a Assumptions) effective(p Prices) Prices {
	if a.Provisioned && a.Utilization > 0 {
		p.WRUPerM = 1e6 / 3600 * p.WCUHour / a.Utilization
		p.RRUPerM = 1e6 / 3600 * p.RCUHour / a.Utilization
	}
	return p
}

// readers of the main table's stream: the notifier and the processor (DynamoDB Streams throttles
// above two per shard; every further piece of work is a processor step, not an invocation).
const readers = 2

func lambda(p Prices, mb, ms float64) float64 {
	if ms < 1 {
		ms = 1
	}
	return p.LambdaRequestPerM/1e6 + mb/1024*ms/1000*p.LambdaGBSecondArm
}

// PerMillion is the cost of 1 M requests of the mix, by component. keyExtra is what an API-key
// request adds to a token request (GET /sessions with a key minus without).
func PerMillion(p Prices, a Assumptions, routes map[string]Route, mix []Share, keyExtra Route) ([]Line, error) {
	p = a.effective(p)
	var avg Route
	for _, s := range mix {
		r, ok := routes[s.Route]
		if !ok {
			return nil, fmt.Errorf("no measurement of %s", s.Route)
		}
		avg.Request = avg.Request.Plus(r.Request.Times(s.Share))
		avg.Records += r.Records * s.Share
		avg.Notifier = avg.Notifier.Plus(r.Notifier.Times(s.Share))
		avg.Processor = avg.Processor.Plus(r.Processor.Times(s.Share))
		avg.ProcessorCounters = avg.ProcessorCounters.Plus(r.ProcessorCounters.Times(s.Share))
		avg.LogBytes += r.LogBytes * s.Share
		avg.Millis += r.Millis * s.Share
	}
	key := keyExtra.Request.Times(a.APIKeyShare)
	avg.LogBytes += keyExtra.LogBytes * a.APIKeyShare
	const m = 1e6
	inv := a.ConsumerInvocationsPerRecord
	fn := lambda(p, a.FunctionMB, avg.Millis)
	// The processor's batches: one invocation, one progress read and one set of counters for
	// k records (its reads are the progress read and the runtime step's, rare for this mix).
	k := a.RecordsPerProcessorBatch(avg.Records)
	procInv := avg.Records * inv / k
	proc := Units{RRU: avg.Processor.RRU / k,
		WRU: avg.Processor.WRU - avg.ProcessorCounters.WRU + avg.ProcessorCounters.WRU*counterShare(k)}
	consumerInv := avg.Records*inv + procInv
	mode := "on demand"
	if a.Provisioned {
		mode = fmt.Sprintf("provisioned at %.0f %%", a.Utilization*100)
	}
	lines := []Line{
		{"API Gateway HTTP API", "1 M requests", p.HTTPAPIPerM},
		{"HTTP function Lambda", fmt.Sprintf("1 M × %.0f MB × %.1f ms", a.FunctionMB, max(1, avg.Millis)), fn * m},
		{"DynamoDB, request path", fmt.Sprintf("%.2f M RRU + %.2f M WRU, %s", avg.Request.RRU, avg.Request.WRU, mode), avg.Request.Dollars(p) * m},
		{"DynamoDB, API-key bookkeeping", fmt.Sprintf("%.0f %% × (%.2f RRU + %.2f WRU)", a.APIKeyShare*100, keyExtra.Request.RRU, keyExtra.Request.WRU), key.Dollars(p) * m},
		{"Notifier Lambda", fmt.Sprintf("%.3f M invocations", avg.Records*inv), avg.Records * inv * lambda(p, a.NotifierMB, a.ConsumerMillis) * m},
		{"Notifier reads", fmt.Sprintf("%.3f M RRU", avg.Notifier.RRU), avg.Notifier.Dollars(p) * m},
		{"Notifier posts (WebSocket messages)", fmt.Sprintf("%.3f M × %.0f", avg.Records, a.PostsPerRecord), avg.Records * a.PostsPerRecord * p.WSMessagePerM},
		{"Processor Lambda (auditor and runtime steps)", fmt.Sprintf("%.3f M invocations (%.2f records a batch)", procInv, k), procInv * lambda(p, a.ProcessorMB, a.ConsumerMillis) * m},
		{"Processor reads and writes", fmt.Sprintf("%.2f M WRU + %.2f M RRU (counters shared by a batch)", proc.WRU, proc.RRU), proc.Dollars(p) * m},
		{"CloudWatch Logs", fmt.Sprintf("%.0f B structured + %.0f B platform × %.2f invocations", avg.LogBytes, a.PlatformLogBytes, 1+consumerInv),
			(avg.LogBytes + a.PlatformLogBytes*(1+consumerInv)) * m / 1e9 * p.LogsPerGB},
	}
	xray := Line{"X-Ray (off by default)", "0", 0}
	if a.XRay {
		traces := (2 + consumerInv) * a.XRayTracedFraction
		xray = Line{"X-Ray", fmt.Sprintf("%.2f M traces (%.1f %% of %.2f M invocations)", traces, a.XRayTracedFraction*100, 1+consumerInv), traces * p.XRayTracePerM}
	}
	return append(lines, xray), nil
}

// Session is what a running, watched session makes the control plane do in an hour.
type Session struct {
	Checks      float64 // gateway re-checks (one per CheckEvery: 1,800 an hour at 2 s)
	Check       Units   // one re-check of one watched session
	Renewals    float64 // connection renewals (one a minute)
	Renewal     Units
	Heartbeats  float64 // marks of activity by the gateway (one a minute while someone types)
	Heartbeat   Route   // one heartbeat write and its consumers
	TaskEvents  float64 // RUNNING/STOPPED events per running hour (2 per start)
	TaskEvent   Route   // one task event (its Lambda, its write, its consumers)
	UsageReport float64 // usage reports an hour (ECS: none, Container Insights is off)
}

// SessionHour is the control-plane cost of one running, watched session for an hour.
func SessionHour(p Prices, a Assumptions, s Session) []Line {
	p = a.effective(p)
	inv := a.ConsumerInvocationsPerRecord
	consumers := func(r Route) float64 { // stream consumers and posts for one change
		return r.Records*inv*(lambda(p, a.NotifierMB, a.ConsumerMillis)+lambda(p, a.ProcessorMB, a.ConsumerMillis)) +
			r.Notifier.Plus(r.Processor).Dollars(p) + r.Records*a.PostsPerRecord*p.WSMessagePerM/1e6 +
			(r.LogBytes+a.PlatformLogBytes*r.Records*readers*inv)/1e9*p.LogsPerGB
	}
	return []Line{
		{"Gateway re-checks", fmt.Sprintf("%.0f × (%.2f RRU)", s.Checks, s.Check.RRU), s.Check.Times(s.Checks).Dollars(p)},
		{"Gateway connection renewals", fmt.Sprintf("%.0f × (%.2f WRU + %.2f RRU)", s.Renewals, s.Renewal.WRU, s.Renewal.RRU), s.Renewal.Times(s.Renewals).Dollars(p)},
		{"Activity marks (heartbeats) and their consumers", fmt.Sprintf("%.0f × (%.2f WRU + %.2f RRU, %.0f record)", s.Heartbeats, s.Heartbeat.Request.WRU, s.Heartbeat.Request.RRU, s.Heartbeat.Records),
			s.Heartbeats * (s.Heartbeat.Request.Dollars(p) + consumers(s.Heartbeat))},
		{"Task events (taskevents Lambda) and their consumers", fmt.Sprintf("%.2f × (%.2f WRU + %.2f RRU)", s.TaskEvents, s.TaskEvent.Request.WRU, s.TaskEvent.Request.RRU),
			s.TaskEvents * (lambda(p, a.FunctionMB, a.ConsumerMillis) + s.TaskEvent.Request.Dollars(p) + consumers(s.TaskEvent))},
		{"Usage reports", fmt.Sprintf("%.0f", s.UsageReport), 0},
	}
}

// FargateHour is the price of a running task of vcpu and gb (x86), without its public address.
func FargateHour(p Prices, vcpu, gb float64) float64 {
	return vcpu*p.FargateVCPUHour + gb*p.FargateGBHour
}

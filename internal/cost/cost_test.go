package cost

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The model's arithmetic on a one-route mix, checked by hand.
func TestPerMillionByHand(t *testing.T) {
	p := USEast1
	a := Assumptions{APIKeyShare: 0.5, FunctionMB: 1024, NotifierMB: 1024, ProcessorMB: 1024,
		ConsumerMillis: 1000, ConsumerInvocationsPerRecord: 1, PostsPerRecord: 2, PlatformLogBytes: 0}
	routes := map[string]Route{"r": {Request: Units{RRU: 2, WRU: 1}, Records: 1,
		Notifier: Units{RRU: 1}, Processor: Units{WRU: 2}, LogBytes: 1000, Millis: 2000}}
	lines, err := PerMillion(p, a, routes, []Share{{"c", "r", 1}}, Route{Request: Units{WRU: 2}})
	if err != nil {
		t.Fatal(err)
	}
	lambda := 0.20 + 1e6*1*p.LambdaGBSecondArm // per M invocations of 1 GB × 1 s
	want := 1.00 +                             // API Gateway
		0.20 + 2e6*p.LambdaGBSecondArm + // the function: one invocation of 2 s
		(2*0.125 + 1*0.625) + // request path
		0.5*2*0.625 + // API-key bookkeeping
		lambda + 0.125 + 2*1.00 + // notifier: invocation, reads, posts
		lambda + 2*0.625 + // processor (auditor and runtime steps: one invocation)
		1000.0/1e9*1e6*0.50 // logs: 1 KB per request
	if got := Total(lines); !near(got, want) {
		t.Errorf("total %.6f, want %.6f: %+v", got, want, lines)
	}
	if _, err := PerMillion(p, a, routes, []Share{{"c", "missing", 1}}, Route{}); err == nil {
		t.Error("a mix naming an unmeasured route must fail")
	}
}

func TestFargateHour(t *testing.T) {
	if got := FargateHour(USEast1, 1, 2); !near(got, 0.04937) {
		t.Errorf("1 vCPU / 2 GiB: %.5f", got)
	}
}

// A processor batch at the documented traffic, the share of counters it leaves per record, and
// what a provisioned unit costs per million requests.
func TestBatchesAndProvisionedUnits(t *testing.T) {
	a := Documented
	if k := a.RecordsPerProcessorBatch(0.47); math.Abs(k-26e6/(30*24*3600)*0.47/2) > 1e-9 {
		t.Errorf("records a batch = %.3f", k)
	}
	if k := (Assumptions{RequestsPerMonth: 1000, ProcessorWindow: 1, ProcessorParallel: 2}).RecordsPerProcessorBatch(1); k != 1 {
		t.Errorf("a quiet stream still invokes once a record: %v", k)
	}
	if !near(counterShare(1), 1) || !near(counterShare(2), 0.5) {
		t.Errorf("counter shares %v %v", counterShare(1), counterShare(2))
	}
	a.Provisioned = true
	p := a.effective(USEast1)
	if !near(p.WRUPerM, 1e6/3600*0.00065/0.7) || !near(p.RRUPerM, 1e6/3600*0.00013/0.7) {
		t.Errorf("provisioned: %.4f per M WRU, %.4f per M RRU", p.WRUPerM, p.RRUPerM)
	}
	if a.Provisioned = false; a.effective(USEast1) != USEast1 {
		t.Error("on demand changed the prices")
	}
}

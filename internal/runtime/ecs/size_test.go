package ecs

import (
	"testing"

	"streamspace/internal/resources"
	"streamspace/internal/runtime"
)

func TestFargateSizeMapsUp(t *testing.T) {
	cases := []struct {
		cpu, mem         string
		wantCPU, wantMem int
	}{
		{"100m", "128Mi", 256, 512},
		{"250m", "1Gi", 256, 1024},
		{"250m", "1536Mi", 256, 2048}, // 256 CPU units: 512, 1024 or 2048 only
		{"250m", "3Gi", 512, 3072},    // more memory than 256 units allow: the next CPU size
		{"500m", "512Mi", 512, 1024},  // the least memory 512 units allow
		{"1", "2Gi", 1024, 2048},
		{"1", "2500Mi", 1024, 3072}, // 1024 MiB steps, rounded up
		{"1", "9Gi", 2048, 9216},
		{"1500m", "2Gi", 2048, 4096},
		{"2", "16Gi", 2048, 16384},
		{"4", "30Gi", 4096, 30720},
		{"4", "31Gi", 8192, 32768}, // 4096 MiB steps from 16 GiB
		{"8", "33Gi", 8192, 36864},
		{"8", "64Gi", 16384, 65536}, // above 60 GiB: 16 vCPU, 8192 MiB steps
		{"16", "1Gi", 16384, 32768},
	}
	for _, c := range cases {
		cpu, mem, err := FargateSize(resources.Resources{CPU: c.cpu, Memory: c.mem})
		if err != nil || cpu != c.wantCPU || mem != c.wantMem {
			t.Errorf("%s/%s: %d/%d %v, want %d/%d", c.cpu, c.mem, cpu, mem, err, c.wantCPU, c.wantMem)
		}
	}
}

func TestFargateSizeRefusesWhatNoSizeHolds(t *testing.T) {
	// Beyond the largest size (16 vCPU / 120 GiB); the API's own limits stop such requests
	// earlier today, the mapping must not depend on that.
	for _, c := range []struct{ cpuMillis, memMiB int }{{17000, 32768}, {16000, 122881}, {1000, 200000}} {
		if cpu, mem, ok := sizeFor(c.cpuMillis, c.memMiB); ok {
			t.Errorf("%dm/%dMi mapped to %d/%d, want no size", c.cpuMillis, c.memMiB, cpu, mem)
		}
	}
	if cpu, mem, ok := sizeFor(16000, 122880); !ok || cpu != 16384 || mem != 122880 {
		t.Errorf("the largest size itself: %d/%d %v", cpu, mem, ok)
	}
	_, _, err := FargateSize(resources.Resources{CPU: "lots", Memory: "2Gi"})
	if f, ok := runtime.AsFailure(err); !ok || f.Reason == "" {
		t.Errorf("invalid CPU: %v, want a Failure naming it", err)
	}
}

package ecs

import (
	"fmt"

	"streamspace/internal/resources"
	"streamspace/internal/runtime"
)

// fargateSize is one CPU size of Fargate with the memory sizes it accepts (MiB).
type fargateSize struct {
	cpu                  int // CPU units (1024 = 1 vCPU)
	minMem, maxMem, step int
}

// fargateSizes are the task sizes Fargate accepts on Linux, smallest first
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html).
var fargateSizes = []fargateSize{
	{256, 512, 2048, 0}, // 512, 1024 or 2048 only (see memoryFor)
	{512, 1024, 4096, 1024},
	{1024, 2048, 8192, 1024},
	{2048, 4096, 16384, 1024},
	{4096, 8192, 30720, 1024},
	{8192, 16384, 61440, 4096},
	{16384, 32768, 122880, 8192},
}

// memoryFor is the smallest memory size of s that holds mib, or false.
func (s fargateSize) memoryFor(mib int) (int, bool) {
	if s.step == 0 {
		for _, m := range []int{512, 1024, 2048} {
			if m >= mib {
				return m, true
			}
		}
		return 0, false
	}
	if mib > s.maxMem {
		return 0, false
	}
	if mib <= s.minMem {
		return s.minMem, true
	}
	return s.minMem + (mib-s.minMem+s.step-1)/s.step*s.step, true
}

// FargateSize maps a session's resources up to the smallest Fargate size holding both (CPU
// first: a session gets at least the CPU it asked for, then the least memory that size
// allows). A request no Fargate size holds is a runtime.Failure.
func FargateSize(r resources.Resources) (cpu, memory int, err error) {
	amt, field, err := r.Parse()
	if err != nil {
		return 0, 0, runtime.Failed(fmt.Sprintf("the session's %s is invalid: %v", field, err))
	}
	if cpu, memory, ok := sizeFor(amt.CPUMillis, amt.MemoryMiB); ok {
		return cpu, memory, nil
	}
	return 0, 0, runtime.Failed(fmt.Sprintf("no Fargate task size holds %s CPU with %s memory (the largest is 16 vCPU with 120 GiB)",
		r.CPU, r.Memory))
}

// sizeFor is the smallest Fargate size (CPU units, MiB) holding cpuMillis and memMiB.
func sizeFor(cpuMillis, memMiB int) (cpu, memory int, ok bool) {
	units := (cpuMillis*1024 + 999) / 1000 // millicores → CPU units, rounded up
	for _, s := range fargateSizes {
		if s.cpu < units {
			continue
		}
		if m, ok := s.memoryFor(memMiB); ok {
			return s.cpu, m, true
		}
	}
	return 0, 0, false
}

// Package resources parses and sums session resources: CPU and memory as Kubernetes-style
// quantities ("500m", "2" cores; "512Mi", "4Gi"), the notation templates have always used.
package resources

import (
	"fmt"
	"strconv"
	"strings"
)

// Resources as the API shows them.
type Resources struct {
	CPU    string `json:"cpu" dynamodbav:"cpu"`
	Memory string `json:"memory" dynamodbav:"memory"`
}

// Limits on one session's request.
const (
	MaxCPUMillis = 16000
	MaxMemoryMiB = 65536
)

// ParseCPU returns millicores.
func ParseCPU(s string) (int, error) {
	s = strings.TrimSpace(s)
	var m float64
	if v, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("not a CPU quantity")
		}
		m = float64(n)
	} else {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("not a CPU quantity")
		}
		m = f * 1000
	}
	if m < 100 || m > MaxCPUMillis || m != float64(int(m)) {
		return 0, fmt.Errorf("must be from 100m to %d cores", MaxCPUMillis/1000)
	}
	return int(m), nil
}

// ParseMemory returns MiB.
func ParseMemory(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 0
	var num string
	switch {
	case strings.HasSuffix(s, "Gi"):
		mult, num = 1024, strings.TrimSuffix(s, "Gi")
	case strings.HasSuffix(s, "Mi"):
		mult, num = 1, strings.TrimSuffix(s, "Mi")
	default:
		return 0, fmt.Errorf("must end in Mi or Gi")
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, fmt.Errorf("not a memory quantity")
	}
	// Bound n before multiplying: 2^54+1 Gi would otherwise wrap to 1 GiB (SEC-19).
	if n < 0 || n > MaxMemoryMiB/mult {
		return 0, fmt.Errorf("must be from 128Mi to %dGi", MaxMemoryMiB/1024)
	}
	mib := n * mult
	if mib < 128 || mib > MaxMemoryMiB {
		return 0, fmt.Errorf("must be from 128Mi to %dGi", MaxMemoryMiB/1024)
	}
	return mib, nil
}

// Amount is a parsed request.
type Amount struct {
	CPUMillis int
	MemoryMiB int
}

// Parse validates both quantities; the error names the field.
func (r Resources) Parse() (Amount, string, error) {
	c, err := ParseCPU(r.CPU)
	if err != nil {
		return Amount{}, "resources.cpu", err
	}
	m, err := ParseMemory(r.Memory)
	if err != nil {
		return Amount{}, "resources.memory", err
	}
	return Amount{CPUMillis: c, MemoryMiB: m}, "", nil
}

// CPUWords and MemoryWords say an amount as people read it ("16 cores", "1.5 cores", "32 GiB",
// "512 MiB"), for messages; the API's fields keep millicores and MiB.
func CPUWords(millis int) string {
	if millis == 1000 {
		return "1 core"
	}
	return strconv.FormatFloat(float64(millis)/1000, 'f', -1, 64) + " cores"
}

func MemoryWords(mib int) string {
	if mib%1024 == 0 && mib > 0 {
		return strconv.Itoa(mib/1024) + " GiB"
	}
	return strconv.Itoa(mib) + " MiB"
}

package resources

import "testing"

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int{"128Mi": 128, "1Gi": 1024, "2Gi": 2048, " 512Mi ": 512} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	// SEC-19: 2^54+1 Gi wrapped to 1024 MiB and was accepted.
	for _, in := range []string{"18014398509481985Gi", "9223372036854775807Mi", "-1Gi", "127Mi", "1Ti", "1.5Gi", "Gi", ""} {
		if got, err := ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, accepted", in, got)
		}
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[int]string{1000: "1 core", 16000: "16 cores", 1500: "1.5 cores", 250: "0.25 cores"} {
		if got := CPUWords(in); got != want {
			t.Errorf("CPUWords(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{32768: "32 GiB", 512: "512 MiB", 1536: "1536 MiB"} {
		if got := MemoryWords(in); got != want {
			t.Errorf("MemoryWords(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCPU(t *testing.T) {
	for in, want := range map[string]int{"100m": 100, "1": 1000, "0.5": 500, "2500m": 2500} {
		if got, err := ParseCPU(in); err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"99m", "1e9", "-1", "NaN", "0.0001", "x"} {
		if got, err := ParseCPU(in); err == nil {
			t.Errorf("ParseCPU(%q) = %d, accepted", in, got)
		}
	}
}

package local

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"streamspace/internal/sessions"
)

// clockTicks is USER_HZ, the unit of /proc CPU times (100 on every Linux build Go runs on).
const clockTicks = 100

// sample is a session's CPU time so far, to turn the next reading into a rate.
type sample struct {
	at    time.Time
	ticks uint64
}

// Usage measures what a session's processes, and everything they started, use now: CPU in
// millicores since the previous call (0 on the first) and resident memory in MiB. It reads
// /proc: each of the session's processes leads its own process group, which its children join.
func (d *Driver) Usage(id string) (u sessions.Usage, handle string, ok bool) {
	d.mu.Lock()
	in := d.instances[id]
	d.mu.Unlock()
	if in == nil || !in.alive() {
		return sessions.Usage{}, "", false
	}
	groups := map[int]bool{}
	for _, g := range in.desk.Groups() {
		groups[g] = true
	}
	ticks, rssPages := groupTotals(groups)
	now := time.Now()
	u.MemoryMiB = int(rssPages * uint64(os.Getpagesize()) >> 20)
	in.mu.Lock()
	if prev := in.cpu; !prev.at.IsZero() && ticks >= prev.ticks {
		elapsed := now.Sub(prev.at).Seconds()
		if elapsed > 0 {
			u.CPUMillis = int(float64(ticks-prev.ticks) / clockTicks / elapsed * 1000)
		}
	}
	in.cpu = sample{at: now, ticks: ticks}
	in.mu.Unlock()
	return u, in.handle, true
}

// groupTotals sums CPU ticks and resident pages of every process in the given process groups.
func groupTotals(groups map[int]bool) (ticks, rss uint64) {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 22 {
			continue
		}
		// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15, rss 24.
		pgrp, _ := strconv.Atoi(f[2])
		if !groups[pgrp] {
			continue
		}
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		pages, _ := strconv.ParseUint(f[21], 10, 64)
		ticks += ut + st
		rss += pages
	}
	return ticks, rss
}

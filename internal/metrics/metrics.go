// Package metrics writes business counters as CloudWatch embedded metric format (EMF) log lines:
// CloudWatch turns them into metrics with no API call from the function.
package metrics

import (
	"context"
	"log/slog"
	"sort"
	"time"
)

// Namespace of every StreamSpace metric.
const Namespace = "StreamSpace"

// Emit logs one EMF record holding counts (names → values, unit Count) for a function.
func Emit(ctx context.Context, log *slog.Logger, function string, counts map[string]int) {
	if log == nil || len(counts) == 0 {
		return
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	defs := make([]map[string]string, 0, len(names))
	attrs := []any{slog.String("function", function)}
	for _, n := range names {
		defs = append(defs, map[string]string{"Name": n, "Unit": "Count"})
		attrs = append(attrs, slog.Int(n, counts[n]))
	}
	attrs = append(attrs, slog.Any("_aws", map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": Namespace, "Dimensions": [][]string{{"function"}}, "Metrics": defs}},
	}))
	log.InfoContext(ctx, "metrics", attrs...)
}

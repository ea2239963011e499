package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// One EMF line: the counters as top-level values, declared under _aws with the function
// dimension, so CloudWatch makes metrics of them.
func TestEmit(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	Emit(context.Background(), log, "notifier", map[string]int{"delivered": 3, "gone": 1})
	var line struct {
		Function  string `json:"function"`
		Delivered int    `json:"delivered"`
		Gone      int    `json:"gone"`
		AWS       struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	m := line.AWS.CloudWatchMetrics
	if line.Function != "notifier" || line.Delivered != 3 || line.Gone != 1 || line.AWS.Timestamp == 0 || len(m) != 1 ||
		m[0].Namespace != "StreamSpace" || len(m[0].Dimensions) != 1 || m[0].Dimensions[0][0] != "function" ||
		len(m[0].Metrics) != 2 || m[0].Metrics[0].Name != "delivered" || m[0].Metrics[1].Unit != "Count" {
		t.Errorf("%s", buf.String())
	}
	buf.Reset()
	Emit(context.Background(), log, "notifier", nil)
	Emit(context.Background(), nil, "notifier", map[string]int{"x": 1})
	if buf.Len() != 0 {
		t.Errorf("nothing to count still logged: %s", buf.String())
	}
}

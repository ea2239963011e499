package ecs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// stringNumbers works around an emulator bug: moto 5 writes some string-typed ECS fields
// (a task's and a container's cpu and memory) as JSON numbers, which the SDK refuses. It turns
// those numbers into strings before the SDK decodes the response; nothing else is touched.
func stringNumbers(o *awsecs.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("motoStringNumbers",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				resp, ok := out.RawResponse.(*smithyhttp.Response)
				if err != nil || !ok || resp.Body == nil {
					return out, md, err
				}
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil {
					return out, md, rerr
				}
				var doc any
				if json.Unmarshal(body, &doc) == nil {
					fixNumbers(doc, false)
					body, _ = json.Marshal(doc)
				}
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return out, md, nil
			}), middleware.After)
	})
}

// fixNumbers stringifies cpu / memory / memoryReservation numbers inside tasks and containers.
func fixNumbers(v any, inTask bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch {
			case inTask && (k == "cpu" || k == "memory" || k == "memoryReservation"):
				if n, ok := e.(float64); ok {
					x[k] = fmt.Sprint(n)
				}
			case k == "tasks" || k == "task" || k == "containers":
				fixNumbers(e, true)
			default:
				fixNumbers(e, false)
			}
		}
	case []any:
		for _, e := range x {
			fixNumbers(e, inTask)
		}
	}
}

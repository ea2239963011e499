package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"streamspace/internal/app"
	"streamspace/internal/app/awsruntime"
	"streamspace/internal/ddb"
	"streamspace/internal/httpx"
	"streamspace/internal/local/issuer"
	"streamspace/internal/routes"
)

// invokeCmd runs one function's handler on an event file, the way `sam local invoke` does but
// without Docker, against the local stack's DynamoDB (DYNAMODB_ENDPOINT, default :8000).
func invokeCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("name a function: " + strings.Join(functionNames(), ", "))
	}
	name := strings.TrimSuffix(strings.ToLower(args[0]), "function")
	fs := flag.NewFlagSet("invoke", flag.ExitOnError)
	eventPath := fs.String("e", "", "event file (JSON)")
	_ = fs.Parse(args[1:])
	if *eventPath == "" {
		return errors.New("-e EVENT.json is required")
	}
	raw, err := os.ReadFile(*eventPath)
	if err != nil {
		return err
	}
	// Unless told otherwise, talk to the parts of a running `make run` stack.
	for k, v := range map[string]string{
		"DYNAMODB_ENDPOINT": "http://127.0.0.1:8000", "JWKS_URL": "http://127.0.0.1:8080" + issuer.JWKSPath,
		"JWT_ISSUER": issuer.IssuerName, "JWT_AUDIENCE": issuer.Audience, "JWT_ROLE_CLAIM": issuer.RoleClaim,
		"WEBSOCKET_MANAGEMENT_ENDPOINT": "http://127.0.0.1:8081", "BOOTSTRAP_ADMINS": "admin",
	} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	ctx := context.Background()
	cfg := app.ConfigFromEnv()
	a := app.New(cfg, ddb.LocalConfig(), slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	out, err := invoke(ctx, a, name, raw)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func functionNames() []string {
	return append(routes.Functions(), "authorizer", "websocket", "notifier", "processor", "taskevents")
}

func invoke(ctx context.Context, a *app.App, name string, raw []byte) (any, error) {
	switch name {
	case "authorizer":
		return a.Authorizer().Handle(ctx, raw)
	case "websocket":
		var ev events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return a.WebSocket().Handle(ctx, ev)
	case "processor":
		// As deployed: the runtime step with the ECS driver, configured from the environment
		// (docs/runtime.md). make run drives local sessions with its own processor.
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		d, err := awsruntime.Driver(a)
		if err != nil {
			return nil, err
		}
		return a.Processor(d).Handle(ctx, ev)
	case "taskevents":
		var ev events.CloudWatchEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		h, err := awsruntime.TaskEvents(a)
		if err != nil {
			return nil, err
		}
		return nil, h.Handle(ctx, ev)
	case "notifier":
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return a.Notifier().Handle(ctx, ev)
	}
	h, err := a.HTTPHandler(name)
	if err != nil {
		return nil, fmt.Errorf("unknown function %q (known: %s)", name, strings.Join(functionNames(), ", "))
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	return httpx.LambdaHandler(h)(ctx, ev)
}

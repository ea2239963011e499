package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"streamspace/internal/app"
	"streamspace/internal/local/dynamodblocal"
	apigw "streamspace/internal/local/gateway"
	"streamspace/internal/local/issuer"
	"streamspace/internal/local/stack"
)

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	data := fs.String("data", ".local", "data folder (DynamoDB files, signing key, checkpoints)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API address")
	wsAddr := fs.String("ws", "127.0.0.1:8081", "WebSocket API address")
	ddbPort := fs.Int("dynamodb-port", 8000, "DynamoDB Local port")
	ddbDir := fs.String("dynamodb-local", dynamodblocal.DefaultDir("."), "DynamoDB Local folder")
	gwAddr := fs.String("gateway", "127.0.0.1:8082", "streaming gateway address (it is also served under /gateway/ on the HTTP address)")
	verbose := fs.Bool("v", false, "print every request log line")
	runtime := fs.Bool("runtime", true, "run sessions as local processes (Xvfb, the app, x11vnc)")
	_ = fs.Parse(args)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(*data, 0o711); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(*data, "streamspace.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	out := logFile
	if *verbose {
		out = os.Stderr
	}
	log := slog.New(slog.NewJSONHandler(out, nil))
	started := time.Now()
	st, err := stack.Start(ctx, stack.Config{DataDir: *data, DynamoDBLocalDir: *ddbDir, DynamoPort: *ddbPort,
		HTTPAddr: *httpAddr, WSAddr: *wsAddr, GatewayAddr: *gwAddr, Log: log, Limits: app.ConfigFromEnv().Limits,
		SchedulerEvery: 15 * time.Second, AutoHibernate: app.ConfigFromEnv().AutoHibernate,
		BootstrapAdmins: app.ConfigFromEnv().BootstrapAdmins, LocalRuntime: *runtime, UsageEvery: 30 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	admin, err := st.Issuer.Mint(issuer.Claims{Subject: "admin", Role: "admin", TTL: 24 * time.Hour})
	if err != nil {
		return err
	}
	fmt.Printf(`StreamSpace local stack is up (%s)
  Web console    %s/  (open it in a browser; sign in with any user name)
  HTTP API       %s/api/v1
  WebSocket API  %s/?token=<token>  (also %s, the console's origin)
  Stream gateway %s/  (also on %s; connect URLs open here)
  Management API %s/@connections/{id}
  DynamoDB Local %s  (data in %s)
  JWKS           %s%s
  Logs           %s
  Dead letters   %s (stream records the notifier or a processor step gave up on)
  Recordings     %s (objects behind signed local URLs)
  Sessions       %s

Admin token (24 h, user "admin"):
%s

Try:
  export TOKEN=<the admin token above>
  curl -s -H "Authorization: Bearer $TOKEN" %s/api/v1/templates
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"templateName":"firefox-browser"}' %s/api/v1/sessions
  (seconds later: POST /api/v1/sessions/<id>/connect gives a single-use URL to open in a browser within 60 s)
Mint a token for any user:  make token USER=alice [ROLE=operator]   (or: go run ./cmd/streamspace token -user alice)
Press Ctrl-C to stop; data persists in %s.
`, time.Since(started).Round(time.Millisecond), st.HTTPURL, st.HTTPURL, st.WSURL, "ws"+st.HTTPURL[4:]+apigw.ClientsPath, st.GatewayURL, st.GatewayAddr, "http"+st.WSURL[2:], st.DynamoDB, filepath.Join(*data, "dynamodb"),
		st.HTTPURL, issuer.JWKSPath, logFile.Name(), filepath.Join(*data, "dead-letters"), filepath.Join(*data, "objects"), runtimeLine(*runtime, *data), admin, st.HTTPURL, st.HTTPURL, *data)
	<-ctx.Done()
	fmt.Println("\nstopping…")
	return nil
}

func runtimeLine(on bool, data string) string {
	if !on {
		return "not run (-runtime=false): report states with POST /sessions/{id}/status"
	}
	return "run as local processes, homes and logs in " + filepath.Join(data, "runtime")
}

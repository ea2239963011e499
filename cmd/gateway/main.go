// Command gateway is the streaming gateway as its own program: an ECS Fargate service behind
// CloudFront and a load balancer in AWS (the local stack runs the same code in process).
// Configuration comes from the environment (docs/gateway.md): GATEWAY_ADDR, NOVNC_DIR,
// TICKET_KEYS_SECRET_ARN, the table names and BOOTSTRAP_ADMINS, as the functions read them;
// RECORDINGS_BUCKET (where it writes the recordings it makes) and GATEWAY_ID (its name in their
// leases; default the host name and a random suffix).
package main

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"streamspace/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.FromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if a.TicketKeys() == nil {
		log.Fatal("TICKET_KEYS_SECRET_ARN is not set: the gateway cannot verify tickets")
	}
	if err := a.TicketKeys().Refresh(ctx); err != nil {
		log.Fatal(err) // a gateway that cannot read its keys must not take traffic
	}
	gw := a.Gateway(envOr("NOVNC_DIR", "/opt/novnc"), nil)
	srv := &http.Server{Addr: envOr("GATEWAY_ADDR", ":8080"), Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	loop, stopLoop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); gw.Run(loop) }()
	go func() {
		<-ctx.Done()
		// ECS stops a task with SIGTERM: stop taking viewers, then end every stream with a code
		// that tells the viewer to reconnect (to another task), and record each end.
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.Log.Info("gateway listening", slog.String("addr", srv.Addr))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	stopLoop()
	<-done
	gw.Wait()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

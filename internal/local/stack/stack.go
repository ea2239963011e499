// Package stack brings up the whole product on loopback: DynamoDB Local, the tables and the
// seeded catalog, the HTTP and WebSocket API emulators with the management API, the stream
// pollers feeding the notifier and the processor, and the local token issuer. `streamspace run`
// and the end-to-end tests both use it.
package stack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"streamspace/internal/app"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
	"streamspace/internal/gateway"
	"streamspace/internal/httpx"
	"streamspace/internal/local/console"
	"streamspace/internal/local/dynamodblocal"
	apigw "streamspace/internal/local/gateway"
	"streamspace/internal/local/issuer"
	"streamspace/internal/local/objects"
	"streamspace/internal/local/repo"
	"streamspace/internal/local/streams"
	"streamspace/internal/routes"
	"streamspace/internal/runtime"
	"streamspace/internal/runtime/local"
	"streamspace/internal/sessions"
	"streamspace/internal/streambatch"
	"streamspace/internal/templates"
	"streamspace/internal/tickets"
)

// Config of a local stack.
type Config struct {
	// DataDir keeps DynamoDB data, the signing key and stream checkpoints; "" = nothing persists.
	DataDir          string
	DynamoDBLocalDir string // where the emulator jar is cached
	DynamoEndpoint   string // use an already running DynamoDB Local instead of starting one
	DynamoPort       int
	TablePrefix      string
	HTTPAddr         string // default 127.0.0.1:0
	WSAddr           string
	// GatewayAddr is the streaming gateway's own port (default 127.0.0.1:0); it is also served
	// under /gateway/ on the HTTP address, one origin with the API as CloudFront makes it in AWS.
	GatewayAddr string
	// NoVNCDir holds the noVNC client the gateway serves (default: DefaultNoVNCDir()).
	NoVNCDir string
	// ConsoleDir holds the built web console served at / (default: console.DefaultDir()).
	ConsoleDir string
	// GatewayDial lets tests reach desktops the network cannot (an image in its own namespace).
	GatewayDial     func(ctx context.Context, network, addr string) (net.Conn, error)
	BootstrapAdmins []string // default ["admin"]
	CORSOrigins     []string // default ["*"]
	Limits          sessions.Limits
	// RequireRoleGrant: users start no sessions until an admin grants them a role (SEC-05).
	RequireRoleGrant bool
	Log              *slog.Logger // function and gateway logs; default discards
	// DBOptions let tests wrap the DynamoDB client (call counting, fault injection).
	DBOptions []func(*dynamodb.Options)
	// SchedulerEvery runs the idle/lifetime scheduler on a timer (as EventBridge does every
	// minute in AWS); 0 = never (tests call RunScheduler).
	SchedulerEvery time.Duration
	AutoHibernate  bool
	// LocalRuntime runs sessions as local processes (Xvfb, the app, x11vnc, noVNC) driven by the
	// processor's runtime step, as the ECS driver is in AWS; off, sessions only change state
	// through POST /sessions/{id}/status.
	LocalRuntime bool
	// UsageEvery reports what each running session uses (0 = never; tests call ReportUsage).
	UsageEvery time.Duration
	// WrapRuntime lets tests wrap the local driver (fault injection).
	WrapRuntime func(runtime.Driver) runtime.Driver
	// WrapConsumer lets tests wrap each stream consumer's handler (name: notifier, processor),
	// e.g. to label its DynamoDB calls when measuring their consumed capacity.
	WrapConsumer func(name string, h streams.Handler) streams.Handler
}

// Stack is a running local system.
type Stack struct {
	HTTPURL   string
	WSURL     string
	Issuer    *issuer.Issuer
	App       *app.App
	WebSocket *apigw.WebSocket
	Poller    *streams.Poller // the notifier's
	// Readers name the stream's readers, in start order: the notifier and the processor, as the
	// templates map them (at most two: DynamoDB Streams throttles above two readers per shard).
	Readers     []string
	Objects     *objects.Store  // recording content
	Runtime     *local.Driver   // nil unless Config.LocalRuntime
	Gateway     *gateway.Server // the streaming gateway
	GatewayURL  string          // its public base (HTTPURL + /gateway)
	GatewayAddr string          // its own listener
	reconciler  *runtime.Reconciler
	DynamoDB    string
	closers     []func()
	dlqMu       sync.Mutex
	dlq         []DeadLetter
	deadLetters *streambatch.FileSink
}

func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return net.Listen("tcp", addr)
}

// Start brings the stack up; Close takes it down.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	st := &Stack{}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(cfg.BootstrapAdmins) == 0 {
		cfg.BootstrapAdmins = []string{"admin"}
	}
	if len(cfg.CORSOrigins) == 0 {
		cfg.CORSOrigins = []string{"*"}
	}
	if cfg.Limits == (sessions.Limits{}) {
		cfg.Limits = sessions.DefaultLimits
	}

	if cfg.DataDir != "" {
		// Session processes run as other users and cross this folder to reach runtime/: nothing
		// else in it (keys, DynamoDB's files, logs) may be readable by them.
		if err := local.ProtectDataDir(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("data folder: %w", err)
		}
	}
	st.DynamoDB = cfg.DynamoEndpoint
	if st.DynamoDB == "" {
		o := dynamodblocal.Options{Dir: cfg.DynamoDBLocalDir, Port: cfg.DynamoPort}
		if cfg.DataDir != "" {
			o.DBPath = filepath.Join(cfg.DataDir, "dynamodb")
			f, ferr := os.OpenFile(filepath.Join(cfg.DataDir, "dynamodb-local.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if ferr == nil {
				o.Log = f
				st.closers = append(st.closers, func() { f.Close() })
			}
		}
		p, err := dynamodblocal.Start(ctx, o)
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, p.Stop)
		st.DynamoDB = p.Endpoint
	}

	httpLn, err := listen(cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http listener: %w", err)
	}
	wsLn, err := listen(cfg.WSAddr)
	if err != nil {
		httpLn.Close()
		return nil, fmt.Errorf("websocket listener: %w", err)
	}
	gwLn, err := listen(cfg.GatewayAddr)
	if err != nil {
		httpLn.Close()
		wsLn.Close()
		return nil, fmt.Errorf("gateway listener: %w", err)
	}
	st.HTTPURL = "http://" + httpLn.Addr().String()
	st.WSURL = "ws://" + wsLn.Addr().String()
	mgmtURL := "http://" + wsLn.Addr().String()
	st.GatewayURL = st.HTTPURL + strings.TrimSuffix(gateway.Prefix, "/")
	st.GatewayAddr = gwLn.Addr().String()
	keys, err := ticketKeys(ctx, cfg.DataDir)
	if err != nil {
		httpLn.Close()
		wsLn.Close()
		gwLn.Close()
		return nil, err
	}

	if cfg.DataDir != "" {
		st.Issuer, err = issuer.LoadOrCreate(filepath.Join(cfg.DataDir, "issuer-key.pem"))
	} else {
		var key *rsa.PrivateKey
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
			st.Issuer = issuer.New(key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("token issuer: %w", err)
	}

	acfg := app.Config{
		Tables: ddb.WithPrefix(cfg.TablePrefix), DynamoEndpoint: st.DynamoDB,
		JWT: auth.JWTConfig{Issuer: issuer.IssuerName, Audience: issuer.Audience, JWKSURL: st.HTTPURL + issuer.JWKSPath,
			Leeway: time.Minute, RoleClaim: issuer.RoleClaim},
		BootstrapAdmins: cfg.BootstrapAdmins, Limits: cfg.Limits, RequireRoleGrant: cfg.RequireRoleGrant, ManagementEndpoint: mgmtURL, GatewayURL: st.GatewayURL,
	}
	acfg.AutoHibernate = cfg.AutoHibernate
	st.App = app.New(acfg, ddb.LocalConfig(), log, cfg.DBOptions...)
	st.App.Tickets = keys
	// Dead letters go through the same batch loop as in AWS (streambatch); only the sink
	// differs: files in the data folder (and memory) instead of the bucket.
	dlDir := ""
	if cfg.DataDir != "" {
		dlDir = filepath.Join(cfg.DataDir, "dead-letters")
	}
	st.deadLetters = &streambatch.FileSink{Dir: dlDir, OnPark: func(dl DeadLetter) {
		st.dlqMu.Lock()
		defer st.dlqMu.Unlock()
		st.dlq = append(st.dlq, dl)
	}}
	st.App.DeadLetters = st.deadLetters
	objDir := filepath.Join(cfg.DataDir, "objects")
	if cfg.DataDir == "" {
		if objDir, err = os.MkdirTemp("", "streamspace-objects-"); err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { os.RemoveAll(objDir) })
	}
	store, err := objects.New(objDir, st.HTTPURL)
	if err != nil {
		return nil, fmt.Errorf("local object store: %w", err)
	}
	st.App.Objects, st.Objects = store, store
	if err := ddb.EnsureAll(ctx, st.App.DB, acfg.Tables); err != nil {
		return nil, err
	}
	if err := templates.Seed(ctx, st.App.Templates()); err != nil {
		return nil, fmt.Errorf("seed templates: %w", err)
	}

	fns := map[string]apigw.HTTPFunction{}
	for _, fn := range routes.Functions() {
		h, err := st.App.HTTPHandler(fn)
		if err != nil {
			return nil, err
		}
		fns[fn] = httpx.LambdaHandler(h)
	}
	novnc := cfg.NoVNCDir
	if novnc == "" {
		novnc = DefaultNoVNCDir()
	}
	st.Gateway = st.App.Gateway(novnc, cfg.GatewayDial)
	authz := st.App.Authorizer().Handle
	httpGW := apigw.NewHTTP(fns, cfg.CORSOrigins, log, map[string]http.Handler{
		"GET " + issuer.JWKSPath: http.HandlerFunc(st.Issuer.ServeJWKS), objects.Prefix: store, gateway.Prefix: st.Gateway})
	st.WebSocket = &apigw.WebSocket{Authorizer: authz, Handler: st.App.WebSocket().Handle, Log: log}
	// One origin, as in AWS: the console, the API, the gateway and the WebSocket's client side.
	origin := http.NewServeMux()
	origin.Handle(apigw.ClientsPath, st.WebSocket.Clients())
	origin.Handle("/", st.console(cfg, httpGW))
	st.serve(httpLn, origin)
	st.serve(wsLn, st.WebSocket)
	st.serve(gwLn, st.Gateway)
	st.closers = append(st.closers, st.WebSocket.CloseAll)
	gctx, stopGateway := context.WithCancel(context.WithoutCancel(ctx))
	gwDone := make(chan struct{})
	go func() { defer close(gwDone); st.Gateway.Run(gctx) }()
	st.closers = append(st.closers, func() { stopGateway(); <-gwDone; st.Gateway.Wait() })

	streamsClient := dynamodbstreams.NewFromConfig(ddb.LocalConfig(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(st.DynamoDB)
	})
	// The two readers of the stream, as in AWS (one event source mapping each): the notifier and
	// the processor (the auditor and, with the local runtime, the reconciler, as steps), each
	// with its own checkpoint, so one failing never holds up the other.
	var driver runtime.Driver
	if cfg.LocalRuntime {
		if driver, err = st.startRuntime(cfg.DataDir, cfg.WrapRuntime, log); err != nil {
			return nil, err
		}
	}
	proc := st.App.Processor(driver)
	reconciler := proc.Runtime
	consumers := []struct {
		name    string
		handler streams.Handler
	}{{"notifier", st.App.Notifier().Handle}, {"processor", proc.Handle}}
	for _, c := range consumers {
		if cfg.WrapConsumer != nil {
			c.handler = cfg.WrapConsumer(c.name, c.handler)
		}
		p := &streams.Poller{DB: st.App.DB, Streams: streamsClient, Table: acfg.Tables.Main, Region: ddb.LocalRegion,
			Handler: c.handler, Log: log.With(slog.String("consumer", c.name)), FromTrimHorizon: true, Ready: make(chan struct{}),
			OnDiscard: st.deadLetter(c.name)}
		if cfg.DataDir != "" {
			p.CheckpointPath = filepath.Join(cfg.DataDir, "stream-checkpoint-"+c.name+"-"+acfg.Tables.Main+".json")
		}
		if c.name == "notifier" {
			// Live events wait at most 10 ms for the next poll (the processor's steps need no such
			// haste and keep the default 25 ms, which halves their idle polls).
			p.MaxIdleDelay = 10 * time.Millisecond
			st.Poller = p
		}
		st.Readers = append(st.Readers, c.name)
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			if err := p.Run(pctx); err != nil {
				log.Error("stream poller stopped", slog.String("consumer", c.name), slog.String("error", err.Error()))
			}
		}()
		st.closers = append(st.closers, func() { cancel(); <-stopped })
		select {
		case <-p.Ready:
		case <-stopped:
			return nil, fmt.Errorf("%s stream poller failed to start", c.name)
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("%s stream poller not ready after 30 s", c.name)
		}
	}
	if reconciler != nil {
		var live []string
		if err := st.App.SessionStore().Scheduled(ctx, time.Time{}, func(id string) { live = append(live, id) }); err != nil {
			return nil, err
		}
		if n := reconciler.Resume(ctx, live); n > 0 {
			log.Info("resumed sessions after a restart", slog.Int("sessions", n))
		}
		st.reconciler = reconciler
		st.every(ctx, cfg.UsageEvery, "usage", func(ctx context.Context) error { st.ReportUsage(ctx); return nil })
	}
	st.every(ctx, cfg.SchedulerEvery, "scheduler", func(ctx context.Context) error {
		_, err := st.App.Scheduler().Run(ctx, time.Now())
		return err
	})
	return st, nil
}

// console puts the web console in front of the HTTP API on its address: one origin for the
// page, the API and the gateway, as CloudFront makes it in AWS.
func (st *Stack) console(cfg Config, api http.Handler) http.Handler {
	dir := cfg.ConsoleDir
	if dir == "" {
		dir = console.DefaultDir()
	}
	const ttl = 12 * time.Hour
	return &console.Handler{Dir: dir, Next: api,
		Reserved: []string{"/api/", gateway.Prefix, "/.well-known/", objects.Prefix},
		Config:   console.Config{SignIn: "local", WebSocketURL: apigw.ClientsPath},
		Mint: func(user, role string) (string, time.Time, error) {
			tok, err := st.Issuer.Mint(issuer.Claims{Subject: user, Role: role, TTL: ttl})
			return tok, time.Now().Add(ttl), err
		}}
}

// startRuntime makes the local driver (sessions under <data>/runtime, or a temporary folder);
// processes that end on their own fail their session.
func (st *Stack) startRuntime(dataDir string, wrap func(runtime.Driver) runtime.Driver, log *slog.Logger) (runtime.Driver, error) {
	dir := filepath.Join(dataDir, "runtime")
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "streamspace-runtime-")
		if err != nil {
			return nil, err
		}
		dir = tmp
		st.closers = append(st.closers, func() { os.RemoveAll(tmp) })
	}
	st.Runtime = &local.Driver{Dir: dir, Log: log.With(slog.String("component", "runtime"))}
	var driver runtime.Driver = st.Runtime
	if wrap != nil {
		driver = wrap(driver)
	}
	rec := st.App.Reconciler(driver)
	st.Runtime.OnExit = func(id, handle, reason string) {
		err := rec.Observed(context.Background(), id, handle, sessions.StatusReport{State: sessions.StateFailed, Error: reason})
		if err != nil {
			log.Error("report ended session", slog.String("sessionId", id), slog.String("error", err.Error()))
		}
	}
	st.closers = append(st.closers, st.Runtime.Close)
	return driver, nil
}

// every runs job on a timer until the stack closes (period 0: never), as EventBridge schedules do.
func (st *Stack) every(ctx context.Context, period time.Duration, name string, job func(context.Context) error) {
	if period <= 0 {
		return
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
				if err := job(jctx); err != nil && jctx.Err() == nil {
					st.App.Log.Error(name, slog.String("error", err.Error()))
				}
			}
		}
	}()
	st.closers = append(st.closers, func() { cancel(); <-done })
}

// ReportUsage records what every running local session uses now.
func (st *Stack) ReportUsage(ctx context.Context) {
	if st.Runtime == nil {
		return
	}
	for _, id := range st.Runtime.Running() {
		if u, handle, ok := st.Runtime.Usage(id); ok {
			if err := st.reconciler.ReportUsage(ctx, id, handle, u); err != nil {
				st.App.Log.Error("report usage", slog.String("sessionId", id), slog.String("error", err.Error()))
			}
		}
	}
}

// RunScheduler runs the idle/lifetime scheduler once, as of now.
func (st *Stack) RunScheduler(ctx context.Context, now time.Time) (sessions.Summary, error) {
	return st.App.Scheduler().Run(ctx, now)
}

func (st *Stack) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	st.closers = append(st.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // hijacked WebSocket connections end with the process
		_ = srv.Close()
	})
}

// Token mints a token for a user (role "" = plain user).
func (st *Stack) Token(userID, role string) (string, error) {
	return st.Issuer.Mint(issuer.Claims{Subject: userID, Role: role})
}

// Close stops everything in reverse order of start.
func (st *Stack) Close() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		st.closers[i]()
	}
	st.closers = nil
}

// DeadLetter is a stream record a consumer gave up on, kept whole: the local stand-in for the
// dead-letter bucket, kept in memory and, with a data folder, in dead-letters/<consumer>.jsonl
// (what `streamspace redrive -from` reads).
type DeadLetter = streambatch.DeadLetter

// deadLetter is the poller's backstop (a handler that errors or panics until the poller's own
// retries run out); the consumers' batch loop normally parks a record first, in the same sink.
func (st *Stack) deadLetter(consumer string) func([]events.DynamoDBEventRecord, error) {
	return func(recs []events.DynamoDBEventRecord, err error) {
		for _, r := range recs {
			dl := DeadLetter{Consumer: consumer, Error: err.Error(), At: time.Now().UTC(), Record: r}
			if perr := st.deadLetters.Park(context.Background(), dl); perr != nil {
				st.App.Log.Error("park a dead letter", slog.String("consumer", consumer), slog.String("error", perr.Error()))
			}
		}
	}
}

// DeadLetters returns what the consumers parked so far.
func (st *Stack) DeadLetters() []DeadLetter {
	st.dlqMu.Lock()
	defer st.dlqMu.Unlock()
	return append([]DeadLetter(nil), st.dlq...)
}

// ticketKeys is the stream-ticket keyring: kept in the data folder (so tickets survive a
// restart of make run), or fresh in memory for a stack without one.
func ticketKeys(ctx context.Context, dataDir string) (*tickets.Keyring, error) {
	if dataDir != "" {
		return tickets.NewKeyring(ctx, tickets.FileSource(filepath.Join(dataDir, "ticket-keys.json")))
	}
	ks, err := tickets.NewKeySet("mem1")
	if err != nil {
		return nil, err
	}
	return tickets.Static(ks)
}

// NoVNCVersion is the pinned noVNC client (scripts/fetch-novnc.sh fetches it).
const NoVNCVersion = "1.7.0"

// DefaultNoVNCDir finds the fetched noVNC client in the repository's .cache, from any folder
// inside the repository (tests run in their package's folder); STREAMSPACE_NOVNC_DIR overrides.
func DefaultNoVNCDir() string { return repo.Cache("STREAMSPACE_NOVNC_DIR", "novnc-"+NoVNCVersion) }

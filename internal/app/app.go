// Package app composes the product's parts from configuration. The Lambda mains and the local
// stack both build their handlers here, so what runs locally is what runs in AWS.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"streamspace/internal/access"
	"streamspace/internal/activity"
	"streamspace/internal/apikeys"
	"streamspace/internal/auth"
	"streamspace/internal/authorizer"
	"streamspace/internal/connections"
	"streamspace/internal/ddb"
	"streamspace/internal/gateway"
	"streamspace/internal/httpx"
	"streamspace/internal/meta"
	"streamspace/internal/notifier"
	"streamspace/internal/problem"
	"streamspace/internal/processor"
	"streamspace/internal/recordings"
	"streamspace/internal/routes"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/sharing"
	"streamspace/internal/streambatch"
	"streamspace/internal/teams"
	"streamspace/internal/templates"
	"streamspace/internal/tickets"
	"streamspace/internal/users"
)

// Config is everything a function reads from its environment.
type Config struct {
	Tables          ddb.TableNames
	DynamoEndpoint  string // DynamoDB Local; empty in AWS
	JWT             auth.JWTConfig
	BootstrapAdmins []string
	Limits          sessions.Limits
	// RequireRoleGrant gives users a quota of zero sessions until an administrator grants them
	// a role (REQUIRE_ROLE_GRANT; the templates set it when self sign-up is on: SEC-05).
	RequireRoleGrant bool
	// AutoHibernate asks idle sessions to hibernate (AUTO_HIBERNATE, default true).
	AutoHibernate bool
	// RecordingsBucket holds recording content (S3); RecordingsMaxDays is how long the bucket
	// keeps objects, so no recording may ask for longer.
	RecordingsBucket  string
	RecordingsMaxDays int
	// ActivityRetention is how long activity records are kept (TTL); default 90 days.
	ActivityRetention time.Duration
	// UsageRetention is how long API-key usage records are kept (TTL); default 90 days.
	UsageRetention time.Duration
	// ManagementEndpoint is the WebSocket API's management URL (https://{api}.execute-api.{region}.amazonaws.com/{stage}).
	ManagementEndpoint string
	// GatewayURL is the streaming gateway's public base (https://…/gateway); TicketKeysSecret
	// names the Secrets Manager secret with the stream-ticket keys.
	GatewayURL       string
	TicketKeysSecret string
	// GatewayID names a gateway task in the leases of the recordings it makes (GATEWAY_ID;
	// default: its host name and a random suffix).
	GatewayID string
	// DeadLetterBucket keeps the stream records a consumer gives up on, whole
	// (DEAD_LETTER_BUCKET; see docs/deploy.md "Dead letters and redrive"). Empty: consumers
	// never give up and the event source mapping's own limits apply.
	DeadLetterBucket string
	// StreamMaxAttempts and StreamMaxAge are the stream consumers' give-up budget per record
	// (STREAM_MAX_ATTEMPTS, default 5; STREAM_MAX_AGE_SECONDS, default 3000).
	StreamMaxAttempts int
	StreamMaxAge      time.Duration
}

// ConfigFromEnv reads the Lambda environment.
func ConfigFromEnv() Config {
	lim := sessions.DefaultLimits
	lim.MaxSessions = envInt("USER_MAX_SESSIONS", lim.MaxSessions)
	lim.MaxCPUMillis = envInt("USER_MAX_CPU_MILLIS", lim.MaxCPUMillis)
	lim.MaxMemoryMiB = envInt("USER_MAX_MEMORY_MIB", lim.MaxMemoryMiB)
	return Config{
		Tables:         ddb.NamesFromEnv(),
		DynamoEndpoint: os.Getenv("DYNAMODB_ENDPOINT"),
		JWT: auth.JWTConfig{Issuer: os.Getenv("JWT_ISSUER"), Audience: os.Getenv("JWT_AUDIENCE"),
			JWKSURL: os.Getenv("JWKS_URL"), Leeway: time.Duration(envInt("JWT_LEEWAY_SECONDS", 60)) * time.Second,
			RoleClaim: envOr("JWT_ROLE_CLAIM", "cognito:groups")},
		BootstrapAdmins:    strings.FieldsFunc(os.Getenv("BOOTSTRAP_ADMINS"), func(r rune) bool { return r == ',' || r == ' ' }),
		Limits:             lim,
		RequireRoleGrant:   os.Getenv("REQUIRE_ROLE_GRANT") == "true",
		UsageRetention:     time.Duration(envInt("USAGE_RETENTION_DAYS", 90)) * 24 * time.Hour,
		ActivityRetention:  time.Duration(envInt("ACTIVITY_RETENTION_DAYS", 90)) * 24 * time.Hour,
		RecordingsBucket:   os.Getenv("RECORDINGS_BUCKET"),
		AutoHibernate:      os.Getenv("AUTO_HIBERNATE") != "false",
		RecordingsMaxDays:  envInt("RECORDINGS_MAX_RETENTION_DAYS", 365),
		ManagementEndpoint: os.Getenv("WEBSOCKET_MANAGEMENT_ENDPOINT"),
		GatewayURL:         os.Getenv("GATEWAY_URL"),
		TicketKeysSecret:   os.Getenv("TICKET_KEYS_SECRET_ARN"),
		GatewayID:          os.Getenv("GATEWAY_ID"),
		DeadLetterBucket:   os.Getenv("DEAD_LETTER_BUCKET"),
		StreamMaxAttempts:  envInt("STREAM_MAX_ATTEMPTS", streambatch.DefaultMaxAttempts),
		StreamMaxAge:       time.Duration(envInt("STREAM_MAX_AGE_SECONDS", int(streambatch.DefaultMaxAge/time.Second))) * time.Second,
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
		return n
	}
	return def
}

// App holds the shared clients and builds each function's handler.
type App struct {
	Cfg    Config
	AWS    aws.Config
	DB     *dynamodb.Client
	Log    *slog.Logger
	Access *access.Decider
	// Objects holds recording content; nil means the S3 bucket named by RECORDINGS_BUCKET.
	Objects recordings.Objects
	// Tickets signs and verifies stream tickets; nil means the secret TicketKeysSecret, read
	// at first use.
	Tickets *tickets.Keyring
	// DeadLetters keeps the stream records the consumers give up on; nil means the S3 bucket
	// named by DEAD_LETTER_BUCKET (or none). Locally: files in the data folder.
	DeadLetters streambatch.Sink
}

// New connects to DynamoDB with the given AWS configuration.
func New(cfg Config, awsCfg aws.Config, log *slog.Logger, dbOpts ...func(*dynamodb.Options)) *App {
	db := ddb.NewClient(awsCfg, cfg.DynamoEndpoint, dbOpts...)
	return &App{Cfg: cfg, AWS: awsCfg, DB: db, Log: log, Access: &access.Decider{DB: db, Table: cfg.Tables.Main}}
}

// FromEnv builds the App of a Lambda function.
func FromEnv(ctx context.Context) (*App, error) {
	cfg := ConfigFromEnv()
	awsCfg, err := ddb.LoadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return New(cfg, awsCfg, NewLogger(os.Stdout)), nil
}

// NewLogger is the structured JSON logger every function uses.
func NewLogger(w *os.File) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func (a *App) Templates() *templates.Store {
	return &templates.Store{DB: a.DB, Table: a.Cfg.Tables.Main}
}
func (a *App) Users() *users.Store { return &users.Store{DB: a.DB, Table: a.Cfg.Tables.Main} }
func (a *App) SessionStore() *sessions.Store {
	return &sessions.Store{DB: a.DB, Table: a.Cfg.Tables.Main}
}
func (a *App) Connections() *connections.Store {
	return &connections.Store{DB: a.DB, Table: a.Cfg.Tables.Connections}
}

// APIKeys is the API-keys area's service (also the rate limiter and usage recorder of every
// HTTP function).
func (a *App) APIKeys() *apikeys.Service {
	return &apikeys.Service{Store: &apikeys.Store{DB: a.DB, Table: a.Cfg.Tables.Main},
		Usage: &apikeys.Usage{DB: a.DB, Table: a.Cfg.Tables.Audit, Retention: a.Cfg.UsageRetention}, Log: a.Log}
}

// hooks are the cross-cutting rules of every authenticated HTTP function: who is calling
// (authenticated in the function itself, see package authorizer), then the rules of API keys.
func (a *App) hooks(keys *apikeys.Service) httpx.Hooks {
	h := keys.Hooks()
	authz := a.Authorizer()
	h.Authenticate = func(r *http.Request, rt routes.Route) (auth.Caller, error) {
		c, err := authz.AuthenticateHTTP(r.Context(), rt.Key(), r.Header)
		if errors.Is(err, authorizer.ErrBadCredentials) {
			return c, problem.Unauthorized("valid credentials are required")
		}
		return c, err
	}
	return h
}

// Sessions is the sessions area's service.
func (a *App) Sessions() *sessions.Service {
	return &sessions.Service{Store: a.SessionStore(), Users: a.Users(), Templates: a.Templates(), Access: a.Access, Limits: a.Cfg.Limits,
		RequireRoleGrant: a.Cfg.RequireRoleGrant,
		Tickets:          a.TicketKeys(), GatewayURL: a.Cfg.GatewayURL,
		Recorder: recordings.Policy{Store: a.RecordingStore(), MaxRetentionDays: a.Cfg.RecordingsMaxDays}}
}

// RecordingStore keeps recordings' metadata.
func (a *App) RecordingStore() *recordings.Store {
	return &recordings.Store{DB: a.DB, Table: a.Cfg.Tables.Main}
}

// RecordingObjects holds recordings' content: the configured store (locally), or the S3 bucket
// named by RECORDINGS_BUCKET.
func (a *App) RecordingObjects() recordings.Objects {
	if a.Objects == nil {
		a.Objects = recordings.S3{Client: s3.NewFromConfig(a.AWS), Bucket: a.Cfg.RecordingsBucket}
	}
	return a.Objects
}

// TicketKeys is the stream-ticket keyring (nil when this installation has none).
func (a *App) TicketKeys() *tickets.Keyring {
	if a.Tickets == nil && a.Cfg.TicketKeysSecret != "" {
		a.Tickets = tickets.Lazy(tickets.SecretsManagerSource(secretsmanager.NewFromConfig(a.AWS), a.Cfg.TicketKeysSecret))
	}
	return a.Tickets
}

// Gateway is the streaming gateway (its own program in AWS, in process locally), with its
// recorder; dial reaches desktops (nil: the network).
func (a *App) Gateway(noVNCDir string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *gateway.Server {
	var rec *gateway.Recorder
	if a.Objects != nil || a.Cfg.RecordingsBucket != "" {
		rec = &gateway.Recorder{Store: a.RecordingStore(), Objects: a.RecordingObjects(), Sessions: a.SessionStore(),
			ID: a.Cfg.GatewayID, Log: a.Log}
	} else {
		a.Log.Warn("RECORDINGS_BUCKET is not set: this gateway makes no recordings")
	}
	return gateway.New(gateway.Config{Tickets: a.TicketKeys(), NoVNCDir: noVNCDir, Log: a.Log, Dial: dial,
		Authority: &gateway.Authority{Sessions: a.Sessions(), Users: a.Users(), Keys: a.APIKeys().Store, Access: a.Access,
			BootstrapAdmins: a.Cfg.BootstrapAdmins},
		Recorder: rec})
}

// HTTPHandler builds the router of one HTTP function by name (the local stack serves them all).
func (a *App) HTTPHandler(fn string) (http.Handler, error) {
	switch fn {
	case routes.FnMeta:
		return a.MetaHandler()
	case routes.FnUsers:
		return a.UsersHandler()
	case routes.FnSessions:
		return a.SessionsHandler()
	case routes.FnAPIKeys:
		return a.APIKeysHandler()
	case routes.FnTeams:
		return a.TeamsHandler()
	case routes.FnSharing:
		return a.SharingHandler()
	case routes.FnActivity:
		return a.ActivityHandler()
	}
	return nil, fmt.Errorf("no HTTP function %q", fn)
}

// Each function's main calls its own constructor, so its binary links only its own areas.

func (a *App) MetaHandler() (http.Handler, error) {
	rt := httpx.NewRouter(routes.FnMeta, a.Log, httpx.Hooks{})
	meta.Register(rt)
	return complete(rt)
}

func (a *App) UsersHandler() (http.Handler, error) {
	rt := httpx.NewRouter(routes.FnUsers, a.Log, a.hooks(a.APIKeys()))
	lim := a.Cfg.Limits
	users.Register(rt, &users.Service{Store: a.Users(), RequireRoleGrant: a.Cfg.RequireRoleGrant,
		Limits: users.Limits{MaxSessions: lim.MaxSessions, MaxCPUMillis: lim.MaxCPUMillis, MaxMemoryMiB: lim.MaxMemoryMiB}})
	return complete(rt)
}

func (a *App) SessionsHandler() (http.Handler, error) {
	rt := httpx.NewRouter(routes.FnSessions, a.Log, a.hooks(a.APIKeys()))
	sessions.Register(rt, a.Sessions())
	templates.Register(rt, &templates.Service{Store: a.Templates()})
	return complete(rt)
}

func (a *App) APIKeysHandler() (http.Handler, error) {
	svc := a.APIKeys()
	rt := httpx.NewRouter(routes.FnAPIKeys, a.Log, a.hooks(svc))
	apikeys.Register(rt, svc)
	return complete(rt)
}

func (a *App) TeamsHandler() (http.Handler, error) {
	rt := httpx.NewRouter(routes.FnTeams, a.Log, a.hooks(a.APIKeys()))
	teams.Register(rt, &teams.Service{Store: &teams.Store{DB: a.DB, Table: a.Cfg.Tables.Main}, Users: a.Users(), Sessions: a.SessionStore()})
	return complete(rt)
}

func (a *App) SharingHandler() (http.Handler, error) {
	rt := httpx.NewRouter(routes.FnSharing, a.Log, a.hooks(a.APIKeys()))
	sharing.Register(rt, &sharing.Service{Store: &sharing.Store{DB: a.DB, Table: a.Cfg.Tables.Main}, Sessions: a.Sessions(),
		Users: a.Users(), Access: a.Access})
	return complete(rt)
}

func (a *App) ActivityStore() *activity.Store {
	return &activity.Store{DB: a.DB, Table: a.Cfg.Tables.Audit, Retention: a.Cfg.ActivityRetention, IdempotencyTable: a.Cfg.Tables.Main}
}

func (a *App) ActivityHandler() (http.Handler, error) {
	rt := httpx.NewRouter(routes.FnActivity, a.Log, a.hooks(a.APIKeys()))
	svc := a.Sessions()
	activity.Register(rt, &activity.Service{Store: a.ActivityStore(), Sessions: svc})
	recordings.Register(rt, &recordings.Service{Store: a.RecordingStore(), Objects: a.RecordingObjects(),
		Sessions: svc, MaxRetentionDays: a.Cfg.RecordingsMaxDays})
	return complete(rt)
}

// Scheduler marks idle sessions and ends those past their maximum duration.
func (a *App) Scheduler() *sessions.Scheduler {
	return &sessions.Scheduler{Service: a.Sessions(), AutoHibernate: a.Cfg.AutoHibernate, Log: a.Log}
}

// StreamLoop is a stream consumer's batch loop: one implementation for the notifier and the
// processor, with the same dead letters in AWS (S3) and locally (files).
func (a *App) StreamLoop(consumer string) *streambatch.Loop {
	sink := a.DeadLetters
	if sink == nil && a.Cfg.DeadLetterBucket != "" {
		sink = streambatch.S3Sink{Client: s3.NewFromConfig(a.AWS), Bucket: a.Cfg.DeadLetterBucket}
	}
	return &streambatch.Loop{Consumer: consumer, Log: a.Log, Sink: sink,
		Attempts:    streambatch.DynamoAttempts{DB: a.DB, Table: a.Cfg.Tables.Audit},
		Progress:    streambatch.DynamoProgress{DB: a.DB, Table: a.Cfg.Tables.Audit},
		MaxAttempts: a.Cfg.StreamMaxAttempts, MaxAge: a.Cfg.StreamMaxAge}
}

// StreamConsumer returns the record handler of a consumer (the notifier) or of a processor
// step (auditor, runtime) by name: what a redrive of its dead letters calls.
func (a *App) StreamConsumer(consumer string, d runtime.Driver) (streambatch.RecordFunc, error) {
	if consumer == "notifier" {
		return a.Notifier().HandleRecord, nil
	}
	return a.Processor(d).Step(consumer)
}

// Processor is the main table stream's second reader: the auditor and, given a driver, the
// runtime reconciler, as independent steps.
func (a *App) Processor(d runtime.Driver) *processor.Processor {
	p := &processor.Processor{Auditor: a.Auditor(), Batch: a.StreamLoop("processor")}
	if d != nil {
		p.Runtime = a.Reconciler(d)
	}
	return p
}

// Reconciler drives sessions through a runtime driver (the processor's runtime step).
func (a *App) Reconciler(d runtime.Driver) *runtime.Reconciler {
	return &runtime.Reconciler{Sessions: a.Sessions(), Templates: a.Templates(), Driver: d, Log: a.Log}
}

// Auditor writes the activity log (the processor's auditor step).
func (a *App) Auditor() *activity.Auditor {
	au := &activity.Auditor{Store: a.ActivityStore(), Log: a.Log}
	if a.Objects != nil || a.Cfg.RecordingsBucket != "" { // without a bucket there is nothing to delete
		au.Objects = a.RecordingObjects()
	}
	return au
}

// complete refuses a router that lacks a handler for a route the table gives its function.
func complete(rt *httpx.Router) (http.Handler, error) {
	if missing := rt.Unregistered(); len(missing) > 0 {
		return nil, fmt.Errorf("missing handlers for %v", missing)
	}
	return rt, nil
}

// Authorizer is the shared REQUEST authorizer.
func (a *App) Authorizer() *authorizer.Authorizer {
	return &authorizer.Authorizer{JWT: auth.NewJWTVerifier(a.Cfg.JWT), Users: a.Users(), Keys: a.APIKeys(),
		BootstrapAdmins: a.Cfg.BootstrapAdmins, Log: a.Log}
}

// WebSocket serves $connect, $disconnect and $default.
func (a *App) WebSocket() *connections.WebSocket {
	return &connections.WebSocket{Conns: a.Connections(), Sessions: a.SessionStore(), Access: a.Access, Log: a.Log}
}

// Notifier consumes the main table's stream and posts through the management API.
func (a *App) Notifier() *notifier.Notifier {
	mgmt := apigatewaymanagementapi.NewFromConfig(a.AWS, func(o *apigatewaymanagementapi.Options) {
		if a.Cfg.ManagementEndpoint != "" {
			o.BaseEndpoint = aws.String(a.Cfg.ManagementEndpoint)
		}
	})
	return &notifier.Notifier{Conns: a.Connections(), Audience: &notifier.Audience{DB: a.DB, Table: a.Cfg.Tables.Main},
		Poster: connections.ManagementPoster{Client: mgmt}, Log: a.Log, Batch: a.StreamLoop("notifier")}
}

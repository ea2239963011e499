// Package testenv gives tests real parts: one DynamoDB Local per test run (shared through
// DYNAMODB_ENDPOINT, or started once per test binary), and whole local stacks isolated from
// each other by table prefixes.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"streamspace/internal/local/dynamodblocal"
	"streamspace/internal/local/repo"
	"streamspace/internal/local/stack"
	"streamspace/internal/testenv/tier"
)

var (
	once     sync.Once
	endpoint string
	startErr error
	counter  atomic.Int64
)

// RepoRoot finds the module root (the folder holding go.mod).
func RepoRoot() string { return repo.Root() }

// DynamoEndpoint returns the shared emulator's endpoint, starting it if the run has none.
// The emulator started here lives as long as the test binary (it dies with it: Pdeathsig).
func DynamoEndpoint(t testing.TB) string {
	t.Helper()
	tier.Integration(t, "DynamoDB Local")
	once.Do(func() {
		if endpoint = os.Getenv("DYNAMODB_ENDPOINT"); endpoint != "" {
			return
		}
		dir := os.Getenv("DYNAMODB_LOCAL_DIR")
		if dir == "" {
			dir = dynamodblocal.DefaultDir(RepoRoot())
		}
		var p *dynamodblocal.Process
		p, startErr = dynamodblocal.Start(context.Background(), dynamodblocal.Options{Dir: dir})
		if startErr == nil {
			endpoint = p.Endpoint
		}
	})
	if startErr != nil {
		t.Fatalf("DynamoDB Local: %v (run `make dynamodb-local` first)", startErr)
	}
	return endpoint
}

// Prefix returns a table prefix unique to this test run and test.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%d-", time.Now().UnixNano()%1e9, counter.Add(1))
}

// Logs collects what the stack logs, so tests can assert on it (and keep noise out of output).
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Env is a running stack for one test.
type Env struct {
	*stack.Stack
	T    testing.TB
	Logs *Logs
	// Responses keeps every response body Do received (tests grep them for secrets).
	Responses Logs
}

// Start brings up an isolated local stack; modify adjusts its configuration.
func Start(t testing.TB, modify ...func(*stack.Config)) *Env {
	t.Helper()
	logs := &Logs{}
	cfg := stack.Config{DynamoEndpoint: DynamoEndpoint(t), TablePrefix: Prefix(t),
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, m := range modify {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := stack.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(st.Close)
	return &Env{Stack: st, T: t, Logs: logs}
}

// Token mints a token or fails the test.
func (e *Env) Token(user, role string) string {
	e.T.Helper()
	tok, err := e.Stack.Token(user, role)
	if err != nil {
		e.T.Fatal(err)
	}
	return tok
}

// Response is a decoded HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

var client = &http.Client{Timeout: 30 * time.Second}

// Do sends a request to the HTTP API. body may be nil, a string (sent raw) or a value (JSON).
// Every exchange is checked against the OpenAPI document (checkContract).
func (e *Env) Do(method, path, token string, body any, headers ...string) Response {
	e.T.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.HTTPURL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	_, _ = e.Responses.Write(append(b, '\n'))
	e.checkContract(method, path, req.Header, raw, out)
	return out
}

// Want fails the test unless the response has the status.
func (r Response) Want(t testing.TB, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// TLog is a slog handler target that writes to the test's log (shown when the test fails).
type TLog struct{ T testing.TB }

func (l TLog) Write(p []byte) (int, error) {
	l.T.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

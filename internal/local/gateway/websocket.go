package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// AuthorizerFunction is the $connect authorizer's Lambda handler (it receives raw JSON, as in
// Lambda).
type AuthorizerFunction func(context.Context, json.RawMessage) (any, error)

// WebSocketHandler is the WebSocket function's Lambda handler.
type WebSocketHandler func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// WebSocket emulates an API Gateway WebSocket API (stage "local") and its management API
// (POST|GET|DELETE /@connections/{id}) on the same port.
type WebSocket struct {
	Authorizer AuthorizerFunction
	Handler    WebSocketHandler
	Log        *slog.Logger
	// MaxLifetime closes connections after this long (API Gateway: 2 h).
	MaxLifetime time.Duration
	// PostFault, when set, may fail a management-API post (fault injection in tests):
	// return a status code to answer with instead of delivering, or 0 to deliver.
	PostFault func(connectionID string) int

	mu    sync.Mutex
	conns map[string]*wsConn
}

type wsConn struct {
	id          string
	c           *websocket.Conn
	connectedAt time.Time
	lastActive  time.Time
	sourceIP    string
	userAgent   string
	authorizer  map[string]any
	cancel      context.CancelFunc
}

const wsStage = "local"

func newConnectionID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Connections counts open connections.
func (g *WebSocket) Connections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Clients serves the client side only (the handshake and the connection), never the management
// API: what the console's origin mounts at ClientsPath, as CloudFront routes the stage's path
// to the WebSocket API in AWS. Posting to or closing connections stays on the API's own port.
func (g *WebSocket) Clients() http.Handler { return http.HandlerFunc(g.accept) }

// ClientsPath is where the local console's origin serves Clients.
const ClientsPath = "/ws"

func (g *WebSocket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/@connections/"); ok {
		g.manage(w, r, id)
		return
	}
	g.accept(w, r)
}

func (g *WebSocket) requestContext(r *http.Request, connID, routeKey, eventType string, connectedAt time.Time) events.APIGatewayWebsocketProxyRequestContext {
	now := time.Now()
	return events.APIGatewayWebsocketProxyRequestContext{
		AccountID: accountID, APIID: apiID, Stage: wsStage, RequestID: requestID(), ExtendedRequestID: requestID(),
		ConnectionID: connID, RouteKey: routeKey, EventType: eventType, MessageDirection: "IN",
		DomainName: r.Host, ConnectedAt: connectedAt.UnixMilli(), RequestTimeEpoch: now.UnixMilli(),
		RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		Identity:    events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
	}
}

// accept runs the authorizer and $connect, and only then completes the handshake, as API
// Gateway does: a refused $connect never becomes a connection.
func (g *WebSocket) accept(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	connID := newConnectionID()
	connectedAt := time.Now()
	query := flatten(r.URL.Query(), false)
	headers := flatten(r.Header, false)
	// The $connect authorizer's identity source is the token query parameter: without it API
	// Gateway answers 401 without invoking the authorizer.
	if query["token"] == "" {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	rc := g.requestContext(r, connID, "$connect", "CONNECT", connectedAt)
	areq := events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST",
		MethodArn: "arn:aws:execute-api:" + region + ":" + accountID + ":" + apiID + "/" + wsStage + "/$connect",
		Resource:  "$connect", Path: "/", HTTPMethod: "GET", Headers: headers, QueryStringParameters: query,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{AccountID: accountID, APIID: apiID,
			Stage: wsStage, RequestID: rc.RequestID}}
	raw, _ := json.Marshal(areq)
	out, err := g.Authorizer(ctx, raw)
	if err != nil {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	b, _ := json.Marshal(out)
	var policy events.APIGatewayCustomAuthorizerResponse
	if json.Unmarshal(b, &policy) != nil || len(policy.PolicyDocument.Statement) == 0 || policy.PolicyDocument.Statement[0].Effect != "Allow" {
		http.Error(w, `{"message":"Forbidden"}`, http.StatusForbidden)
		return
	}
	authz := map[string]any{"principalId": policy.PrincipalID}
	for k, v := range policy.Context {
		authz[k] = v
	}
	rc.Authorizer = authz
	resp, err := g.Handler(ctx, events.APIGatewayWebsocketProxyRequest{Headers: headers, QueryStringParameters: query, RequestContext: rc})
	if err != nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		status := resp.StatusCode
		if err != nil || status == 0 {
			status = http.StatusInternalServerError
		}
		http.Error(w, resp.Body, status)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		g.disconnect(context.WithoutCancel(ctx), r, connID, connectedAt, authz)
		return
	}
	c.SetReadLimit(128 << 10) // API Gateway's WebSocket frame limit
	life := g.MaxLifetime
	if life == 0 {
		life = 2 * time.Hour
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), life)
	wc := &wsConn{id: connID, c: c, connectedAt: connectedAt, lastActive: connectedAt, sourceIP: sourceIP(r),
		userAgent: r.UserAgent(), authorizer: authz, cancel: cancel}
	g.mu.Lock()
	if g.conns == nil {
		g.conns = map[string]*wsConn{}
	}
	g.conns[connID] = wc
	g.mu.Unlock()
	g.readLoop(cctx, r, wc)
	cancel()
	g.mu.Lock()
	delete(g.conns, connID)
	g.mu.Unlock()
	c.Close(websocket.StatusNormalClosure, "")
	g.disconnect(context.WithoutCancel(ctx), r, connID, connectedAt, authz)
}

func (g *WebSocket) readLoop(ctx context.Context, r *http.Request, wc *wsConn) {
	for {
		typ, data, err := wc.c.Read(ctx)
		if err != nil {
			return
		}
		g.mu.Lock()
		wc.lastActive = time.Now()
		g.mu.Unlock()
		rc := g.requestContext(r, wc.id, "$default", "MESSAGE", wc.connectedAt)
		rc.Authorizer = wc.authorizer
		req := events.APIGatewayWebsocketProxyRequest{RequestContext: rc, Body: string(data)}
		if typ == websocket.MessageBinary {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(data), true
		}
		resp, err := g.Handler(ctx, req)
		if err != nil {
			g.Log.Error("websocket $default failed", slog.String("error", err.Error()))
			continue
		}
		if resp.Body != "" { // the $default route response
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = wc.c.Write(wctx, websocket.MessageText, []byte(resp.Body))
			cancel()
		}
	}
}

func (g *WebSocket) disconnect(ctx context.Context, r *http.Request, connID string, connectedAt time.Time, authz map[string]any) {
	rc := g.requestContext(r, connID, "$disconnect", "DISCONNECT", connectedAt)
	rc.Authorizer = authz
	if _, err := g.Handler(ctx, events.APIGatewayWebsocketProxyRequest{RequestContext: rc}); err != nil {
		g.Log.Error("websocket $disconnect failed", slog.String("error", err.Error()))
	}
}

func (g *WebSocket) lookup(id string) *wsConn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[id]
}

func managementError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// manage serves the management API the notifier calls through the real SDK client.
func (g *WebSocket) manage(w http.ResponseWriter, r *http.Request, id string) {
	wc := g.lookup(id)
	if r.Method == http.MethodPost && g.PostFault != nil {
		if status := g.PostFault(id); status != 0 {
			typ := "InternalServerErrorException"
			switch status {
			case http.StatusGone:
				typ = "GoneException"
			case http.StatusTooManyRequests:
				typ = "LimitExceededException"
			}
			managementError(w, status, typ, "injected fault")
			return
		}
	}
	if wc == nil {
		managementError(w, http.StatusGone, "GoneException", "the connection is gone")
		return
	}
	switch r.Method {
	case http.MethodPost:
		data, err := io.ReadAll(io.LimitReader(r.Body, 128<<10+1))
		if err != nil || len(data) > 128<<10 {
			managementError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload too large")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := wc.c.Write(ctx, websocket.MessageText, data); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				managementError(w, http.StatusInternalServerError, "InternalServerErrorException", "write timed out")
				return
			}
			managementError(w, http.StatusGone, "GoneException", "the connection is gone")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		g.mu.Lock()
		body := map[string]any{"connectedAt": wc.connectedAt.UTC().Format(time.RFC3339Nano),
			"lastActiveAt": wc.lastActive.UTC().Format(time.RFC3339Nano),
			"identity":     map[string]string{"sourceIp": wc.sourceIP, "userAgent": wc.userAgent}}
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	case http.MethodDelete:
		wc.cancel()
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		managementError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "method "+r.Method+" not allowed ("+strconv.Itoa(http.StatusMethodNotAllowed)+")")
	}
}

// CloseAll ends every open connection (each runs $disconnect as it closes).
func (g *WebSocket) CloseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.cancel()
	}
}

package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ids"
	"streamspace/internal/routes"
	"streamspace/internal/sessions"
)

// WebSocket serves the WebSocket API routes.
type WebSocket struct {
	Conns    *Store
	Sessions *sessions.Store
	Access   *access.Decider
	Log      *slog.Logger
	Now      func() time.Time
}

func (h *WebSocket) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func reply(status int, body any) events.APIGatewayProxyResponse {
	b, _ := json.Marshal(body)
	return events.APIGatewayProxyResponse{StatusCode: status, Body: string(b)}
}

// CallerFromWebSocket reads the authorizer context API Gateway attaches to every WebSocket event.
func CallerFromWebSocket(rc events.APIGatewayWebsocketProxyRequestContext) (auth.Caller, error) {
	m, _ := rc.Authorizer.(map[string]any)
	return auth.FromAuthorizerContext(m)
}

// Handle dispatches on the route key.
func (h *WebSocket) Handle(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := req.RequestContext
	switch rc.RouteKey {
	case "$connect":
		return h.connect(ctx, req)
	case "$disconnect":
		if err := h.Conns.Remove(ctx, rc.ConnectionID); err != nil {
			h.Log.ErrorContext(ctx, "disconnect", slog.String("connectionId", rc.ConnectionID), slog.String("error", err.Error()))
			return reply(http.StatusInternalServerError, nil), nil
		}
		return reply(http.StatusOK, nil), nil
	default:
		return h.message(ctx, req), nil
	}
}

// audiences decides, at $connect, what the connection listens to: by default everything the
// user may see; user_id= another user's sessions (operators and admins only); session_id= one
// session the user may view.
func (h *WebSocket) audiences(ctx context.Context, c auth.Caller, q map[string]string) ([]string, int, string) {
	userID, sessionID := q["user_id"], q["session_id"]
	var out []string
	if userID != "" {
		if userID != c.UserID && !c.IsOperator() {
			return nil, http.StatusForbidden, "user_id: only operators and admins may watch another user"
		}
		out = append(out, UserAudience(userID))
	}
	if sessionID != "" {
		if ok, err := h.canView(ctx, c, sessionID); err != nil {
			return nil, http.StatusInternalServerError, "internal error"
		} else if !ok {
			return nil, http.StatusNotFound, "session_id: session not found"
		}
		out = append(out, SessionAudience(sessionID))
	}
	if len(out) == 0 {
		out = append(out, UserAudience(c.UserID))
	}
	return out, 0, ""
}

func (h *WebSocket) canView(ctx context.Context, c auth.Caller, sessionID string) (bool, error) {
	if !ids.Valid("sess", sessionID) {
		return false, nil
	}
	se, err := h.Sessions.Get(ctx, sessionID)
	if errors.Is(err, sessions.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	g, err := h.Access.Decide(ctx, c, access.Subject{SessionID: se.ID, OwnerID: se.OwnerID, TeamID: se.TeamID})
	return g.Level >= access.View, err
}

func (h *WebSocket) connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	c, err := CallerFromWebSocket(req.RequestContext)
	if err != nil {
		return reply(http.StatusUnauthorized, map[string]string{"message": "unauthorized"}), nil
	}
	// Events are about sessions (and the teams and keys around them): a key receives them only
	// with the scope that reads sessions (SEC-06).
	if !c.HasScope(routes.ScopeSessionsRead) {
		return reply(http.StatusForbidden, map[string]string{"message": "this API key lacks the sessions:read scope events need"}), nil
	}
	auds, status, msg := h.audiences(ctx, c, req.QueryStringParameters)
	if status != 0 {
		return reply(status, map[string]string{"message": msg}), nil
	}
	// Each event costs a post per connection of its recipients: one user's connections are
	// bounded, so nobody can make the notifier's work for everyone grow without end (U-2).
	if n, err := h.Conns.Count(ctx, c.UserID, h.now()); err != nil {
		h.Log.ErrorContext(ctx, "connect", slog.String("error", err.Error()))
		return reply(http.StatusInternalServerError, nil), nil
	} else if n >= MaxPerUser {
		return reply(http.StatusTooManyRequests, map[string]string{"message": fmt.Sprintf("at most %d WebSocket connections per user: close one first", MaxPerUser)}), nil
	}
	l := Listener{ConnectionID: req.RequestContext.ConnectionID, UserID: c.UserID, Role: c.Role, KeyID: c.KeyID}
	auds = append(auds, OpenedBy(c.UserID))
	if c.ViaAPIKey() {
		auds = append(auds, KeyAudience(c.KeyID))
	}
	if err := h.Conns.Add(ctx, l, auds, h.now()); err != nil {
		h.Log.ErrorContext(ctx, "connect", slog.String("error", err.Error()))
		return reply(http.StatusInternalServerError, nil), nil
	}
	h.Log.InfoContext(ctx, "connected", slog.String("connectionId", l.ConnectionID), slog.String("callerId", c.UserID))
	return reply(http.StatusOK, nil), nil
}

// message answers client actions; the response body is sent back on the connection
// (the $default route has a route response).
func (h *WebSocket) message(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) events.APIGatewayProxyResponse {
	var msg struct {
		Action    string `json:"action"`
		SessionID string `json:"sessionId"`
	}
	if len(req.Body) > 4096 || json.Unmarshal([]byte(req.Body), &msg) != nil {
		return reply(http.StatusOK, map[string]string{"type": "error", "message": "messages are JSON objects with an action"})
	}
	c, err := CallerFromWebSocket(req.RequestContext)
	if err != nil {
		return reply(http.StatusOK, map[string]string{"type": "error", "message": "unauthorized"})
	}
	connID := req.RequestContext.ConnectionID
	switch msg.Action {
	case "ping":
		return reply(http.StatusOK, map[string]any{"type": "pong", "timestamp": h.now().UTC()})
	case "subscribe", "unsubscribe":
		if msg.SessionID == "" {
			return reply(http.StatusOK, map[string]string{"type": "error", "message": "sessionId is required"})
		}
		if msg.Action == "unsubscribe" {
			if err := h.Conns.Unsubscribe(ctx, connID, SessionAudience(msg.SessionID)); err != nil {
				return h.internal(ctx, err)
			}
			return reply(http.StatusOK, map[string]string{"type": "unsubscribed", "sessionId": msg.SessionID})
		}
		ok, err := h.canView(ctx, c, msg.SessionID)
		if err != nil {
			return h.internal(ctx, err)
		}
		if !ok {
			return reply(http.StatusOK, map[string]string{"type": "error", "message": "session not found", "sessionId": msg.SessionID})
		}
		l := Listener{ConnectionID: connID, UserID: c.UserID, Role: c.Role}
		if err := h.Conns.Subscribe(ctx, l, SessionAudience(msg.SessionID), h.now()); err != nil {
			return h.internal(ctx, err)
		}
		return reply(http.StatusOK, map[string]string{"type": "subscribed", "sessionId": msg.SessionID})
	}
	return reply(http.StatusOK, map[string]string{"type": "error", "message": "unknown action; use ping, subscribe or unsubscribe"})
}

func (h *WebSocket) internal(ctx context.Context, err error) events.APIGatewayProxyResponse {
	h.Log.ErrorContext(ctx, "websocket message", slog.String("error", err.Error()))
	return reply(http.StatusOK, map[string]string{"type": "error", "message": "internal error"})
}

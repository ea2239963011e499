package testenv

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Message is one received notification.
type Message struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	SessionID string         `json:"sessionId"`
	UserID    string         `json:"userId"`
	TeamID    string         `json:"teamId"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
	Raw       []byte         `json:"-"`
	Received  time.Time      `json:"-"`
}

// WS is a real WebSocket client of the local WebSocket API.
type WS struct {
	T    testing.TB
	Conn *websocket.Conn
	Msgs chan Message
}

// DialWS connects with a token and extra query parameters; it returns the handshake status
// when the connection is refused.
func (e *Env) DialWS(token string, query url.Values) (*WS, int, error) {
	return e.DialWSAt(e.WSURL+"/", token, query)
}

// DialWSAt is DialWS to another address of the WebSocket API (the console's origin's /ws).
func (e *Env) DialWSAt(base, token string, query url.Values) (*WS, int, error) {
	if query == nil {
		query = url.Values{}
	}
	if token != "" {
		query.Set("token", token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, base+"?"+query.Encode(), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c.SetReadLimit(1 << 20)
	ws := &WS{T: e.T, Conn: c, Msgs: make(chan Message, 10000)}
	go func() {
		defer close(ws.Msgs)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m Message
			_ = json.Unmarshal(data, &m)
			m.Raw, m.Received = data, time.Now()
			ws.Msgs <- m
		}
	}()
	e.T.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return ws, http.StatusSwitchingProtocols, nil
}

// MustDialWS connects or fails the test.
func (e *Env) MustDialWS(token string, query url.Values) *WS {
	e.T.Helper()
	ws, status, err := e.DialWS(token, query)
	if err != nil {
		e.T.Fatalf("websocket dial: status %d: %v", status, err)
	}
	return ws
}

// Send writes a JSON message.
func (w *WS) Send(v any) {
	w.T.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		w.T.Fatalf("websocket write: %v", err)
	}
}

// Expect waits for the next message of the given type (for the session, if not ""),
// skipping others; it fails the test after timeout.
func (w *WS) Expect(typ, sessionID string, timeout time.Duration) Message {
	w.T.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-w.Msgs:
			if !ok {
				w.T.Fatalf("connection closed while waiting for %s", typ)
			}
			if m.Type == typ && (sessionID == "" || m.SessionID == sessionID) {
				return m
			}
		case <-deadline:
			w.T.Fatalf("no %s for %q within %v", typ, sessionID, timeout)
		}
	}
}

// Drain returns every message received within d.
func (w *WS) Drain(d time.Duration) []Message {
	var out []Message
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-w.Msgs:
			if !ok {
				return out
			}
			out = append(out, m)
		case <-deadline:
			return out
		}
	}
}

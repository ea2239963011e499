package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"streamspace/internal/rfb"
	"streamspace/internal/tickets"
)

// Ticket asks for a ticket for tok (POST …/connect) and returns it; a refused connect is an
// error to the caller, not a failed test (benchmarks ask from many goroutines).
func (e *Env) Ticket(tok, sessionID string) (string, error) {
	var c struct{ URL string }
	r := e.Do("POST", "/api/v1/sessions/"+sessionID+"/connect", tok, nil)
	if r.Status != 200 {
		return "", fmt.Errorf("connect: %d %s", r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &c); err != nil {
		return "", err
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", err
	}
	v, _ := url.ParseQuery(u.Fragment)
	if v.Get("ticket") == "" {
		return "", fmt.Errorf("connect URL %q carries no ticket", c.URL)
	}
	return v.Get("ticket"), nil
}

// DialGateway opens a viewer WebSocket to the gateway with a ticket, as the viewer page does.
func (e *Env) DialGateway(sessionID, ticket string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+e.GatewayAddr+"/gateway/ws/"+sessionID,
		&websocket.DialOptions{Subprotocols: []string{"binary", tickets.Protocol + ticket}})
	if err == nil {
		ws.SetReadLimit(64 << 20)
	}
	return ws, err
}

// Stream opens a stream through the gateway with a ticket and completes the RFB handshake: the
// connection speaks RFB to the desktop, through the gateway.
func (e *Env) Stream(sessionID, ticket string) (net.Conn, rfb.ServerInit, error) {
	ws, err := e.DialGateway(sessionID, ticket)
	if err != nil {
		return nil, rfb.ServerInit{}, err
	}
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	init, err := rfb.Dial(conn, "")
	if err != nil {
		conn.Close()
		return nil, rfb.ServerInit{}, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, init, rfb.Setup(conn)
}

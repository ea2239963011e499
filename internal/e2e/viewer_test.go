package e2e

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"streamspace/internal/access"
	"streamspace/internal/gateway"
	"streamspace/internal/rfb"
	rt "streamspace/internal/runtime"
	"streamspace/internal/sessions"
	"streamspace/internal/testenv"
)

// viewer is a Go stand-in for noVNC: it opens a stream through the gateway with a ticket, as
// the viewer page does, and reads the desktop's picture.
type viewer struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	fb   *rfb.Framebuffer
	init rfb.ServerInit
}

// connectURL asks for a ticket and returns the connect answer.
func connectURL(t testing.TB, e *testenv.Env, tok, id string) (string, string) {
	t.Helper()
	var c struct{ URL, ConnectionID string }
	e.Do("POST", "/api/v1/sessions/"+id+"/connect", tok, nil).Want(t, 200).Decode(t, &c)
	return c.URL, c.ConnectionID
}

// ticketOf takes the ticket out of a connect URL's fragment.
func ticketOf(t testing.TB, connect string) string {
	t.Helper()
	u, err := url.Parse(connect)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := url.ParseQuery(u.Fragment)
	if v.Get("ticket") == "" {
		t.Fatalf("connect URL %q carries no ticket", connect)
	}
	return v.Get("ticket")
}

// dialGateway opens the viewer WebSocket with a ticket (no RFB yet).
func dialGateway(e *testenv.Env, sessionID, ticket string) (*websocket.Conn, error) {
	return e.DialGateway(sessionID, ticket)
}

// openViewer connects as tok and completes the RFB handshake through the gateway.
func openViewer(t testing.TB, e *testenv.Env, tok, id string) *viewer {
	t.Helper()
	connect, _ := connectURL(t, e, tok, id)
	return openTicket(t, e, id, ticketOf(t, connect))
}

func openTicket(t testing.TB, e *testenv.Env, id, ticket string) *viewer {
	t.Helper()
	conn, init, err := e.Stream(id, ticket)
	if err != nil {
		t.Fatalf("RFB through the gateway: %v (%s)", err, closeReason(err))
	}
	v := &viewer{t: t, conn: conn, init: init, r: bufio.NewReader(conn), fb: rfb.NewFramebuffer(int(init.Width), int(init.Height))}
	t.Cleanup(func() { v.conn.Close() })
	return v
}

// refusedWith expects the gateway to close a fresh viewer WebSocket with code.
func refusedWith(t testing.TB, e *testenv.Env, id, ticket string, code int) string {
	t.Helper()
	ws, err := dialGateway(e, id, ticket)
	if err != nil {
		t.Fatalf("viewer WebSocket: %v", err)
	}
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, err = rfb.Dial(conn, "")
	if got := websocket.CloseStatus(err); int(got) != code {
		t.Fatalf("stream with this ticket: %v, want closed with %d", err, code)
	}
	return closeReason(err)
}

func closeReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

// frame asks for a full update and reads until the picture shows more than minColours
// colours (the application has drawn) or within passes.
func (v *viewer) frame(minColours int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := v.conn.Write(rfb.UpdateRequest(false, 0, 0, v.init.Width, v.init.Height)); err != nil {
			return err
		}
		_ = v.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			t, err := v.fb.ReadServerMessage(v.r)
			if err != nil {
				return err
			}
			if t == rfb.MsgFramebufferUpdate {
				break
			}
		}
		if rfb.Distinct(v.fb.Image, minColours+1) > minColours {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the desktop stayed blank")
}

// typeText sends key presses as noVNC would (keysyms; ASCII keysyms are the characters).
func (v *viewer) typeText(s string) {
	v.t.Helper()
	// Without a window manager, keyboard focus follows the pointer: put it on the window
	// (applications open at the top left).
	if _, err := v.conn.Write(rfb.PointerEvent(0, 20, 20)); err != nil {
		v.t.Fatal(err)
	}
	for _, r := range s {
		sym := uint32(r)
		if r == '\n' {
			sym = 0xff0d // Return
		}
		for _, down := range []bool{true, false} {
			if _, err := v.conn.Write(rfb.KeyEvent(down, sym)); err != nil {
				v.t.Fatalf("typing: %v", err)
			}
		}
	}
}

// closedWithin waits for the gateway to close the stream and returns the close code.
func (v *viewer) closedWithin(d time.Duration) (int, string, time.Duration) {
	start := time.Now()
	_ = v.conn.SetReadDeadline(start.Add(d))
	buf := make([]byte, 64<<10)
	for {
		// Keep asking for updates so a live stream keeps talking; only a close ends this.
		_, _ = v.conn.Write(rfb.UpdateRequest(true, 0, 0, 1, 1))
		if _, err := v.conn.Read(buf); err != nil {
			return int(websocket.CloseStatus(err)), closeReason(err), time.Since(start)
		}
	}
}

// alive reports whether the stream still answers an update request.
func (v *viewer) alive() error {
	return v.frame(0, 5*time.Second)
}

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// openAsGateway gets a ticket for tok and opens its connection exactly as the gateway does,
// for stacks that run no desktops: the session gets a (never dialled) desktop address first.
// The session must already be running.
func openAsGateway(t testing.TB, e *testenv.Env, tok, id string) string {
	t.Helper()
	ctx := rt.WithActor(context.Background())
	se, err := e.App.SessionStore().Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if se.Runtime == nil || se.Runtime.Upstream == "" {
		next := sessions.Runtime{Action: sessions.ActionStart, Secret: "testpass", Upstream: "unix:/nonexistent/vnc.sock"}
		if _, err := e.App.Sessions().ApplyRuntime(ctx, rt.Caller, id, sessions.RuntimeUpdate{Runtime: next}); err != nil {
			t.Fatal(err)
		}
	}
	connect, connID := connectURL(t, e, tok, id)
	claims, err := e.App.Tickets.Verify(ticketOf(t, connect), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	level, _ := access.ParseLevel(claims.Level)
	a := &gateway.Authority{Sessions: e.App.Sessions(), Users: e.App.Users(), Keys: e.App.APIKeys().Store, Access: e.App.Access}
	if _, ref, err := a.Open(context.Background(), claims, level); ref != nil || err != nil {
		t.Fatalf("open %s's connection: %v %v", claims.UserID, ref, err)
	}
	return connID
}

package gateway

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsPair returns the two ends of a real WebSocket: the gateway's (server) and the viewer's.
func wsPair(t *testing.T) (*websocket.Conn, net.Conn) {
	t.Helper()
	accepted := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		accepted <- ws
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	viewer := websocket.NetConn(context.Background(), client, websocket.MessageBinary)
	t.Cleanup(func() { viewer.Close() })
	return <-accepted, viewer
}

// Whatever the desktop sends reaches the viewer whole and in order — bursts larger than the
// copy buffer, single bytes, pauses in between — through a TCP desktop connection (the copy
// waits for its socket without a buffer) and a connection that exposes no socket (the copy
// keeps a small buffer); when the desktop goes, the stream closes with the desktop's reason.
func TestToViewerCopiesEverything(t *testing.T) {
	for _, kind := range []string{"tcp", "pipe"} {
		t.Run(kind, func(t *testing.T) {
			var desk, desktop net.Conn
			switch kind {
			case "tcp":
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				if desk, err = net.Dial("tcp", ln.Addr().String()); err != nil {
					t.Fatal(err)
				}
				if desktop, err = ln.Accept(); err != nil {
					t.Fatal(err)
				}
				if readable(desk) == nil {
					t.Fatal("a TCP connection exposes its socket: readable must wait on it")
				}
			case "pipe":
				desk, desktop = net.Pipe()
				if readable(desk) != nil {
					t.Fatal("net.Pipe has no socket")
				}
			}
			ws, viewer := wsPair(t)
			st := &Stream{ws: ws, desk: desk, done: make(chan struct{}),
				ended: func() *Refusal { return refuse(CodeUnreachable, "the desktop closed the connection") }}
			go st.toViewer()

			var sent bytes.Buffer
			var chunks [][]byte
			for i, n := range []int{1, 100, copyBuf, 3 * copyBuf, 1, smallBuf, smallBuf + 1, 7, 5 * copyBuf / 2} {
				p := make([]byte, n)
				for j := range p {
					p[j] = byte(i*31 + j)
				}
				chunks = append(chunks, p)
				sent.Write(p)
			}
			go func() {
				for i, p := range chunks {
					if _, err := desktop.Write(p); err != nil {
						return
					}
					if i%3 == 0 {
						time.Sleep(20 * time.Millisecond) // the socket drains: the copy waits again
					}
				}
				desktop.Close()
			}()
			_ = viewer.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(viewer)
			if code := websocket.CloseStatus(err); code != CodeUnreachable {
				t.Fatalf("stream ended with %v (code %d), want the desktop's reason %d", err, code, CodeUnreachable)
			}
			if !bytes.Equal(got, sent.Bytes()) {
				t.Fatalf("the viewer got %d bytes, the desktop sent %d (or they differ)", len(got), sent.Len())
			}
			if st.bytesOut.Load() != int64(sent.Len()) {
				t.Fatalf("bytesOut %d, want %d", st.bytesOut.Load(), sent.Len())
			}
		})
	}
}

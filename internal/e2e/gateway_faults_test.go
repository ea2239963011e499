package e2e

import (
	"context"
	"crypto/rand"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"streamspace/internal/rfb"
	rt "streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// Bad input never takes the gateway down or disturbs other streams: garbage instead of RFB,
// 10 MB of junk, a clipboard message announcing 10 MB, a desktop that does not speak RFB, and
// a thousand connections without a ticket.
func TestGatewaySurvivesBadInput(t *testing.T) {
	e := startLocal(t)
	alice := e.Token("alice", "")
	s := runningTerminal(t, e, alice, nil)
	good := openViewer(t, e, alice, s.ID)
	if err := good.frame(1, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	t.Run("garbage instead of the RFB handshake", func(t *testing.T) {
		ws, err := dialGateway(e, s.ID, ticketOf(t, mustConnect(t, e, alice, s.ID)))
		if err != nil {
			t.Fatal(err)
		}
		c := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		hello := make([]byte, 12)
		if _, err := c.Read(hello); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		if code := readUntilClosed(c); code != 4400 {
			t.Fatalf("closed with %d, want 4400", code)
		}
	})
	t.Run("10 MB of junk", func(t *testing.T) {
		v := openViewer(t, e, alice, s.ID)
		junk := make([]byte, 10<<20)
		_, _ = rand.Read(junk)
		junk[0] = 77 // no such message type
		go func() { _, _ = v.conn.Write(junk) }()
		if code := readUntilClosed(v.conn); code != 4400 {
			t.Fatalf("closed with %d, want 4400", code)
		}
	})
	t.Run("a clipboard message announcing 10 MB", func(t *testing.T) {
		v := openViewer(t, e, alice, s.ID)
		_, _ = v.conn.Write([]byte{rfb.MsgClientCutText, 0, 0, 0, 0, 0xa0, 0, 0})
		if code := readUntilClosed(v.conn); code != 4400 {
			t.Fatalf("closed with %d, want 4400", code)
		}
	})
	t.Run("a desktop that does not speak RFB", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
				c.Close()
			}
		}()
		fake := create(t, e, alice, map[string]any{"templateName": "terminal", "persistentHome": false})
		t.Cleanup(func() { e.Do("DELETE", "/api/v1/sessions/"+fake.ID, alice, nil) })
		waitUntil(t, startWait, "the session's start was recorded", func() bool {
			se, err := e.App.SessionStore().Get(context.Background(), fake.ID)
			return err == nil && se.State == sessions.StateRunning
		})
		se, _ := e.App.SessionStore().Get(context.Background(), fake.ID)
		next := *se.Runtime
		next.Upstream = "tcp:" + ln.Addr().String()
		if _, err := e.App.Sessions().ApplyRuntime(rt.WithActor(context.Background()), rt.Caller, fake.ID,
			sessions.RuntimeUpdate{Runtime: next}); err != nil {
			t.Fatal(err)
		}
		refusedWith(t, e, fake.ID, ticketOf(t, mustConnect(t, e, alice, fake.ID)), 4502)
		var got struct{ ActiveConnections int }
		e.Do("GET", "/api/v1/sessions/"+fake.ID, alice, nil).Want(t, 200).Decode(t, &got)
		if got.ActiveConnections != 0 {
			t.Fatalf("activeConnections %d after a refused stream, want 0", got.ActiveConnections)
		}
	})
	t.Run("a thousand connections without a ticket", func(t *testing.T) {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutines := runtime.NumGoroutine()
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		var mu sync.Mutex
		codes := map[int]int{}
		for i := 0; i < 1000; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				code := -1
				if ws, err := dialGateway(e, s.ID, "junk"); err == nil {
					c := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
					code = readUntilClosed(c)
					c.Close()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[4401] != 1000 {
			t.Fatalf("close codes of 1000 connections without a valid ticket: %v, want all 4401", codes)
		}
		if err := good.alive(); err != nil {
			t.Fatalf("the real stream during the flood: %v", err)
		}
		waitUntil(t, 10*time.Second, "the flood's goroutines ended", func() bool { return runtime.NumGoroutine() <= goroutines+20 })
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
			t.Fatalf("heap grew by %d MiB over the flood", grew>>20)
		}
	})
	if err := good.alive(); err != nil {
		t.Fatalf("the real stream after all of it: %v", err)
	}
}

// readUntilClosed reads until the gateway closes and returns the close code.
func readUntilClosed(c net.Conn) int {
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return int(websocket.CloseStatus(err))
		}
	}
}

package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"streamspace/internal/access"
	"streamspace/internal/rfb"
	"streamspace/internal/tickets"
)

// Stream is one viewer's connection: a WebSocket from the browser, an RFB connection to the
// desktop, and the viewer's level, which decides what of the viewer's messages pass.
type Stream struct {
	ticket   tickets.Claims
	level    access.Level
	upstream string
	ws       *websocket.Conn
	desk     net.Conn
	opened   time.Time

	bytesIn, bytesOut atomic.Int64 // viewer → desktop (what passed), desktop → viewer
	pinged            time.Time    // the last WebSocket ping (the watcher's alone)
	lastInput         atomic.Int64 // unix seconds of the last input that reached the desktop

	// ended says why the desktop went away (the session stopping, or a fault).
	ended func() *Refusal

	once   sync.Once
	reason *Refusal
	done   chan struct{}
}

// Close ends the stream with a reason the viewer sees; the first reason wins.
func (s *Stream) Close(r *Refusal) {
	s.once.Do(func() {
		s.reason = r
		close(s.done)
		_ = s.ws.Close(websocket.StatusCode(r.Code), r.Reason)
		_ = s.desk.Close()
	})
}

// copyBuf is the size of the desktop → viewer copy buffer: large enough for throughput, small
// enough that thousands of idle viewers fit in little memory.
const copyBuf = 32 << 10

// run proxies until either side ends or Close is called; it returns the reason.
func (s *Stream) run(ctx context.Context, viewer net.Conn, viewerR *bufio.Reader) *Refusal {
	go func() {
		buf := make([]byte, copyBuf)
		for {
			n, err := s.desk.Read(buf)
			if n > 0 {
				if _, werr := viewer.Write(buf[:n]); werr != nil {
					s.Close(refuse(int(websocket.StatusNormalClosure), "viewer went away"))
					return
				}
				s.bytesOut.Add(int64(n))
			}
			if err != nil {
				s.Close(s.ended())
				return
			}
		}
	}()
	for {
		m, err := rfb.ReadClientMessage(viewerR)
		if err != nil {
			switch {
			case errors.Is(err, rfb.ErrUnknownMessage), errors.Is(err, rfb.ErrTooLarge):
				s.Close(refuse(CodeProtocol, "the viewer sent something the gateway does not accept: "+err.Error()))
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
				s.Close(refuse(int(websocket.StatusNormalClosure), "viewer closed"))
			default:
				s.Close(refuse(int(websocket.StatusNormalClosure), "viewer went away"))
			}
			break
		}
		m, pass := s.filter(m)
		if !pass {
			continue
		}
		if _, err := s.desk.Write(m.Raw); err != nil {
			s.Close(refuse(CodeUnreachable, "the desktop closed the connection"))
			break
		}
		s.bytesIn.Add(int64(len(m.Raw)))
		if m.Input() {
			s.lastInput.Store(time.Now().Unix())
		}
	}
	<-s.done
	return s.reason
}

// filter applies the viewer's level to one message: a view connection reaches the desktop with
// nothing but what it asks to see; power operations need control. Extended mouse buttons are
// never negotiated, so pointer events keep their fixed length and parsing stays exact.
func (s *Stream) filter(m rfb.ClientMessage) (rfb.ClientMessage, bool) {
	view := s.level < access.Collaborate
	switch {
	case m.Type == rfb.MsgSetEncodings:
		return m.WithoutEncodings(func(e int32) bool {
			return e == rfb.EncExtendedMouseButtons || (view && (e == rfb.EncExtendedClipboard || e == rfb.EncXvp))
		}), true
	case m.Type == rfb.MsgXvp:
		return m, s.level >= access.Control
	case m.Input():
		return m, !view
	}
	return m, true
}

// ping keeps an idle stream open through load balancers (an ALB drops a connection silent for
// 60 s). A missing pong closes nothing: a viewer busy elsewhere may answer late, and one that
// vanished is found by TCP (keep-alive, failed writes).
func (s *Stream) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.ws.Ping(ctx)
}

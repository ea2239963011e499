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

// Desktop → viewer copying holds no buffer while the desktop is quiet: the copy waits until the
// desktop's socket is readable (readable), reads into a buffer from a pool and sends what it
// read as one WebSocket message; when a read finds the socket drained, the buffer goes back to
// the pool before the next wait. So thousands of idle viewers cost no copy buffer, and a busy
// stream can read and send up to copyBuf at a time: 64 KiB, what websockify reads (larger
// messages cost the gateway and the viewer less per byte than the 32 KiB every stream used to
// keep; larger than 64 KiB measured no better, and a stream with a slow viewer holds its buffer
// while the write waits). A desktop connection that does not expose its socket gets a small
// buffer of its own and a pooled one only while reads fill the small one.
const (
	copyBuf  = 64 << 10
	smallBuf = 4 << 10
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

// clientMsgBuf holds the viewer's usual messages (pointer, keys, update requests, encodings)
// so they are read without an allocation each; clipboard text beyond it gets its own.
const clientMsgBuf = 512

// run proxies until either side ends or Close is called; it returns the reason.
func (s *Stream) run(ctx context.Context, viewerR *bufio.Reader) *Refusal {
	go s.toViewer()
	msgBuf := make([]byte, clientMsgBuf)
	for {
		m, err := rfb.ReadClientMessageInto(viewerR, msgBuf)
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

// toViewer copies what the desktop sends to the viewer until either fails. It writes to the
// WebSocket itself rather than through the viewer's net.Conn adapter, whose per-write deadline
// machinery allocates on every message; nothing sets a write deadline once the stream runs, and
// Close ends a blocked write either way (it closes the WebSocket).
func (s *Stream) toViewer() {
	wait := readable(s.desk)
	var (
		large   *[]byte
		small   []byte
		drained = true
	)
	defer func() {
		if large != nil {
			copyBufs.Put(large)
		}
	}()
	for {
		if drained && large != nil {
			copyBufs.Put(large)
			large = nil
		}
		if drained && wait != nil {
			if err := wait(); err != nil {
				s.Close(s.ended())
				return
			}
		}
		var buf []byte
		switch {
		case large != nil:
			buf = *large
		case wait != nil || !drained:
			large = copyBufs.Get().(*[]byte)
			buf = *large
		default:
			if small == nil {
				small = make([]byte, smallBuf)
			}
			buf = small
		}
		n, err := s.desk.Read(buf)
		if n > 0 {
			if werr := s.ws.Write(context.Background(), websocket.MessageBinary, buf[:n]); werr != nil {
				s.Close(refuse(int(websocket.StatusNormalClosure), "viewer went away"))
				return
			}
			s.bytesOut.Add(int64(n))
		}
		if err != nil {
			s.Close(s.ended())
			return
		}
		drained = n < len(buf)
	}
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

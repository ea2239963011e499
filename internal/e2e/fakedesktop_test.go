package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"streamspace/internal/rfb"
)

// fakeDesktop is a small RFB server standing in for a desktop's VNC server in benchmarks: it
// speaks RFB 3.8 with VNC authentication and sends a ServerInit, then answers what a client
// asks for in ClientCutText messages (the one viewer message that carries free bytes, so it
// passes the gateway's parser unchanged):
//
//   - "SEND" + uint64 n: it streams n bytes to the client as fast as it can (desktop → viewer
//     throughput; the bytes are not RFB messages, which no proxy looks at in that direction);
//   - "RECV" + uint64 n: it reads the next n bytes the client sends and answers one byte
//     (viewer → desktop throughput);
//   - any other clipboard text: it echoes the whole message back (round-trip latency).
//
// Other messages are read and ignored.
type fakeDesktop struct {
	ln       net.Listener
	password string
	chunk    []byte

	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startFakeDesktop(t testing.TB, password string) *fakeDesktop {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDesktop{ln: ln, password: password, chunk: make([]byte, 64<<10), conns: map[net.Conn]bool{}}
	for i := range f.chunk {
		f.chunk[i] = byte(i * 7)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns[c] = true
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				_ = f.serve(c)
				c.Close()
				f.mu.Lock()
				delete(f.conns, c)
				f.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(f.Close)
	return f
}

// Addr is the server's address (host:port).
func (f *fakeDesktop) Addr() string { return f.ln.Addr().String() }

// Close stops the server and ends every connection.
func (f *fakeDesktop) Close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// Conns is the number of client connections the server holds.
func (f *fakeDesktop) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *fakeDesktop) handshake(c net.Conn) error {
	if _, err := c.Write([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	var ver [12]byte
	if _, err := io.ReadFull(c, ver[:]); err != nil {
		return err
	}
	if _, err := c.Write([]byte{1, rfb.SecVNCAuth}); err != nil {
		return err
	}
	var choice [1]byte
	if _, err := io.ReadFull(c, choice[:]); err != nil {
		return err
	}
	if choice[0] != rfb.SecVNCAuth {
		return errors.New("fake desktop: client chose another security type")
	}
	challenge := make([]byte, 16)
	_, _ = rand.Read(challenge)
	if _, err := c.Write(challenge); err != nil {
		return err
	}
	resp := make([]byte, 16)
	if _, err := io.ReadFull(c, resp); err != nil {
		return err
	}
	if !bytes.Equal(resp, rfb.VNCAuthResponse(f.password, challenge)) {
		_, _ = c.Write([]byte{0, 0, 0, 1, 0, 0, 0, 4, 'n', 'o', 'p', 'e'})
		return errors.New("fake desktop: wrong password")
	}
	if _, err := c.Write([]byte{0, 0, 0, 0}); err != nil {
		return err
	}
	var shared [1]byte
	if _, err := io.ReadFull(c, shared[:]); err != nil {
		return err
	}
	_, err := c.Write(rfb.ServerInit{Width: 1280, Height: 720, Format: rfb.RGBA32, Name: "bench"}.Bytes())
	return err
}

func (f *fakeDesktop) serve(c net.Conn) error {
	if err := f.handshake(c); err != nil {
		return err
	}
	// A small reader: thousands of idle benchmark connections should cost this process little.
	br := bufio.NewReaderSize(c, 4096)
	for {
		m, err := rfb.ReadClientMessage(br)
		if err != nil {
			return err
		}
		if m.Type != rfb.MsgClientCutText {
			continue
		}
		text := m.Raw[8:]
		switch {
		case len(text) == 12 && string(text[:4]) == "SEND":
			for n := int64(binary.BigEndian.Uint64(text[4:])); n > 0; {
				p := f.chunk[:min(int64(len(f.chunk)), n)]
				if _, err := c.Write(p); err != nil {
					return err
				}
				n -= int64(len(p))
			}
		case len(text) == 12 && string(text[:4]) == "RECV":
			n := int64(binary.BigEndian.Uint64(text[4:]))
			k, _ := br.Discard(int(min(int64(br.Buffered()), n)))
			n -= int64(k)
			buf := make([]byte, 256<<10)
			for n > 0 {
				r, err := c.Read(buf[:min(int64(len(buf)), n)])
				if err != nil {
					return err
				}
				n -= int64(r)
			}
			if _, err := c.Write([]byte{1}); err != nil {
				return err
			}
		default:
			if _, err := c.Write(m.Raw); err != nil {
				return err
			}
		}
	}
}

// cutText is a ClientCutText message carrying text.
func cutText(text []byte) []byte {
	m := make([]byte, 8, 8+len(text))
	m[0] = rfb.MsgClientCutText
	binary.BigEndian.PutUint32(m[4:], uint32(len(text)))
	return append(m, text...)
}

// fakeCommand is a ClientCutText asking the fake desktop to SEND or RECV n bytes.
func fakeCommand(cmd string, n int64) []byte {
	return cutText(binary.BigEndian.AppendUint64([]byte(cmd), uint64(n)))
}

package rfb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

func read(t *testing.T, b []byte) (ClientMessage, error) {
	t.Helper()
	return ReadClientMessage(bufio.NewReader(bytes.NewReader(b)))
}

// Every message noVNC sends is read whole, exactly as sent, and nothing more.
func TestReadClientMessages(t *testing.T) {
	cut := append([]byte{MsgClientCutText, 0, 0, 0, 0, 0, 0, 5}, "hello"...)
	extCut := append([]byte{MsgClientCutText, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc}, 1, 2, 3, 4) // extended: -4
	desk := append([]byte{MsgSetDesktopSize, 0, 4, 0, 3, 0, 1, 0}, make([]byte, 16)...)
	fence := append([]byte{MsgClientFence, 0, 0, 0, 0, 0, 0, 1, 2}, 'x', 'y')
	msgs := [][]byte{
		SetPixelFormat(RGBA32), SetEncodings(EncRaw, EncCopyRect, -316), UpdateRequest(true, 1, 2, 3, 4),
		KeyEvent(true, 'a'), PointerEvent(1, 10, 20), cut, extCut, desk, fence,
		{MsgEnableContinuousUpdates, 1, 0, 0, 0, 0, 0, 10, 0, 10},
		{MsgXvp, 0, 1, 2},
		{MsgQEMU, QEMUExtendedKeyEvent, 0, 1, 0, 0, 0, 'a', 0, 0, 0, 30},
	}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for i, want := range msgs {
		got, err := ReadClientMessage(r)
		if err != nil || !bytes.Equal(got.Raw, want) {
			t.Fatalf("message %d: %v %v, want %v", i, got.Raw, err, want)
		}
	}
	if _, err := ReadClientMessage(r); err != io.EOF {
		t.Fatalf("after the last message: %v, want EOF", err)
	}
}

func TestReadClientMessageRefuses(t *testing.T) {
	huge := []byte{MsgClientCutText, 0, 0, 0, 0x01, 0, 0, 1} // 16 MiB
	hugeExt := []byte{MsgClientCutText, 0, 0, 0, 0xff, 0, 0, 0}
	manyEnc := []byte{MsgSetEncodings, 0, 0xff, 0xff}
	fence := []byte{MsgClientFence, 0, 0, 0, 0, 0, 0, 0, 65}
	screens := []byte{MsgSetDesktopSize, 0, 0, 1, 0, 1, 200, 0}
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"unknown type":        {[]byte{77, 1, 2, 3}, ErrUnknownMessage},
		"QEMU audio":          {[]byte{MsgQEMU, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ErrUnknownMessage},
		"16 MiB clipboard":    {huge, ErrTooLarge},
		"huge extended":       {hugeExt, ErrTooLarge},
		"65535 encodings":     {manyEnc, ErrTooLarge},
		"fence over 64 bytes": {fence, ErrTooLarge},
		"200 screens":         {screens, ErrTooLarge},
		"truncated key":       {[]byte{MsgKeyEvent, 1}, io.ErrUnexpectedEOF},
	} {
		if _, err := read(t, c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestWithoutEncodings(t *testing.T) {
	m, _ := read(t, SetEncodings(EncRaw, -316, EncCopyRect, -316))
	got := m.WithoutEncodings(func(e int32) bool { return e == -316 })
	if !bytes.Equal(got.Raw, SetEncodings(EncRaw, EncCopyRect)) {
		t.Fatalf("%v", got.Raw)
	}
}

// The gateway's two handshakes meet: Accept (towards a viewer, no password: the ticket was the
// authentication) and Dial (towards a desktop, VNC authentication).
func TestHandshakes(t *testing.T) {
	init := ServerInit{Width: 640, Height: 480, Format: RGBA32, Name: "desk"}
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() {
		shared, err := Accept(a, init)
		if err == nil && !shared {
			err = errors.New("the viewer asked for an exclusive session")
		}
		done <- err
	}()
	got, err := Dial(b, "")
	if err != nil || <-done != nil || got != init {
		t.Fatalf("viewer side: %+v %v", got, err)
	}

	// A desktop requiring VNC authentication: the response must be the DES of the challenge.
	a, b = net.Pipe()
	challenge := []byte("0123456789abcdef")
	go func() {
		defer a.Close()
		a.Write([]byte("RFB 003.008\n"))
		io.ReadFull(a, make([]byte, 12))
		a.Write([]byte{2, SecNone, SecVNCAuth})
		choice := make([]byte, 1)
		io.ReadFull(a, choice)
		if choice[0] != SecVNCAuth {
			done <- errors.New("the gateway did not choose VNC authentication although it has a password")
			return
		}
		a.Write(challenge)
		resp := make([]byte, 16)
		io.ReadFull(a, resp)
		if !bytes.Equal(resp, VNCAuthResponse("s3cret", challenge)) {
			a.Write([]byte{0, 0, 0, 1, 0, 0, 0, 3, 'b', 'a', 'd'})
			done <- errors.New("wrong response")
			return
		}
		a.Write([]byte{0, 0, 0, 0})
		io.ReadFull(a, make([]byte, 1))
		a.Write(init.Bytes())
		done <- nil
	}()
	if got, err = Dial(b, "s3cret"); err != nil || <-done != nil || got != init {
		t.Fatalf("desktop side: %+v %v", got, err)
	}
	// Different passwords give different responses (the DES key is the password).
	if bytes.Equal(VNCAuthResponse("a", challenge), VNCAuthResponse("b", challenge)) {
		t.Fatal("the response does not depend on the password")
	}
}

func TestDialRefusesNonRFB(t *testing.T) {
	a, b := net.Pipe()
	go func() { a.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")); a.Close() }()
	if _, err := Dial(b, "x"); err == nil {
		t.Fatal("an HTTP server passed for a desktop")
	}
}

func TestFramebufferAppliesUpdates(t *testing.T) {
	fb := NewFramebuffer(4, 2)
	var m bytes.Buffer
	m.Write([]byte{MsgFramebufferUpdate, 0, 0, 2})
	rect := func(x, y, w, h uint16, enc int32) {
		for _, v := range []uint16{x, y, w, h} {
			binary.Write(&m, binary.BigEndian, v)
		}
		binary.Write(&m, binary.BigEndian, enc)
	}
	rect(0, 0, 1, 1, EncRaw)
	m.Write([]byte{10, 20, 30, 0})
	rect(3, 1, 1, 1, EncCopyRect)
	m.Write([]byte{0, 0, 0, 0})
	if _, err := fb.ReadServerMessage(bufio.NewReader(&m)); err != nil {
		t.Fatal(err)
	}
	if p := fb.Image.Pix[:4]; !bytes.Equal(p, []byte{10, 20, 30, 255}) {
		t.Fatalf("raw pixel %v", p)
	}
	if off := fb.Image.PixOffset(3, 1); !bytes.Equal(fb.Image.Pix[off:off+4], []byte{10, 20, 30, 255}) {
		t.Fatalf("copied pixel %v", fb.Image.Pix[off:off+4])
	}
	if Distinct(fb.Image, 10) != 2 {
		t.Fatalf("distinct colours %d", Distinct(fb.Image, 10))
	}
}

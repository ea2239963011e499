package rfb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// A reused buffer changes where a message is read to, never what is read: every message comes
// out whole and unchanged, small ones in the buffer, larger ones in memory of their own (the
// buffer is never written past its capacity).
func TestReadClientMessageInto(t *testing.T) {
	cut := func(n int) []byte {
		m := make([]byte, 8, 8+n)
		m[0] = MsgClientCutText
		binary.BigEndian.PutUint32(m[4:], uint32(n))
		return append(m, bytes.Repeat([]byte{'x'}, n)...)
	}
	msgs := [][]byte{
		PointerEvent(1, 10, 20),
		KeyEvent(true, 'a'),
		UpdateRequest(true, 0, 0, 640, 480),
		SetEncodings(EncRaw, EncCopyRect, EncDesktopSize, EncExtendedClipboard),
		SetPixelFormat(RGBA32),
		cut(56),
		cut(5000), // beyond the buffer
		{MsgClientFence, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'},
		PointerEvent(0, 11, 21),
	}
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, m...)
	}
	backing := make([]byte, 128+16)
	for i := range backing {
		backing[i] = 0xee
	}
	buf := backing[:0:128]
	r := bufio.NewReader(bytes.NewReader(stream))
	plain := bufio.NewReader(bytes.NewReader(stream))
	for i, want := range msgs {
		got, err := ReadClientMessageInto(r, buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if got.Type != want[0] || !bytes.Equal(got.Raw, want) {
			t.Fatalf("message %d: got %v, want %v", i, got.Raw, want)
		}
		inBuf := len(got.Raw) > 0 && &got.Raw[0] == &buf[:1][0]
		if inBuf != (len(want) <= cap(buf)) {
			t.Fatalf("message %d (%d bytes): read into the buffer %v", i, len(want), inBuf)
		}
		old, err := ReadClientMessage(plain)
		if err != nil || !bytes.Equal(old.Raw, want) {
			t.Fatalf("message %d without a buffer: %v %v", i, old.Raw, err)
		}
	}
	for i, b := range backing[128:] {
		if b != 0xee {
			t.Fatalf("byte %d past the buffer's capacity was written", 128+i)
		}
	}
	// The limits hold whatever the buffer.
	big := []byte{MsgClientCutText, 0, 0, 0, 0, 0xa0, 0, 0}
	if _, err := ReadClientMessageInto(bufio.NewReader(bytes.NewReader(big)), make([]byte, 0, 1<<20)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a 10 MB clipboard claim: %v, want ErrTooLarge", err)
	}
	if _, err := ReadClientMessageInto(bufio.NewReader(bytes.NewReader([]byte{77})), buf); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("message type 77: %v, want ErrUnknownMessage", err)
	}
}

func BenchmarkReadClientMessage(b *testing.B) {
	msg := PointerEvent(1, 100, 200)
	stream := bytes.Repeat(msg, 4096)
	src := bytes.NewReader(stream)
	r := bufio.NewReader(src)
	buf := make([]byte, 512)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%4096 == 0 {
			src.Reset(stream)
			r.Reset(src)
		}
		if _, err := ReadClientMessageInto(r, buf); err != nil {
			b.Fatal(err)
		}
	}
}

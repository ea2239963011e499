package gateway

import (
	"testing"

	"streamspace/internal/access"
	"streamspace/internal/rfb"
)

// What of a viewer's messages reaches the desktop, per level.
func TestFilterByLevel(t *testing.T) {
	msg := func(b []byte) rfb.ClientMessage { return rfb.ClientMessage{Type: b[0], Raw: b} }
	input := []rfb.ClientMessage{msg(rfb.KeyEvent(true, 'a')), msg(rfb.PointerEvent(1, 1, 1)),
		msg([]byte{rfb.MsgClientCutText, 0, 0, 0, 0, 0, 0, 0}), msg([]byte{rfb.MsgSetDesktopSize, 0, 0, 1, 0, 1, 0, 0}),
		msg([]byte{rfb.MsgQEMU, 0, 0, 1, 0, 0, 0, 'a', 0, 0, 0, 30})}
	viewing := []rfb.ClientMessage{msg(rfb.UpdateRequest(true, 0, 0, 1, 1)), msg(rfb.SetPixelFormat(rfb.RGBA32)),
		msg([]byte{rfb.MsgEnableContinuousUpdates, 1, 0, 0, 0, 0, 0, 1, 0, 1}), msg([]byte{rfb.MsgClientFence, 0, 0, 0, 0, 0, 0, 0, 0})}
	xvp := msg([]byte{rfb.MsgXvp, 0, 1, 2})
	for _, l := range []access.Level{access.View, access.Collaborate, access.Control} {
		s := &Stream{level: l}
		for _, m := range input {
			if _, pass := s.filter(m); pass != (l >= access.Collaborate) {
				t.Errorf("%s: input %d passes %v", l, m.Type, pass)
			}
		}
		for _, m := range viewing {
			if _, pass := s.filter(m); !pass {
				t.Errorf("%s: %d dropped", l, m.Type)
			}
		}
		if _, pass := s.filter(xvp); pass != (l == access.Control) {
			t.Errorf("%s: power operation passes %v", l, pass)
		}
		enc, _ := s.filter(msg(rfb.SetEncodings(rfb.EncRaw, rfb.EncExtendedMouseButtons, rfb.EncExtendedClipboard)))
		want := rfb.SetEncodings(rfb.EncRaw, rfb.EncExtendedClipboard)
		if l == access.View {
			want = rfb.SetEncodings(rfb.EncRaw)
		}
		if string(enc.Raw) != string(want) {
			t.Errorf("%s: encodings %v, want %v", l, enc.Raw, want)
		}
	}
}

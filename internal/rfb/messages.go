package rfb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Client-to-server message types a viewer may send (RFC 6143 §7.5 and the registered extensions
// noVNC uses).
const (
	MsgSetPixelFormat          = 0
	MsgSetEncodings            = 2
	MsgFramebufferUpdateReq    = 3
	MsgKeyEvent                = 4
	MsgPointerEvent            = 5
	MsgClientCutText           = 6
	MsgEnableContinuousUpdates = 150
	MsgClientFence             = 248
	MsgXvp                     = 250
	MsgSetDesktopSize          = 251
	MsgQEMU                    = 255
	QEMUExtendedKeyEvent       = 0 // MsgQEMU's only submessage a viewer sends
)

// Pseudo-encodings the gateway cares about.
const (
	EncExtendedMouseButtons = -316 // makes a pointer event 7 bytes long instead of 6
	EncExtendedClipboard    = -1063131698
	EncXvp                  = -309
	EncDesktopSize          = -223
	EncRaw                  = 0
	EncCopyRect             = 1
)

// Limits on what one viewer message may carry.
const (
	MaxCutText   = 1 << 20 // clipboard text
	maxEncodings = 1024
	maxScreens   = 16
)

// Errors of ReadClientMessage: each closes the viewer's connection.
var (
	ErrUnknownMessage = errors.New("rfb: unknown message type")
	ErrTooLarge       = errors.New("rfb: message too large")
)

// ClientMessage is one whole viewer message, exactly as it was sent.
type ClientMessage struct {
	Type byte
	Raw  []byte
}

// ReadClientMessage reads one whole viewer message. Lengths are checked against the limits
// before anything is buffered, so a viewer cannot make the gateway hold more than MaxCutText.
func ReadClientMessage(r *bufio.Reader) (ClientMessage, error) {
	return ReadClientMessageInto(r, nil)
}

// ReadClientMessageInto is ReadClientMessage reading into buf when the message fits in buf's
// capacity (Raw then shares buf's memory, valid until buf is used again): a proxy that passes
// each message on before reading the next allocates nothing per message. A message larger than
// cap(buf) gets memory of its own.
func ReadClientMessageInto(r *bufio.Reader, buf []byte) (ClientMessage, error) {
	t, err := r.ReadByte()
	if err != nil {
		return ClientMessage{}, err
	}
	var head, body int // bytes after the type to read first, then the variable part
	switch t {
	case MsgSetPixelFormat:
		head = 19
	case MsgSetEncodings:
		head = 3
	case MsgFramebufferUpdateReq, MsgEnableContinuousUpdates:
		head = 9
	case MsgKeyEvent:
		head = 7
	case MsgPointerEvent:
		head = 5
	case MsgClientCutText:
		head = 7
	case MsgClientFence:
		head = 8
	case MsgXvp:
		head = 3
	case MsgSetDesktopSize:
		head = 7
	case MsgQEMU:
		head = 11
	default:
		return ClientMessage{}, fmt.Errorf("%w %d", ErrUnknownMessage, t)
	}
	var raw []byte
	if cap(buf) >= 1+head {
		raw = buf[:1+head]
	} else {
		raw = make([]byte, 1+head, 1+head+64)
	}
	raw[0] = t
	if _, err := io.ReadFull(r, raw[1:]); err != nil {
		return ClientMessage{}, err
	}
	switch t {
	case MsgSetEncodings:
		n := int(binary.BigEndian.Uint16(raw[2:]))
		if n > maxEncodings {
			return ClientMessage{}, ErrTooLarge
		}
		body = 4 * n
	case MsgClientCutText:
		n := int32(binary.BigEndian.Uint32(raw[4:]))
		if n < 0 { // extended clipboard: the length is negated
			n = -n
		}
		if n < 0 || n > MaxCutText {
			return ClientMessage{}, ErrTooLarge
		}
		body = int(n)
	case MsgClientFence:
		body = int(raw[8])
		if body > 64 {
			return ClientMessage{}, ErrTooLarge
		}
	case MsgSetDesktopSize:
		n := int(raw[6])
		if n > maxScreens {
			return ClientMessage{}, ErrTooLarge
		}
		body = 16 * n
	case MsgQEMU:
		if raw[1] != QEMUExtendedKeyEvent {
			return ClientMessage{}, fmt.Errorf("%w 255/%d", ErrUnknownMessage, raw[1])
		}
	}
	if body > 0 {
		if need := 1 + head + body; cap(raw) >= need {
			raw = raw[:need]
		} else {
			raw = append(raw, make([]byte, body)...)
		}
		if _, err := io.ReadFull(r, raw[1+head:]); err != nil {
			return ClientMessage{}, err
		}
	}
	return ClientMessage{Type: t, Raw: raw}, nil
}

// Input reports whether the message acts on the desktop (keys, pointer, clipboard, size,
// power) rather than on what the viewer receives.
func (m ClientMessage) Input() bool {
	switch m.Type {
	case MsgKeyEvent, MsgPointerEvent, MsgClientCutText, MsgSetDesktopSize, MsgXvp, MsgQEMU:
		return true
	}
	return false
}

// WithoutEncodings returns a SetEncodings message without the encodings drop refuses.
func (m ClientMessage) WithoutEncodings(drop func(int32) bool) ClientMessage {
	if m.Type != MsgSetEncodings {
		return m
	}
	out := append([]byte(nil), m.Raw[:4]...)
	kept := 0
	for i := 4; i+4 <= len(m.Raw); i += 4 {
		if !drop(int32(binary.BigEndian.Uint32(m.Raw[i:]))) {
			out = append(out, m.Raw[i:i+4]...)
			kept++
		}
	}
	binary.BigEndian.PutUint16(out[2:], uint16(kept))
	return ClientMessage{Type: m.Type, Raw: out}
}

// SetEncodings builds that message.
func SetEncodings(encs ...int32) []byte {
	b := make([]byte, 4, 4+4*len(encs))
	b[0] = MsgSetEncodings
	binary.BigEndian.PutUint16(b[2:], uint16(len(encs)))
	for _, e := range encs {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	return b
}

// SetPixelFormat builds that message.
func SetPixelFormat(p PixelFormat) []byte {
	return append([]byte{MsgSetPixelFormat, 0, 0, 0}, p.Bytes()...)
}

// UpdateRequest builds a FramebufferUpdateRequest.
func UpdateRequest(incremental bool, x, y, w, h uint16) []byte {
	b := []byte{MsgFramebufferUpdateReq, 0}
	if incremental {
		b[1] = 1
	}
	b = binary.BigEndian.AppendUint16(b, x)
	b = binary.BigEndian.AppendUint16(b, y)
	b = binary.BigEndian.AppendUint16(b, w)
	return binary.BigEndian.AppendUint16(b, h)
}

// KeyEvent builds that message.
func KeyEvent(down bool, keysym uint32) []byte {
	b := []byte{MsgKeyEvent, 0, 0, 0}
	if down {
		b[1] = 1
	}
	return binary.BigEndian.AppendUint32(b, keysym)
}

// PointerEvent builds that message.
func PointerEvent(mask uint8, x, y uint16) []byte {
	b := []byte{MsgPointerEvent, mask}
	b = binary.BigEndian.AppendUint16(b, x)
	return binary.BigEndian.AppendUint16(b, y)
}

// Package rfb speaks just enough of the Remote Framebuffer protocol (RFC 6143, the VNC protocol)
// for the streaming gateway: the handshakes on both of its sides, reading the messages a viewer
// sends, and a small client that reads framebuffer updates (recordings, tests).
package rfb

import (
	"bufio"
	"crypto/des"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// Security types (RFC 6143 §7.2.2 and the IANA registry).
const (
	SecNone    = 1
	SecVNCAuth = 2
)

// PixelFormat is RFC 6143 §7.4.
type PixelFormat struct {
	BitsPerPixel uint8  `json:"bitsPerPixel"`
	Depth        uint8  `json:"depth"`
	BigEndian    uint8  `json:"bigEndian"`
	TrueColor    uint8  `json:"trueColor"`
	RedMax       uint16 `json:"redMax"`
	GreenMax     uint16 `json:"greenMax"`
	BlueMax      uint16 `json:"blueMax"`
	RedShift     uint8  `json:"redShift"`
	GreenShift   uint8  `json:"greenShift"`
	BlueShift    uint8  `json:"blueShift"`
}

// Bytes is the 16-byte wire form.
func (p PixelFormat) Bytes() []byte {
	b := make([]byte, 16)
	b[0], b[1], b[2], b[3] = p.BitsPerPixel, p.Depth, p.BigEndian, p.TrueColor
	binary.BigEndian.PutUint16(b[4:], p.RedMax)
	binary.BigEndian.PutUint16(b[6:], p.GreenMax)
	binary.BigEndian.PutUint16(b[8:], p.BlueMax)
	b[10], b[11], b[12] = p.RedShift, p.GreenShift, p.BlueShift
	return b
}

// ParsePixelFormat reads the 16-byte wire form.
func ParsePixelFormat(b []byte) PixelFormat {
	return PixelFormat{BitsPerPixel: b[0], Depth: b[1], BigEndian: b[2], TrueColor: b[3],
		RedMax: binary.BigEndian.Uint16(b[4:]), GreenMax: binary.BigEndian.Uint16(b[6:]), BlueMax: binary.BigEndian.Uint16(b[8:]),
		RedShift: b[10], GreenShift: b[11], BlueShift: b[12]}
}

// RGBA32 is 32-bit little-endian true colour with red in the low byte: the format the
// recorder asks for, so a recording decodes without the server's native format.
var RGBA32 = PixelFormat{BitsPerPixel: 32, Depth: 24, TrueColor: 1, RedMax: 255, GreenMax: 255, BlueMax: 255,
	RedShift: 0, GreenShift: 8, BlueShift: 16}

// ServerInit is RFC 6143 §7.3.2.
type ServerInit struct {
	Width, Height uint16
	Format        PixelFormat
	Name          string
}

// Bytes is the wire form.
func (s ServerInit) Bytes() []byte {
	b := make([]byte, 24, 24+len(s.Name))
	binary.BigEndian.PutUint16(b[0:], s.Width)
	binary.BigEndian.PutUint16(b[2:], s.Height)
	copy(b[4:20], s.Format.Bytes())
	binary.BigEndian.PutUint32(b[20:], uint32(len(s.Name)))
	return append(b, s.Name...)
}

// maxName bounds the desktop name a server may send.
const maxName = 4096

// Dial performs the client side of the handshake on conn, as a shared client: the protocol
// version, VNC authentication with password when the server asks for it (None otherwise), and
// the initialisation. It returns the server's initialisation message.
func Dial(conn io.ReadWriter, password string) (ServerInit, error) {
	r := conn
	var ver [12]byte
	if _, err := io.ReadFull(r, ver[:]); err != nil {
		return ServerInit{}, fmt.Errorf("rfb: server version: %w", err)
	}
	minor, err := parseVersion(ver[:])
	if err != nil {
		return ServerInit{}, err
	}
	if minor >= 7 {
		minor = 8
		if _, err := conn.Write([]byte("RFB 003.008\n")); err != nil {
			return ServerInit{}, err
		}
	} else {
		minor = 3
		if _, err := conn.Write([]byte("RFB 003.003\n")); err != nil {
			return ServerInit{}, err
		}
	}
	var sec uint32
	if minor == 3 {
		if err := binary.Read(r, binary.BigEndian, &sec); err != nil {
			return ServerInit{}, err
		}
		if sec == 0 {
			return ServerInit{}, failure(r, "server refused the connection")
		}
	} else {
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return ServerInit{}, err
		}
		if n[0] == 0 {
			return ServerInit{}, failure(r, "server refused the connection")
		}
		types := make([]byte, n[0])
		if _, err := io.ReadFull(r, types); err != nil {
			return ServerInit{}, err
		}
		switch {
		case contains(types, SecVNCAuth) && password != "":
			sec = SecVNCAuth
		case contains(types, SecNone):
			sec = SecNone
		default:
			return ServerInit{}, fmt.Errorf("rfb: server offers no usable security type (%v)", types)
		}
		if _, err := conn.Write([]byte{byte(sec)}); err != nil {
			return ServerInit{}, err
		}
	}
	switch sec {
	case SecVNCAuth:
		var challenge [16]byte
		if _, err := io.ReadFull(r, challenge[:]); err != nil {
			return ServerInit{}, err
		}
		if _, err := conn.Write(VNCAuthResponse(password, challenge[:])); err != nil {
			return ServerInit{}, err
		}
	case SecNone:
	default:
		return ServerInit{}, fmt.Errorf("rfb: server requires security type %d", sec)
	}
	if sec == SecVNCAuth || minor == 8 {
		var result uint32
		if err := binary.Read(r, binary.BigEndian, &result); err != nil {
			return ServerInit{}, err
		}
		if result != 0 {
			if minor == 8 {
				return ServerInit{}, failure(r, "authentication failed")
			}
			return ServerInit{}, errors.New("rfb: authentication failed")
		}
	}
	if _, err := conn.Write([]byte{1}); err != nil { // ClientInit: shared, other viewers stay
		return ServerInit{}, err
	}
	return readServerInit(r)
}

func readServerInit(r io.Reader) (ServerInit, error) {
	var head [24]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return ServerInit{}, fmt.Errorf("rfb: server init: %w", err)
	}
	n := binary.BigEndian.Uint32(head[20:])
	if n > maxName {
		return ServerInit{}, fmt.Errorf("rfb: desktop name of %d bytes", n)
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(r, name); err != nil {
		return ServerInit{}, err
	}
	return ServerInit{Width: binary.BigEndian.Uint16(head[0:]), Height: binary.BigEndian.Uint16(head[2:]),
		Format: ParsePixelFormat(head[4:20]), Name: string(name)}, nil
}

// Accept performs the server side of the handshake towards a viewer that is already
// authenticated (by its ticket): version 3.8 (3.3 and 3.7 clients are served too), security
// type None, then the given initialisation. It returns the viewer's shared flag.
func Accept(conn io.ReadWriter, init ServerInit) (shared bool, err error) {
	if _, err := conn.Write([]byte("RFB 003.008\n")); err != nil {
		return false, err
	}
	var ver [12]byte
	if _, err := io.ReadFull(conn, ver[:]); err != nil {
		return false, fmt.Errorf("rfb: viewer version: %w", err)
	}
	minor, err := parseVersion(ver[:])
	if err != nil {
		return false, err
	}
	if minor < 7 {
		if _, err := conn.Write([]byte{0, 0, 0, SecNone}); err != nil {
			return false, err
		}
	} else {
		if _, err := conn.Write([]byte{1, SecNone}); err != nil {
			return false, err
		}
		var choice [1]byte
		if _, err := io.ReadFull(conn, choice[:]); err != nil {
			return false, err
		}
		if choice[0] != SecNone {
			return false, fmt.Errorf("rfb: viewer chose security type %d", choice[0])
		}
		if minor >= 8 {
			if _, err := conn.Write([]byte{0, 0, 0, 0}); err != nil {
				return false, err
			}
		}
	}
	var ci [1]byte
	if _, err := io.ReadFull(conn, ci[:]); err != nil {
		return false, err
	}
	_, err = conn.Write(init.Bytes())
	return ci[0] != 0, err
}

func parseVersion(b []byte) (int, error) {
	var major, minor int
	if _, err := fmt.Sscanf(string(b), "RFB %03d.%03d\n", &major, &minor); err != nil || major != 3 {
		return 0, fmt.Errorf("rfb: not an RFB peer (it said %q)", sanitize(b))
	}
	return minor, nil
}

func sanitize(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c < 32 || c > 126 {
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}

// failure reads a reason string (RFC 6143 §7.1.3) into an error.
func failure(r io.Reader, what string) error {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil || n > 1024 {
		return errors.New("rfb: " + what)
	}
	reason := make([]byte, n)
	if _, err := io.ReadFull(r, reason); err != nil {
		return errors.New("rfb: " + what)
	}
	return fmt.Errorf("rfb: %s: %s", what, sanitize(reason))
}

func contains(b []byte, v byte) bool {
	for _, x := range b {
		if x == v {
			return true
		}
	}
	return false
}

// VNCAuthResponse encrypts the challenge with DES under the password, as VNC authentication
// does: at most 8 bytes of the password, each byte's bits mirrored (RFC 6143 §7.2.2).
func VNCAuthResponse(password string, challenge []byte) []byte {
	key := make([]byte, 8)
	copy(key, password)
	for i, b := range key {
		key[i] = bits.Reverse8(b)
	}
	block, _ := des.NewCipher(key) // 8-byte key: cannot fail
	out := make([]byte, 16)
	block.Encrypt(out[:8], challenge[:8])
	block.Encrypt(out[8:], challenge[8:16])
	return out
}

// Reader is the buffered reader the message functions take.
type Reader = bufio.Reader

// Package vncclient is a small RFB (VNC) client for tests: it authenticates with a classic VNC
// password (security type 2) and reads the whole screen in Raw encoding. It is what tells a test
// that a desktop really draws, without a browser.
package vncclient

import (
	"bufio"
	"crypto/des"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"net"
	"time"
)

// Client is an authenticated RFB connection.
type Client struct {
	conn          net.Conn
	r             *bufio.Reader
	Width, Height int
	Name          string
}

// Dial opens an RFB connection on network ("tcp", "unix") and address and authenticates.
func Dial(network, address, password string) (*Client, error) {
	conn, err := net.DialTimeout(network, address, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c, err := Handshake(conn, password)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Handshake authenticates on an open connection (RFB 3.3, 3.7 or 3.8) and reads ServerInit.
func Handshake(conn net.Conn, password string) (*Client, error) {
	c := &Client{conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	defer conn.SetDeadline(time.Time{})
	ver := make([]byte, 12)
	if _, err := io.ReadFull(c.r, ver); err != nil {
		return nil, fmt.Errorf("server version: %w", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(ver), "RFB %03d.%03d\n", &major, &minor); err != nil || major != 3 {
		return nil, fmt.Errorf("not an RFB server: %q", ver)
	}
	minor = min(minor, 8)
	if minor != 7 && minor != 8 {
		minor = 3
	}
	if _, err := fmt.Fprintf(conn, "RFB 003.%03d\n", minor); err != nil {
		return nil, err
	}
	if err := c.security(minor, password); err != nil {
		return nil, err
	}
	if _, err := conn.Write([]byte{1}); err != nil { // ClientInit: shared
		return nil, err
	}
	var init struct {
		W, H uint16
		PF   [16]byte
		N    uint32
	}
	if err := binary.Read(c.r, binary.BigEndian, &init); err != nil {
		return nil, fmt.Errorf("server init: %w", err)
	}
	name := make([]byte, min(init.N, 1<<16))
	if _, err := io.ReadFull(c.r, name); err != nil {
		return nil, err
	}
	c.Width, c.Height, c.Name = int(init.W), int(init.H), string(name)
	return c, nil
}

// security picks VNC authentication and answers its challenge.
func (c *Client) security(minor int, password string) error {
	if minor == 3 {
		var t uint32
		if err := binary.Read(c.r, binary.BigEndian, &t); err != nil {
			return err
		}
		if t == 0 {
			return fmt.Errorf("server refused: %s", c.reason())
		}
		if t != 2 {
			return fmt.Errorf("server offers security type %d, not VNC authentication", t)
		}
	} else {
		n, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("server refused: %s", c.reason())
		}
		types := make([]byte, n)
		if _, err := io.ReadFull(c.r, types); err != nil {
			return err
		}
		found := false
		for _, t := range types {
			found = found || t == 2
		}
		if !found {
			return fmt.Errorf("server offers security types %v, not VNC authentication (2)", types)
		}
		if _, err := c.conn.Write([]byte{2}); err != nil {
			return err
		}
	}
	challenge := make([]byte, 16)
	if _, err := io.ReadFull(c.r, challenge); err != nil {
		return err
	}
	if _, err := c.conn.Write(Response(password, challenge)); err != nil {
		return err
	}
	var result uint32
	if err := binary.Read(c.r, binary.BigEndian, &result); err != nil {
		return err
	}
	if result != 0 {
		if minor == 8 {
			return fmt.Errorf("%w: %s", ErrAuth, c.reason())
		}
		return ErrAuth
	}
	return nil
}

// ErrAuth is a refused VNC password.
var ErrAuth = errors.New("VNC authentication failed")

func (c *Client) reason() string {
	var n uint32
	if binary.Read(c.r, binary.BigEndian, &n) != nil {
		return "(no reason)"
	}
	b := make([]byte, min(n, 4096))
	_, _ = io.ReadFull(c.r, b)
	return string(b)
}

// Response is the answer to a VNC authentication challenge: the challenge DES-encrypted with
// the password (8 bytes, zero-padded) as key, each key byte's bits reversed, as VNC does.
func Response(password string, challenge []byte) []byte {
	key := make([]byte, 8)
	copy(key, password)
	for i, b := range key {
		var r byte
		for j := 0; j < 8; j++ {
			r |= (b >> j & 1) << (7 - j)
		}
		key[i] = r
	}
	block, _ := des.NewCipher(key) // 8 bytes: never fails
	out := make([]byte, len(challenge))
	for i := 0; i+8 <= len(challenge); i += 8 {
		block.Encrypt(out[i:i+8], challenge[i:i+8])
	}
	return out
}

// Screen asks for the whole screen in Raw encoding, 32 bits per pixel, and returns it.
func (c *Client) Screen(timeout time.Duration) (*image.RGBA, error) {
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	defer c.conn.SetDeadline(time.Time{})
	// SetPixelFormat: 32 bpp, depth 24, little-endian, true colour, 8 bits each at 16/8/0.
	pf := []byte{0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0}
	enc := []byte{2, 0, 0, 1, 0, 0, 0, 0} // SetEncodings: Raw only
	req := []byte{3, 0, 0, 0, 0, 0, byte(c.Width >> 8), byte(c.Width), byte(c.Height >> 8), byte(c.Height)}
	if _, err := c.conn.Write(append(append(pf, enc...), req...)); err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, c.Width, c.Height))
	for {
		t, err := c.r.ReadByte()
		if err != nil {
			return nil, err
		}
		switch t {
		case 0: // FramebufferUpdate
			if err := c.readUpdate(img); err != nil {
				return nil, err
			}
			return img, nil
		case 1: // SetColourMapEntries
			var h struct {
				Pad         byte
				First, Ncol uint16
			}
			if err := binary.Read(c.r, binary.BigEndian, &h); err != nil {
				return nil, err
			}
			if _, err := c.r.Discard(int(h.Ncol) * 6); err != nil {
				return nil, err
			}
		case 2: // Bell
		case 3: // ServerCutText
			var h struct {
				Pad [3]byte
				N   uint32
			}
			if err := binary.Read(c.r, binary.BigEndian, &h); err != nil {
				return nil, err
			}
			if _, err := c.r.Discard(int(min(h.N, 1<<24))); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected server message type %d", t)
		}
	}
}

func (c *Client) readUpdate(img *image.RGBA) error {
	var h struct {
		Pad   byte
		Rects uint16
	}
	if err := binary.Read(c.r, binary.BigEndian, &h); err != nil {
		return err
	}
	for range h.Rects {
		var r struct {
			X, Y, W, H uint16
			Enc        int32
		}
		if err := binary.Read(c.r, binary.BigEndian, &r); err != nil {
			return err
		}
		if r.Enc != 0 {
			return fmt.Errorf("rectangle in encoding %d, asked for Raw only", r.Enc)
		}
		px := make([]byte, int(r.W)*int(r.H)*4)
		if _, err := io.ReadFull(c.r, px); err != nil {
			return err
		}
		for y := 0; y < int(r.H); y++ {
			for x := 0; x < int(r.W); x++ {
				p := px[(y*int(r.W)+x)*4:]
				img.SetRGBA(int(r.X)+x, int(r.Y)+y, color.RGBA{R: p[2], G: p[1], B: p[0], A: 255})
			}
		}
	}
	return nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

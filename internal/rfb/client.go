package rfb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
)

// Server-to-client message types.
const (
	MsgFramebufferUpdate = 0
	MsgSetColourMap      = 1
	MsgBell              = 2
	MsgServerCutText     = 3
	MsgEndOfContinuous   = 150
	MsgServerFence       = 248
)

// Framebuffer keeps a desktop's picture from the updates a server sends in the Raw and
// CopyRect encodings (with DesktopSize), in RGBA32: what a recording replays and tests look at.
type Framebuffer struct {
	Image *image.RGBA
}

// NewFramebuffer is a black picture of the given size.
func NewFramebuffer(w, h int) *Framebuffer {
	return &Framebuffer{Image: image.NewRGBA(image.Rect(0, 0, w, h))}
}

// maxSide bounds a framebuffer's width and height (RFB allows 65535; no desktop is that big).
const maxSide = 16384

// ServerReader is what server messages are read from: a *bufio.Reader on a live connection,
// or a recording's stream (which must not read ahead of the message being applied).
type ServerReader interface {
	io.Reader
	io.ByteReader
	Discard(n int) (int, error)
}

// canvas is what a server message acts on: a Framebuffer keeps the pixels, a Skipper only the
// size (the recorder needs message boundaries, not pictures).
type canvas interface {
	size() (int, int)
	raw(r ServerReader, x, y, w, h int) error
	copyRect(sx, sy, x, y, w, h int)
	resize(w, h int)
}

// ReadServerMessage reads one server message from r and applies it to fb; it returns the
// message type. Only the encodings Setup asks for are understood.
func (fb *Framebuffer) ReadServerMessage(r ServerReader) (byte, error) {
	return readServerMessage(r, fb)
}

// Skipper follows a server's messages without keeping their pixels: it knows where each
// message ends and the desktop's size, in constant memory.
type Skipper struct {
	Width, Height int
	// Resized is set when a message changed the size (the caller then asks for a full update).
	Resized bool
}

// ReadServerMessage reads (and discards) one server message.
func (s *Skipper) ReadServerMessage(r ServerReader) (byte, error) { return readServerMessage(r, s) }

func (s *Skipper) size() (int, int) { return s.Width, s.Height }
func (s *Skipper) raw(r ServerReader, x, y, w, h int) error {
	if x+w > s.Width || y+h > s.Height {
		return errors.New("rfb: rectangle outside the framebuffer")
	}
	_, err := r.Discard(4 * w * h)
	return err
}
func (s *Skipper) copyRect(int, int, int, int, int, int) {}
func (s *Skipper) resize(w, h int)                       { s.Width, s.Height, s.Resized = w, h, true }

func readServerMessage(r ServerReader, c canvas) (byte, error) {
	t, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	switch t {
	case MsgFramebufferUpdate:
		return t, update(r, c)
	case MsgSetColourMap:
		var h [5]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return t, err
		}
		_, err = r.Discard(6 * int(binary.BigEndian.Uint16(h[3:])))
		return t, err
	case MsgBell:
		return t, nil
	case MsgServerCutText:
		var h [7]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return t, err
		}
		n := int32(binary.BigEndian.Uint32(h[3:]))
		if n < 0 {
			n = -n
		}
		if n < 0 || n > MaxCutText {
			return t, ErrTooLarge
		}
		_, err = r.Discard(int(n))
		return t, err
	}
	return t, fmt.Errorf("rfb: unexpected server message %d", t)
}

func update(r ServerReader, c canvas) error {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(h[1:]))
	for i := 0; i < n; i++ {
		var rh [12]byte
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			return err
		}
		x, y := int(binary.BigEndian.Uint16(rh[0:])), int(binary.BigEndian.Uint16(rh[2:]))
		w, hh := int(binary.BigEndian.Uint16(rh[4:])), int(binary.BigEndian.Uint16(rh[6:]))
		enc := int32(binary.BigEndian.Uint32(rh[8:]))
		switch enc {
		case EncRaw:
			if err := c.raw(r, x, y, w, hh); err != nil {
				return err
			}
		case EncCopyRect:
			var src [4]byte
			if _, err := io.ReadFull(r, src[:]); err != nil {
				return err
			}
			c.copyRect(int(binary.BigEndian.Uint16(src[0:])), int(binary.BigEndian.Uint16(src[2:])), x, y, w, hh)
		case EncDesktopSize:
			if w > maxSide || hh > maxSide {
				return fmt.Errorf("rfb: desktop size %dx%d", w, hh)
			}
			c.resize(w, hh)
		default:
			return fmt.Errorf("rfb: encoding %d was not asked for", enc)
		}
	}
	return nil
}

func (fb *Framebuffer) size() (int, int) { b := fb.Image.Bounds(); return b.Dx(), b.Dy() }

// resize keeps what fits of the picture; the server sends the rest.
func (fb *Framebuffer) resize(w, h int) {
	next := image.NewRGBA(image.Rect(0, 0, w, h))
	ow, oh := fb.size()
	for j := 0; j < min(h, oh); j++ {
		copy(next.Pix[next.PixOffset(0, j):next.PixOffset(0, j)+4*min(w, ow)], fb.Image.Pix[fb.Image.PixOffset(0, j):])
	}
	fb.Image = next
}

func (fb *Framebuffer) raw(r ServerReader, x, y, w, h int) error {
	b := fb.Image.Bounds()
	if x+w > b.Dx() || y+h > b.Dy() {
		return errors.New("rfb: rectangle outside the framebuffer")
	}
	row := make([]byte, 4*w)
	for j := 0; j < h; j++ {
		if _, err := io.ReadFull(r, row); err != nil {
			return err
		}
		off := fb.Image.PixOffset(x, y+j)
		copy(fb.Image.Pix[off:off+4*w], row)
		for i := 3; i < 4*w; i += 4 { // the fourth byte is padding in RGBA32: make it opaque
			fb.Image.Pix[off+i] = 255
		}
	}
	return nil
}

func (fb *Framebuffer) copyRect(sx, sy, x, y, w, h int) {
	src := image.Rect(sx, sy, sx+w, sy+h)
	if !src.In(fb.Image.Bounds()) || !image.Rect(x, y, x+w, y+h).In(fb.Image.Bounds()) {
		return
	}
	tmp := image.NewRGBA(image.Rect(0, 0, w, h))
	for j := 0; j < h; j++ {
		copy(tmp.Pix[j*tmp.Stride:j*tmp.Stride+4*w], fb.Image.Pix[fb.Image.PixOffset(sx, sy+j):])
	}
	for j := 0; j < h; j++ {
		off := fb.Image.PixOffset(x, y+j)
		copy(fb.Image.Pix[off:off+4*w], tmp.Pix[j*tmp.Stride:j*tmp.Stride+4*w])
	}
}

// Setup asks the server for what a Framebuffer understands: RGBA32 pixels in the Raw and
// CopyRect encodings, and desktop size changes.
func Setup(w io.Writer) error {
	if _, err := w.Write(SetPixelFormat(RGBA32)); err != nil {
		return err
	}
	_, err := w.Write(SetEncodings(EncCopyRect, EncRaw, EncDesktopSize))
	return err
}

// Distinct counts the distinct colours of a picture, up to limit: a blank screen has one.
func Distinct(img *image.RGBA, limit int) int {
	seen := map[uint32]bool{}
	for i := 0; i+3 < len(img.Pix) && len(seen) < limit; i += 4 {
		seen[uint32(img.Pix[i])<<16|uint32(img.Pix[i+1])<<8|uint32(img.Pix[i+2])] = true
	}
	return len(seen)
}

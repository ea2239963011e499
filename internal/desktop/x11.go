package desktop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// OpenDisplay does an X11 connection setup on a local display (":N") with a
// MIT-MAGIC-COOKIE-1 (nil: no authorization) and reports whether the server accepted it. It
// tries the abstract socket first, as Xlib does, then the one in /tmp/.X11-unix; both reach the
// same server, and neither is protected by file permissions, only by the cookie.
func OpenDisplay(display string, cookie []byte) error {
	n, ok := strings.CutPrefix(display, ":")
	if !ok {
		return fmt.Errorf("not a local display: %q", display)
	}
	path := "/tmp/.X11-unix/X" + n
	c, err := net.DialTimeout("unix", "@"+path, 5*time.Second)
	if err != nil {
		if c, err = net.DialTimeout("unix", path, 5*time.Second); err != nil {
			return err
		}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	name := ""
	if cookie != nil {
		name = "MIT-MAGIC-COOKIE-1"
	}
	pad := func(n int) int { return (4 - n%4) % 4 }
	req := []byte{'l', 0}
	req = binary.LittleEndian.AppendUint16(req, 11) // protocol 11.0
	req = binary.LittleEndian.AppendUint16(req, 0)
	req = binary.LittleEndian.AppendUint16(req, uint16(len(name)))
	req = binary.LittleEndian.AppendUint16(req, uint16(len(cookie)))
	req = append(req, 0, 0)
	req = append(append(req, name...), make([]byte, pad(len(name)))...)
	req = append(append(req, cookie...), make([]byte, pad(len(cookie)))...)
	if _, err := c.Write(req); err != nil {
		return err
	}
	// The reply: 1 success; 0 failed, with a reason of the length in the second byte.
	head := make([]byte, 8)
	if _, err := io.ReadFull(c, head); err != nil {
		return err
	}
	switch head[0] {
	case 1:
		return nil
	case 0:
		reason := make([]byte, head[1])
		_, _ = io.ReadFull(c, reason)
		return fmt.Errorf("%w: %s", ErrRefused, strings.TrimSpace(string(reason)))
	default:
		return fmt.Errorf("%w: the server asks for more authentication", ErrRefused)
	}
}

// ErrRefused is an X server refusing a connection.
var ErrRefused = errors.New("the X server refused the connection")

//go:build linux || darwin

package gateway

import (
	"net"
	"syscall"
)

// readable returns a function that waits until conn has something to read (data, its end or
// an error: the next Read says which) without reading it, so the waiting holds no buffer; nil
// when conn does not expose its socket. It peeks at one byte through the runtime's poller, as
// a Read does, and so ends like a Read when conn is closed.
func readable(conn net.Conn) func() error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	probe := make([]byte, 1)
	ready := func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), probe, syscall.MSG_PEEK)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // nothing yet: the poller waits for the socket
			}
			return true
		}
	}
	return func() error { return rc.Read(ready) }
}

//go:build unix

package handlers

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection can still carry a request: the
// service has not closed it and sent nothing unasked. It peeks without
// waiting, one system call, because nothing reads idle connections in the
// background (http.Transport keeps a goroutine per connection for that).
// Without it a POST would meet a connection the service closed while idle,
// and could not be retried.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	live := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		// Nothing to read is the only good answer: 0 bytes is the
		// service's FIN, more is a response nobody asked for.
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		live = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && live
}

//go:build unix

package pool

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
)

// prober tells, without blocking or consuming anything, whether the
// server has closed a connection: one system call, no allocation. Only
// while nobody reads from the connection (the socket's read lock is
// taken).
type prober struct {
	rc   syscall.RawConn
	peek func(fd uintptr) bool // p.peekFD, bound once
	gone error
	b    [1]byte
}

// newProber returns nc's prober, or nil if nc's socket is out of reach.
func newProber(nc net.Conn) *prober {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &prober{rc: rc}
	p.peek = p.peekFD
	return p
}

// closed returns io.EOF if the server has closed the connection, the
// error if it reset it, else nil.
func (p *prober) closed() error {
	if p == nil {
		return nil
	}
	p.gone = nil
	p.rc.Read(p.peek)
	return p.gone
}

func (p *prober) peekFD(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case n == 0 && err == nil:
		p.gone = io.EOF
	case err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR:
		p.gone = err
	}
	return true
}

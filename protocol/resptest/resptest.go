package resptest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// TB is the part of testing.TB the server needs; *testing.T and
// *testing.B satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

var _ TB = (testing.TB)(nil)

// Server accepts connections on 127.0.0.1 and runs a handler for each.
type Server struct {
	Addr string

	ln      net.Listener
	handler func(*Conn)
	wg      sync.WaitGroup // the accept loop and every handler

	mu    sync.Mutex // guards conns
	conns map[*Conn]struct{}
}

// NewServer starts a server running handler on every accepted connection;
// it is closed when tb ends. The handler's return closes the connection.
func NewServer(tb TB, handler func(*Conn)) *Server {
	tb.Helper()
	s, err := Start(handler)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Start is NewServer for code without a testing.TB, such as examples; the
// caller closes the server.
func Start(handler func(*Conn)) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("resptest: listen: %w", err)
	}
	s := &Server{Addr: ln.Addr().String(), ln: ln, handler: handler, conns: map[*Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &Conn{Conn: nc, br: bufio.NewReader(nc)}
		c.r = protocol.NewReader(c.br, protocol.Limits{})
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				nc.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			s.handler(c)
		}()
	}
}

// CloseConns closes every open connection, as a server crash would.
func (s *Server) CloseConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Conn.Close()
	}
}

// Close stops accepting, closes every connection and waits for handlers.
// It is idempotent.
func (s *Server) Close() {
	s.ln.Close()
	s.CloseConns()
	s.wg.Wait()
}

// Conn is one accepted connection.
type Conn struct {
	net.Conn
	br *bufio.Reader
	r  *protocol.Reader
}

// ReadCommand reads one command sent as an array of bulk strings.
func (c *Conn) ReadCommand() ([]string, error) {
	v, err := c.r.Read()
	if err != nil {
		return nil, err
	}
	if v.Kind != protocol.KindArray {
		return nil, errors.New("resptest: command is not an array")
	}
	args := make([]string, len(v.Elems))
	for i, e := range v.Elems {
		args[i] = e.Str
	}
	return args, nil
}

// WriteRaw writes raw bytes, which need not be a whole frame.
func (c *Conn) WriteRaw(raw string) error {
	_, err := c.Conn.Write([]byte(raw))
	return err
}

// WriteSlowly writes raw one byte at a time with delay between bytes.
func (c *Conn) WriteSlowly(raw string, delay time.Duration) error {
	for i := 0; i < len(raw); i++ {
		if _, err := c.Conn.Write([]byte{raw[i]}); err != nil {
			return err
		}
		time.Sleep(delay)
	}
	return nil
}

// Reset closes the connection with a TCP reset instead of a clean close.
func (c *Conn) Reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Conn.Close()
}

// Serve answers commands with reply(args), a raw RESP string, until the
// connection ends. A HELLO is answered with an unknown-command error unless
// reply handles it (returns non-empty), so clients fall back to RESP2.
func (c *Conn) Serve(reply func(args []string) string) {
	for {
		args, err := c.ReadCommand()
		if err != nil {
			return
		}
		out := reply(args)
		if out == "" && len(args) > 0 && strings.EqualFold(args[0], "HELLO") {
			out = "-ERR unknown command 'HELLO'\r\n"
		}
		if out == "" {
			out = "+OK\r\n"
		}
		if c.WriteRaw(out) != nil {
			return
		}
	}
}

// Handler returns a handler that serves every connection with reply.
func Handler(reply func(args []string) string) func(*Conn) {
	return func(c *Conn) { c.Serve(reply) }
}

package pool

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// readTracker notes when bytes last arrived, so that ReadTimeout counts
// from the last bytes received rather than the last complete reply: a
// large reply that keeps trickling in is not a hung server.
type readTracker struct {
	nc net.Conn
	at *atomic.Int64
}

func (t readTracker) Read(p []byte) (int, error) {
	n, err := t.nc.Read(p)
	if n > 0 {
		t.at.Store(time.Now().UnixNano())
	}
	return n, err
}

// Stream is a connection after the handshake, without a Conn's
// goroutines, for a caller that reads frames itself: a subscription that
// must work over RESP2 as well as RESP3 (the sentinel package's event
// listeners). The caller owns it and closes it.
type Stream struct {
	net.Conn
	// Reader decodes the server's frames, within Config.Limits.
	Reader *protocol.Reader
	// Protocol is the RESP version the handshake settled on.
	Protocol int
}

// DialStream connects to cfg.Addr and performs the handshake (TLS,
// HELLO or AUTH, CLIENT SETNAME, SELECT) as Dial does, then hands the
// connection over. Errors are *DialError.
func DialStream(ctx context.Context, cfg Config) (*Stream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := connect(ctx, cfg, standalone, nil)
	if err != nil {
		return nil, err
	}
	return &Stream{Conn: c.nc, Reader: c.rd, Protocol: c.proto}, nil
}

// Dial connects to cfg.Addr, performs the handshake and starts the
// connection's goroutines. Errors are *DialError.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, cfg, standalone, nil)
	if err != nil {
		return nil, err
	}
	c.hooks = cfg.Hooks
	return c, nil
}

// connect dials cfg.Addr (TCP, TLS or unix) and runs the handshake: the
// one way this module opens a connection to a server.
func connect(ctx context.Context, cfg Config, kind connKind, onDead func(*Conn)) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
	if err != nil {
		return nil, &DialError{Addr: cfg.Addr, Step: "dial", Err: ctxCause(ctx, err)}
	}
	if cfg.TLS != nil && cfg.Network == "tcp" {
		tc := cfg.TLS.Clone()
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(cfg.Addr)
			tc.ServerName = host
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &DialError{Addr: cfg.Addr, Step: "tls", Err: ctxCause(ctx, err)}
		}
		nc = tlsConn
	}
	c := &Conn{
		cfg:    cfg,
		addr:   cfg.Addr,
		nc:     nc,
		dead:   make(chan struct{}),
		kind:   kind,
		onDead: onDead,
	}
	c.w.wake = make(chan struct{}, 1)
	c.br = bufio.NewReaderSize(readTracker{nc, &c.lastRead}, 32<<10)
	c.rd = protocol.NewReader(c.br, cfg.Limits)
	// Push frames (client tracking, pub/sub) must be read as they come:
	// such connections keep the reader goroutine reading, as do
	// dedicated ones (blocking commands).
	c.pull = !kind.untimed() && cfg.OnPush == nil
	c.mark = &core.PullMark{Puller: c}
	c.probe = newProber(nc)
	c.read.wake = make(chan struct{}, 1)
	if !c.pull {
		c.read.owner = readLoop
	}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// dial connects and starts the connection's goroutines.
func dial(ctx context.Context, cfg Config, kind connKind, onDead func(*Conn)) (*Conn, error) {
	c, err := connect(ctx, cfg, kind, onDead)
	if h := cfg.Hooks; h != nil && h.Conn != nil {
		if err != nil {
			h.Conn(core.ConnEvent{Kind: core.ConnDialFailed, Addr: cfg.Addr, Dedicated: kind.untimed(), Err: err})
		} else {
			h.Conn(core.ConnEvent{Kind: core.ConnDialled, Addr: cfg.Addr, Dedicated: kind.untimed()})
		}
	}
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	c.w.lastUsed.Store(now)
	c.lastRead.Store(now)
	c.wg.Add(3)
	go c.writeLoop()
	go c.readLoop()
	go c.watchdog()
	return c, nil
}

// handshake runs HELLO (or AUTH), CLIENT SETNAME and SELECT synchronously,
// before the loops start.
func (c *Conn) handshake(ctx context.Context) (err error) {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
	}
	// A cancelled context (not only a deadline) abandons the handshake:
	// a deadline in the past wakes the blocked read or write.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		var cause error
		if err != nil {
			if ce := ctxCause(ctx, err); ce != err {
				cause = ce
			}
		}
		if !stop() && cause == nil {
			cause = ctx.Err()
		}
		if cause != nil {
			// Report the caller's context as the cause, matchable with
			// errors.Is, rather than the I/O timeout it caused.
			var de *DialError
			if errors.As(err, &de) {
				de.Err = cause
			} else {
				err = &DialError{Addr: c.addr, Step: "handshake", Err: cause}
			}
			return
		}
		c.nc.SetDeadline(time.Time{})
	}()
	named, err := c.hello()
	if err != nil {
		return err
	}
	return c.setUp(named)
}

// hello asks for RESP3 with HELLO 3 (authenticating in the same command)
// when Config.Protocol is 3, and falls back to RESP2 and AUTH for a server
// that does not know HELLO. It reports whether HELLO also set the name.
func (c *Conn) hello() (named bool, err error) {
	cfg := c.cfg
	c.proto = 2
	if cfg.Protocol == 3 {
		args := []any{"HELLO", "3"}
		if cfg.Password != "" {
			user := cfg.Username
			if user == "" {
				user = "default"
			}
			args = append(args, "AUTH", user, cfg.Password)
		}
		if cfg.ClientName != "" {
			args = append(args, "SETNAME", cfg.ClientName)
		}
		_, err := c.roundTrip(args...)
		var re *protocol.RedisError
		switch {
		case err == nil:
			c.proto, named = 3, true
		case errors.As(err, &re) && (errors.Is(err, protocol.ErrAuth) || errors.Is(err, protocol.ErrNoPerm)):
			return false, &DialError{Addr: c.addr, Step: "hello", Err: err}
		case !errors.As(err, &re):
			return false, &DialError{Addr: c.addr, Step: "hello", Err: err}
		}
		// Any other error reply (unknown command, NOPROTO): speak RESP2.
	}
	if c.proto == 2 && cfg.Password != "" {
		args := []any{"AUTH", cfg.Password}
		if cfg.Username != "" {
			args = []any{"AUTH", cfg.Username, cfg.Password}
		}
		if _, err := c.roundTrip(args...); err != nil {
			return false, &DialError{Addr: c.addr, Step: "auth", Err: err}
		}
	}
	return named, nil
}

// setUp names the connection (unless HELLO did), selects its database,
// sends READONLY to a cluster replica and, on an untimed connection, learns its CLIENT ID.
func (c *Conn) setUp(named bool) error {
	cfg := c.cfg
	if !named && cfg.ClientName != "" {
		if _, err := c.roundTrip("CLIENT", "SETNAME", cfg.ClientName); err != nil {
			return &DialError{Addr: c.addr, Step: "setname", Err: err}
		}
	}
	if cfg.DB != 0 {
		if _, err := c.roundTrip("SELECT", strconv.Itoa(cfg.DB)); err != nil {
			return &DialError{Addr: c.addr, Step: "select", Err: err}
		}
	}
	if cfg.ReadOnly {
		if _, err := c.roundTrip("READONLY"); err != nil {
			return &DialError{Addr: c.addr, Step: "readonly", Err: err}
		}
	}
	if c.kind.untimed() {
		// An untimed connection learns its id, so that a blocking command
		// abandoned by its caller can be woken with CLIENT UNBLOCK from
		// another connection instead of closing this one.
		if v, err := c.roundTrip("CLIENT", "ID"); err == nil && v.Kind == protocol.KindInteger {
			c.clientID = v.Int
		} else if err != nil {
			var re *protocol.RedisError
			if !errors.As(err, &re) {
				return &DialError{Addr: c.addr, Step: "client id", Err: err}
			}
		}
	}
	return nil
}

// roundTrip writes one command and reads its reply; only for the
// handshake, before the loops run.
func (c *Conn) roundTrip(args ...any) (protocol.Value, error) {
	buf, err := protocol.AppendCommand(nil, args...)
	if err != nil {
		return protocol.Value{}, err
	}
	if _, err := c.nc.Write(buf); err != nil {
		return protocol.Value{}, err
	}
	for {
		v, err := c.rd.Read()
		if err != nil {
			return protocol.Value{}, err
		}
		if v.Kind == protocol.KindPush {
			continue
		}
		return v, v.Err()
	}
}

// ctxCause returns ctx's error in place of err when ctx is why err
// happened, so that callers can match it with errors.Is: net reports an
// ended context as its own timeout or cancellation errors, and a socket
// deadline copied from ctx may fire a moment before ctx itself ends.
func ctxCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return context.DeadlineExceeded
		}
	}
	return err
}

package pool

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/protocol"
)

// request is one command queued on a connection.
type request struct {
	ctx  context.Context
	cmd  *async.Command
	sink async.Sink
}

// Conn is one connection to a server. Commands from any goroutine are
// queued; a writer goroutine writes everything queued since its last write
// in one system call, and a reader goroutine matches replies to commands
// strictly in order. Conn implements async.Executor.
type Conn struct {
	cfg        Config
	addr       string
	nc         net.Conn
	rd         *protocol.Reader
	proto      int  // 2 or 3, as negotiated
	noDeadline bool // exempt from ReadTimeout: runs blocking commands
	onDead     func(*Conn)

	wake chan struct{} // capacity 1; written by Exec; read by the writer loop; never closed
	dead chan struct{} // closed by die, once

	mu      sync.Mutex // guards the fields below
	queue   []request  // accepted, not yet taken by the writer
	spare   []request  // the writer's previous batch, reused as the next queue
	pending ring       // written, awaiting replies, in order
	err     error      // why the connection died; nil while alive
	since   time.Time  // when pending last became non-empty or a reply last came

	load     atomic.Int64 // commands queued or pending, for load balancing
	lastUsed atomic.Int64 // unix nanoseconds of the last write

	wg sync.WaitGroup // the writer and reader loops
}

// Dial connects to cfg.Addr, performs the handshake and starts the
// connection's goroutines. Errors are *DialError.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return dial(ctx, cfg, false, nil)
}

// dial connects; noDeadline and onDead are set before the loops start.
func dial(ctx context.Context, cfg Config, noDeadline bool, onDead func(*Conn)) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, cfg.Network, cfg.Addr)
	if err != nil {
		return nil, &DialError{Addr: cfg.Addr, Step: "dial", Err: err}
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
			return nil, &DialError{Addr: cfg.Addr, Step: "tls", Err: err}
		}
		nc = tlsConn
	}
	c := &Conn{
		cfg:        cfg,
		addr:       cfg.Addr,
		nc:         nc,
		rd:         protocol.NewReader(bufio.NewReaderSize(nc, 32<<10), cfg.Limits),
		wake:       make(chan struct{}, 1),
		dead:       make(chan struct{}),
		noDeadline: noDeadline,
		onDead:     onDead,
	}
	if err := c.handshake(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	c.lastUsed.Store(time.Now().UnixNano())
	c.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
	return c, nil
}

// handshake runs HELLO (or AUTH), CLIENT SETNAME and SELECT synchronously,
// before the loops start.
func (c *Conn) handshake(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	cfg := c.cfg
	c.proto = 2
	named := false
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
			return &DialError{Addr: c.addr, Step: "hello", Err: err}
		case !errors.As(err, &re):
			return &DialError{Addr: c.addr, Step: "hello", Err: err}
		}
		// Any other error reply (unknown command, NOPROTO): speak RESP2.
	}
	if c.proto == 2 && cfg.Password != "" {
		args := []any{"AUTH", cfg.Password}
		if cfg.Username != "" {
			args = []any{"AUTH", cfg.Username, cfg.Password}
		}
		if _, err := c.roundTrip(args...); err != nil {
			return &DialError{Addr: c.addr, Step: "auth", Err: err}
		}
	}
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

// Addr is the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Protocol is the negotiated RESP version, 2 or 3.
func (c *Conn) Protocol() int { return c.proto }

// Err returns why the connection died, or nil while it is alive.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Dead is closed when the connection dies or is closed.
func (c *Conn) Dead() <-chan struct{} { return c.dead }

// Load is the number of commands queued or awaiting replies.
func (c *Conn) Load() int64 { return c.load.Load() }

// Exec queues cmd; sink.Complete is called exactly once with its reply or
// error. It never blocks. A command whose ctx has ended before the writer
// takes it is not sent.
func (c *Conn) Exec(ctx context.Context, cmd *async.Command, sink async.Sink) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		async.FailNotSent(cmd, sink, &ConnError{Addr: c.addr, Err: err})
		return
	}
	c.queue = append(c.queue, request{ctx: ctx, cmd: cmd, sink: sink})
	first := len(c.queue) == 1
	c.mu.Unlock()
	c.load.Add(1)
	if first {
		select {
		case c.wake <- struct{}{}:
		default: // the writer is already due to run
		}
	}
}

// ExecBatch queues several commands at once, in order, so that they are
// written together (async.BatchExecutor).
func (c *Conn) ExecBatch(ctx context.Context, cmds []*async.Command, sinks []async.Sink) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		for i := range cmds {
			async.FailNotSent(cmds[i], sinks[i], &ConnError{Addr: c.addr, Err: err})
		}
		return
	}
	first := len(c.queue) == 0
	for i := range cmds {
		c.queue = append(c.queue, request{ctx: ctx, cmd: cmds[i], sink: sinks[i]})
	}
	c.mu.Unlock()
	c.load.Add(int64(len(cmds)))
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Close closes the connection: commands awaiting replies fail as in
// flight, queued ones as not sent. It waits for the connection's
// goroutines and is idempotent.
func (c *Conn) Close() error {
	c.die(ErrClosed)
	c.wg.Wait()
	return nil
}

// die marks the connection dead once and fails everything it holds.
func (c *Conn) die(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = cause
	queue := c.queue
	c.queue = nil
	inflight := c.pending.drain()
	c.mu.Unlock()

	close(c.dead)
	c.nc.Close()
	notSent := &ConnError{Addr: c.addr, Err: cause}
	for _, r := range queue {
		async.FailNotSent(r.cmd, r.sink, notSent)
	}
	sent := &ConnError{Addr: c.addr, Sent: true, Err: cause}
	for _, s := range inflight {
		s.Complete(protocol.Value{}, sent)
	}
	c.load.Store(0)
	if c.onDead != nil {
		c.onDead(c)
	}
}

// writeLoop writes queued commands, all that have accumulated since the
// last write in one system call, and runs the health checks.
func (c *Conn) writeLoop() {
	defer c.wg.Done()
	tick := c.cfg.HealthCheckInterval
	if rt := c.cfg.ReadTimeout; rt > 0 && (tick <= 0 || rt/4 < tick) {
		tick = rt / 4
	}
	var ticks <-chan time.Time
	if tick > 0 {
		t := time.NewTicker(tick)
		defer t.Stop()
		ticks = t.C
	}
	buf := make([]byte, 0, 16<<10)
	var sinks []async.Sink
	var cmds []*async.Command // released once written
	var noReply []async.Sink  // completed once written
	for {
		select {
		case <-c.dead:
			return
		case <-ticks:
			c.healthCheck()
			continue
		case <-c.wake:
		}
		c.mu.Lock()
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.mu.Unlock()

		buf, sinks, cmds, noReply = buf[:0], sinks[:0], cmds[:0], noReply[:0]
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				r.cmd.Release()
				r.sink.Complete(protocol.Value{}, err) // never sent
				c.load.Add(-1)
			} else if r.cmd.NoReply {
				buf = append(buf, r.cmd.Buf...)
				noReply = append(noReply, r.sink)
				r.cmd.Release()
				c.load.Add(-1)
			} else {
				buf = append(buf, r.cmd.Buf...)
				sinks = append(sinks, r.sink)
				cmds = append(cmds, r.cmd)
			}
			batch[i] = request{}
		}
		if len(sinks) > 0 || len(noReply) > 0 {
			c.mu.Lock()
			if c.err != nil { // died while the batch was in hand
				err := &ConnError{Addr: c.addr, Err: c.err}
				c.mu.Unlock()
				for i, s := range sinks {
					async.FailNotSent(cmds[i], s, err)
				}
				for _, s := range noReply {
					s.Complete(protocol.Value{}, err)
				}
				return
			}
			if c.pending.len() == 0 && len(sinks) > 0 {
				c.since = time.Now()
			}
			c.pending.push(sinks...)
			c.mu.Unlock()
			c.lastUsed.Store(time.Now().UnixNano())
			_, err := c.nc.Write(buf)
			for i, cmd := range cmds {
				cmd.Release()
				cmds[i] = nil
			}
			if err != nil {
				for _, s := range noReply {
					s.Complete(protocol.Value{}, &ConnError{Addr: c.addr, Sent: true, Err: err})
				}
				c.die(err)
				return
			}
			for _, s := range noReply {
				s.Complete(protocol.Value{Kind: protocol.KindSimpleString, Str: "OK"}, nil)
			}
		}
		c.mu.Lock()
		if c.spare == nil {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		if cap(buf) > 1<<20 {
			buf = make([]byte, 0, 16<<10) // do not pin a huge buffer
		}
	}
}

// healthCheck declares the connection dead when the server has owed a
// reply for longer than ReadTimeout, and pings an idle connection.
func (c *Conn) healthCheck() {
	now := time.Now()
	c.mu.Lock()
	waiting := c.pending.len() > 0
	stuck := waiting && !c.noDeadline && c.cfg.ReadTimeout > 0 && now.Sub(c.since) > c.cfg.ReadTimeout
	idle := !waiting && len(c.queue) == 0
	c.mu.Unlock()
	if stuck {
		c.die(ErrReadTimeout)
		return
	}
	hc := c.cfg.HealthCheckInterval
	if idle && !c.noDeadline && hc > 0 && now.Sub(time.Unix(0, c.lastUsed.Load())) >= hc {
		cmd := async.NewCommand()
		cmd.Buf = protocol.AppendString(protocol.AppendArrayHeader(cmd.Buf, 1), "PING")
		c.Exec(context.Background(), cmd, discard{})
	}
}

// discard is the sink of health-check pings: a failed ping needs no
// action, because the connection's own death is what matters.
type discard struct{}

func (discard) Complete(protocol.Value, error) {}

// readLoop matches each reply to the oldest pending command.
func (c *Conn) readLoop() {
	defer c.wg.Done()
	for {
		v, err := c.rd.Read()
		if err != nil {
			c.die(err)
			return
		}
		if v.Kind == protocol.KindPush {
			if c.cfg.OnPush != nil {
				c.cfg.OnPush(v)
			}
			continue
		}
		c.mu.Lock()
		s, ok := c.pending.pop()
		c.since = time.Now()
		c.mu.Unlock()
		if !ok {
			c.die(ErrUnexpectedReply)
			return
		}
		c.load.Add(-1)
		s.Complete(v, nil)
	}
}

// ring is a FIFO of sinks that reuses its storage.
type ring struct {
	buf        []async.Sink
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(ss ...async.Sink) {
	if r.size+len(ss) > len(r.buf) {
		n := max(2*len(r.buf), r.size+len(ss), 64)
		nb := make([]async.Sink, n)
		for i := 0; i < r.size; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	for _, s := range ss {
		r.buf[(r.head+r.size)%len(r.buf)] = s
		r.size++
	}
}

func (r *ring) pop() (async.Sink, bool) {
	if r.size == 0 {
		return nil, false
	}
	s := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return s, true
}

func (r *ring) drain() []async.Sink {
	out := make([]async.Sink, 0, r.size)
	for {
		s, ok := r.pop()
		if !ok {
			return out
		}
		out = append(out, s)
	}
}

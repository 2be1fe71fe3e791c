package pool

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Config configures a Pool, and the connections Dial makes. The zero value
// of each field means its default; invalid values are reported by New and
// Dial.
type Config struct {
	// Addr is "host:port", or a unix socket path (starting with "/" or
	// with Network "unix"). Required.
	Addr string
	// Network is "tcp" or "unix"; default from Addr.
	Network string
	// TLS, if set, wraps TCP connections in TLS. An empty ServerName is
	// filled in from Addr's host.
	TLS *tls.Config
	// Username and Password authenticate each connection (AUTH, or HELLO's
	// AUTH). An empty Username with a Password authenticates the default
	// user.
	Username string
	Password string
	// DB is the database each connection SELECTs; default 0.
	DB int
	// ClientName is set with CLIENT SETNAME on each connection.
	ClientName string
	// ReadOnly sends READONLY on each connection after the handshake, so
	// that a Redis Cluster replica serves reads of its master's slots
	// instead of redirecting them; the cluster client sets it for the
	// replicas it reads from.
	ReadOnly bool
	// Protocol is 2 or 3; default 3, falling back to 2 when the server does
	// not know HELLO.
	Protocol int
	// DialTimeout bounds dialing plus the handshake, together with the
	// caller's context; default 5s.
	DialTimeout time.Duration
	// ReadTimeout is how long a connection that owes replies may go
	// without receiving a single byte before it is declared dead (a hung
	// server); default 10s; negative disables it. It counts from the last
	// bytes received, so a large reply that keeps arriving is never cut.
	// Dedicated connections running blocking commands are exempt.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to the server: a server that stops
	// reading kills the connection after it; default 10s; negative
	// disables it.
	WriteTimeout time.Duration
	// MaxPending bounds the commands one connection holds, queued plus
	// awaiting replies; default 65536. MaxQueueBytes bounds the encoded
	// size of its queued, not yet written, commands; default 8 MiB. A
	// command that finds a connection full waits for room, at most until
	// its context ends or the connection dies; waiting callers are let in
	// in the order they came. The pool holds at most MaxPending commands
	// waiting for a connection being dialled, the same way.
	MaxPending    int
	MaxQueueBytes int
	// HealthCheckInterval is how long a connection may sit idle before it
	// sends a PING, so a dead or hung server is noticed without traffic;
	// default 1s; negative disables it.
	HealthCheckInterval time.Duration
	// Limits bound the replies a connection accepts.
	Limits protocol.Limits
	// MinSize is how many shared, pipelined connections the pool keeps
	// open; default 1. A command goes to the shared connection picked by
	// its first key's hash slot (keyless commands to the first one), so
	// commands on one key always share a connection and run in the order
	// they were issued. One connection pipelines best: its writer
	// coalesces everything queued into one write, and Redis runs commands
	// on one thread anyway. Measured (bench/results/minsize.md, loopback,
	// 2 cores): four connections gave 0.74–1.12× the throughput of one at
	// 16–1024 goroutines and cost 8–43 % more CPU per command; more may
	// help when one connection's bandwidth or a TLS connection's
	// encryption is the limit.
	MinSize int
	// MaxSize bounds the dedicated connections lent for blocking
	// commands, transactions and Acquire; default 10.
	MaxSize int
	// IdleTimeout closes a dedicated connection that has sat unused in
	// the pool this long, so a burst of blocking commands or transactions
	// does not leave MaxSize connections open for ever; default 5 min,
	// negative keeps them. Shared connections stay (MinSize of them).
	IdleTimeout time.Duration
	// ReconnectBackoff is the first wait after a failed dial, doubled per
	// failure up to MaxReconnectBackoff (default 50ms and 2s), with jitter.
	ReconnectBackoff    time.Duration
	MaxReconnectBackoff time.Duration
	// OnPush, if set, receives RESP3 push frames that arrive on shared
	// connections (such as client-tracking invalidations). It runs on the
	// connection's reader goroutine and must not block.
	OnPush func(protocol.Value)
	// Hooks, if set, observe commands (with the server's address and how
	// each ended) and connections opening and closing; see core.Hooks.
	// Unset, they cost one nil check per command.
	Hooks *core.Hooks
}

func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		return c, errors.New("pool: Config.Addr is required")
	}
	if c.Network == "" {
		c.Network = "tcp"
		if strings.HasPrefix(c.Addr, "/") {
			c.Network = "unix"
		}
	}
	if c.Network != "tcp" && c.Network != "unix" {
		return c, fmt.Errorf("pool: Config.Network %q: want tcp or unix", c.Network)
	}
	if c.Network == "unix" && c.TLS != nil {
		return c, errors.New("pool: Config.TLS is set for a unix socket address: TLS applies to TCP only")
	}
	if c.Protocol == 0 {
		c.Protocol = 3
	}
	if c.Protocol != 2 && c.Protocol != 3 {
		return c, fmt.Errorf("pool: Config.Protocol %d: want 2 or 3", c.Protocol)
	}
	if c.DB < 0 {
		return c, fmt.Errorf("pool: Config.DB %d is negative", c.DB)
	}
	if err := c.timesWithDefaults(); err != nil {
		return c, err
	}
	return c.boundsWithDefaults()
}

// timesWithDefaults checks the durations and fills in their defaults.
func (c *Config) timesWithDefaults() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DialTimeout", c.DialTimeout}, {"ReconnectBackoff", c.ReconnectBackoff}, {"MaxReconnectBackoff", c.MaxReconnectBackoff}} {
		if d.v < 0 {
			return fmt.Errorf("pool: Config.%s %v is negative", d.name, d.v)
		}
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.DialTimeout, 5*time.Second)
	setDur(&c.ReadTimeout, 10*time.Second)
	setDur(&c.WriteTimeout, 10*time.Second)
	setDur(&c.HealthCheckInterval, time.Second)
	setDur(&c.IdleTimeout, 5*time.Minute)
	setDur(&c.ReconnectBackoff, 50*time.Millisecond)
	setDur(&c.MaxReconnectBackoff, 2*time.Second)
	if c.MaxReconnectBackoff < c.ReconnectBackoff {
		return fmt.Errorf("pool: Config.MaxReconnectBackoff %v is below ReconnectBackoff %v", c.MaxReconnectBackoff, c.ReconnectBackoff)
	}
	return nil
}

// boundsWithDefaults checks the sizes and bounds and fills in their
// defaults.
func (c Config) boundsWithDefaults() (Config, error) {
	if c.MinSize == 0 {
		c.MinSize = 1
	}
	if c.MaxSize == 0 {
		c.MaxSize = 10
	}
	if c.MinSize < 0 || c.MaxSize < 1 {
		return c, fmt.Errorf("pool: MinSize %d / MaxSize %d: want MinSize >= 0, MaxSize >= 1", c.MinSize, c.MaxSize)
	}
	if c.MaxPending == 0 {
		c.MaxPending = 65536
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = 8 << 20
	}
	if c.MaxPending < 0 || c.MaxQueueBytes < 0 {
		return c, fmt.Errorf("pool: MaxPending %d / MaxQueueBytes %d is negative", c.MaxPending, c.MaxQueueBytes)
	}
	return c, nil
}

// String describes the configuration with secrets masked.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = " password=***"
	}
	tlsOn := ""
	if c.TLS != nil {
		tlsOn = " tls"
	}
	return fmt.Sprintf("pool.Config{addr=%s db=%d user=%q%s%s min=%d max=%d}", c.Addr, c.DB, c.Username, pw, tlsOn, c.MinSize, c.MaxSize)
}

// GoString is String, so that %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// Format writes String for every verb, so that no verb prints the
// password.
func (c Config) Format(f fmt.State, _ rune) { f.Write([]byte(c.String())) }

// Validate reports the error New or Dial would return for this
// configuration, without connecting.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

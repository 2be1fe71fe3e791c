package sentinel

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/asyncredis/asyncredis/pool"
)

// Config configures New and NewSentinelPool. The zero value of each field
// means its default; negative durations and sizes are errors.
type Config struct {
	// Sentinels lists sentinel addresses ("host:port"), tried in order.
	// Required. Peers learned from the sentinels are added in memory.
	Sentinels []string

	// Pool is the template for the connection pool of every master and
	// replica: credentials, DB, TLS, RESP version, timeouts, sizes, queue
	// bounds, decoder limits, every pool.Config knob with pool's own
	// defaults. Its Addr is set per node and must be empty.
	Pool pool.Config

	// Sentinel configures the connections to sentinels: Username,
	// Password, TLS, Limits, Protocol. Its Addr must be empty; DialTimeout
	// defaults to SentinelTimeout and ReadTimeout to four times it. Pool
	// sizes do not apply (one connection per sentinel).
	Sentinel pool.Config

	// SentinelTimeout bounds each request to one sentinel, and each ROLE
	// check of a node; default 500ms. Sentinels are asked concurrently, so
	// a dead one costs at most this long.
	SentinelTimeout time.Duration
	// RecheckInterval is how often every service is rediscovered and its
	// nodes' ROLE checked, catching events that were lost; default 2s.
	RecheckInterval time.Duration
	// Listeners bounds how many sentinels the pool subscribes to for
	// events; default 16. Only the failover leader announces that a
	// failover has started, so the fence needs every sentinel heard.
	Listeners int

	// DisableFence turns the fence off. By default, on the first sign
	// that a failover of the master has started (+try-failover,
	// +selected-slave, +failover-state-send-slaveof-noone, ...), nothing more is
	// written to that master: commands wait, as during a switch, until
	// +switch-master (then they go to the new master), a
	// -failover-abort-*, or the failover timeout passes and a re-check
	// finds the same master. Writes pause for about the failover's
	// duration instead of being acknowledged by a master that is about to
	// be demoted and lose them.
	DisableFence bool

	// MaxReplicaStaleness bounds how long a replica whose link to its
	// master is down may keep serving reads. By default (0) it serves them
	// however long, as Redis does (replica-serve-stale-data yes): while a
	// master is dead or being failed over, its replicas keep answering
	// with the data they have. Set, a replica whose link has been down
	// longer (INFO's master_link_down_since_seconds, so with a second's
	// precision) is left out until it is linked again. A replica receiving
	// a full copy from its master is used only when no other one is.
	MaxReplicaStaleness time.Duration

	// FailFast makes commands fail at once with *MasterNotFoundError while
	// no verified master is known, as aioredis does, instead of waiting for
	// one (bounded by QueueSize and their context). Commands issued before
	// the first discovery has finished wait for its verdict, so that their
	// error says why (ErrNoSentinel, ErrUnknownName, a refused password).
	FailFast bool
	// QueueSize bounds the commands waiting for a master per service;
	// default 4096.
	QueueSize int
	// ReplicaFallbackToMaster lets ReplicaFor clients read from the master
	// when no replica is usable. Default false: a replica client then
	// fails with *ReplicaNotFoundError, so that read load never lands on
	// the master unannounced.
	ReplicaFallbackToMaster bool

	// AddrMapper, if set, rewrites every address a sentinel reports before
	// it is used (for NAT and containers).
	AddrMapper func(addr string) string
	// Logger receives discovery and failover records; default discards.
	Logger *slog.Logger
	// EventBuffer is the capacity of the Events channel; default 256.
	EventBuffer int
	// OnEvent, if set, is called with every event, before it is offered
	// to the Events channel (which drops events a slow reader leaves
	// behind; OnEvent misses none). It runs on the pool's loop goroutine
	// and must not block: count, log or hand off.
	OnEvent func(Event)
}

// withDefaults checks c and fills in the defaults: the one place for
// both. The pool.Config parts are checked by pool itself.
func (c Config) withDefaults() (Config, error) {
	if len(c.Sentinels) == 0 {
		return c, errors.New("sentinel: Config.Sentinels is empty")
	}
	if c.Pool.Addr != "" || c.Sentinel.Addr != "" {
		return c, errors.New("sentinel: Config.Pool.Addr and Config.Sentinel.Addr must be empty: addresses come from the sentinels")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"SentinelTimeout", int64(c.SentinelTimeout)}, {"RecheckInterval", int64(c.RecheckInterval)},
		{"Listeners", int64(c.Listeners)}, {"QueueSize", int64(c.QueueSize)}, {"EventBuffer", int64(c.EventBuffer)},
	} {
		if f.v < 0 {
			return c, fmt.Errorf("sentinel: Config.%s is negative (%d)", f.name, f.v)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&c.SentinelTimeout, 500*time.Millisecond)
	def(&c.RecheckInterval, 2*time.Second)
	defInt(&c.Listeners, 16)
	defInt(&c.QueueSize, 4096)
	defInt(&c.EventBuffer, 256)
	def(&c.Sentinel.DialTimeout, c.SentinelTimeout)
	def(&c.Sentinel.ReadTimeout, 4*c.SentinelTimeout)
	if c.Sentinel.HealthCheckInterval == 0 {
		c.Sentinel.HealthCheckInterval = -1 // every request has its own timeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.AddrMapper == nil {
		c.AddrMapper = func(a string) string { return a }
	}
	// Let pool check both templates now rather than per address.
	if err := c.dataConfig("127.0.0.1:6379").Validate(); err != nil {
		return c, fmt.Errorf("sentinel: Config.Pool: %w", err)
	}
	if err := c.sentinelConfig("127.0.0.1:26379").Validate(); err != nil {
		return c, fmt.Errorf("sentinel: Config.Sentinel: %w", err)
	}
	return c, nil
}

// dataConfig is the pool configuration for a master or replica at addr.
func (c Config) dataConfig(addr string) pool.Config {
	pc := c.Pool
	pc.Addr = addr
	return pc
}

// sentinelConfig is the connection configuration for a sentinel.
func (c Config) sentinelConfig(addr string) pool.Config {
	sc := c.Sentinel
	sc.Addr = addr
	return sc
}

// String describes the configuration with secrets masked. Config also
// formats itself masked for every verb (%v, %+v, %#v, %s), so that
// logging a Config never leaks a password.
func (c Config) String() string {
	return fmt.Sprintf("sentinel.Config{sentinels=%v pool=%s sentinel=%s timeout=%v recheck=%v listeners=%d failfast=%t queue=%d}",
		c.Sentinels, c.Pool, c.Sentinel, c.SentinelTimeout, c.RecheckInterval, c.Listeners, c.FailFast, c.QueueSize)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Format writes String for every verb.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

package sentinel

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// Config configures New. The zero value of each field means its default.
type Config struct {
	// Sentinels lists sentinel addresses ("host:port"), tried in order.
	// Required. Peers learned from the sentinels are added in memory.
	Sentinels []string

	// Username, Password, DB, TLS and ClientName apply to connections to
	// masters and replicas.
	Username   string
	Password   string
	DB         int
	TLS        *tls.Config
	ClientName string
	// Protocol is the RESP version for data nodes: 3 (default) or 2.
	Protocol int

	// SentinelUsername, SentinelPassword and SentinelTLS apply to
	// connections to sentinels.
	SentinelUsername string
	SentinelPassword string
	SentinelTLS      *tls.Config

	// Limits bound the replies accepted from masters and replicas, and
	// SentinelLimits those from sentinels (protocol.Limits; zero fields
	// take its defaults).
	Limits         protocol.Limits
	SentinelLimits protocol.Limits

	// MinSize and MaxSize size each managed pool per node, as in pool.Config
	// (defaults 1 and 10).
	MinSize int
	MaxSize int
	// DialTimeout bounds connecting to a data node; default 2s.
	DialTimeout time.Duration
	// ReadTimeout is pool.Config.ReadTimeout for data nodes; default 10s.
	ReadTimeout time.Duration
	// SentinelTimeout bounds each request to one sentinel, and each ROLE
	// check of a node; default 500ms. Sentinels are asked concurrently, so
	// a dead one costs at most this long.
	SentinelTimeout time.Duration
	// RecheckInterval is how often every service is rediscovered and its
	// nodes' ROLE checked, catching events that were lost; default 2s.
	RecheckInterval time.Duration
	// Listeners is how many sentinels the pool subscribes to for events;
	// default 3 (all, when there are fewer).
	Listeners int

	// FailFast makes commands fail at once with *MasterNotFoundError while
	// no verified master is known, as aioredis does, instead of waiting for
	// one (bounded by QueueSize and their context).
	FailFast bool
	// QueueSize bounds the commands waiting for a master per service;
	// default 4096.
	QueueSize int
	// SlaveFallbackToMaster lets SlaveFor clients read from the master when
	// no replica is usable. Default false: a replica client then fails with
	// *SlaveNotFoundError, so that read load never lands on the master
	// unannounced.
	SlaveFallbackToMaster bool

	// AddrMapper, if set, rewrites every address a sentinel reports before
	// it is used (for NAT and containers).
	AddrMapper func(addr string) string
	// Logger receives discovery and failover records; default discards.
	Logger *slog.Logger
	// EventBuffer is the capacity of the Events channel; default 256.
	EventBuffer int
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Sentinels) == 0 {
		return c, errors.New("sentinel: Config.Sentinels is empty")
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&c.DialTimeout, 2*time.Second)
	setDur(&c.SentinelTimeout, 500*time.Millisecond)
	setDur(&c.RecheckInterval, 2*time.Second)
	if c.Listeners <= 0 {
		c.Listeners = 3
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.AddrMapper == nil {
		c.AddrMapper = func(a string) string { return a }
	}
	// Let the pool check the data-node settings now rather than per address.
	if err := c.dataConfig("127.0.0.1:6379").Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// dataConfig is the pool configuration for a master or replica at addr.
func (c Config) dataConfig(addr string) pool.Config {
	return pool.Config{
		Addr: addr, TLS: c.TLS, Username: c.Username, Password: c.Password, DB: c.DB,
		ClientName: c.ClientName, Protocol: c.Protocol, DialTimeout: c.DialTimeout,
		ReadTimeout: c.ReadTimeout, MinSize: c.MinSize, MaxSize: c.MaxSize, Limits: c.Limits,
	}
}

// sentinelConfig is the connection configuration for a sentinel.
func (c Config) sentinelConfig(addr string) pool.Config {
	return pool.Config{
		Addr: addr, TLS: c.SentinelTLS, Username: c.SentinelUsername, Password: c.SentinelPassword,
		DialTimeout: c.SentinelTimeout, HealthCheckInterval: -1, ReadTimeout: 4 * c.SentinelTimeout,
		Limits: c.SentinelLimits,
	}
}

// String describes the configuration with secrets masked. Config also
// formats itself masked for every verb (%v, %+v, %#v, %s), so that
// logging a Config never leaks a password.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return `""`
		}
		return "***"
	}
	return fmt.Sprintf("sentinel.Config{sentinels=%v user=%q password=%s db=%d tls=%t sentinel-user=%q sentinel-password=%s sentinel-tls=%t min=%d max=%d}",
		c.Sentinels, c.Username, mask(c.Password), c.DB, c.TLS != nil, c.SentinelUsername, mask(c.SentinelPassword), c.SentinelTLS != nil, c.MinSize, c.MaxSize)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// Format writes String for every verb.
func (c Config) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

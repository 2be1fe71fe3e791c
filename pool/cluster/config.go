package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
)

// Config configures a Cluster. The zero value of each field means its
// default; invalid values are reported by New.
type Config struct {
	// Seeds are the addresses ("host:port") of some of the cluster's
	// nodes, masters or replicas; the rest are learnt from them.
	// Required.
	Seeds []string
	// Pool configures the connections to every node — credentials, TLS,
	// timeouts, limits, hooks, sizes — as it configures a standalone pool;
	// its Addr is ignored (each node's address is used) and ReadOnly is
	// set for the replicas the client reads from.
	Pool pool.Config
	// AddrMapper, if set, maps a node's address as the cluster announces
	// it to the address to dial (NAT, port forwarding, containers).
	AddrMapper func(addr string) string
	// Reads says where read-only commands (core.ReadOnly) go; default
	// core.ReadMaster. With a replica policy, reads go to the slot's
	// replicas (READONLY connections) while one is healthy, else as the
	// policy says. ReadNearest reads from any node of the slot's shard,
	// master included.
	Reads core.ReadPolicy
	// RefreshInterval is how often the slot map is read again without a
	// reason (MOVED, a failed connection, CLUSTERDOWN trigger one at once);
	// default 5s; negative disables the periodic refresh.
	RefreshInterval time.Duration
	// RefreshTimeout bounds asking one node for the slot map; the next
	// node is asked after it; default 1s.
	RefreshTimeout time.Duration
	// MaxRedirects bounds the MOVED and ASK redirects one command
	// follows before it fails with the last one; default 16.
	MaxRedirects int
	// RetryBackoff is the first pause before retrying a command that the
	// cluster refused for now (TRYAGAIN, CLUSTERDOWN) or whose node could
	// not be reached, doubled per retry up to MaxRetryBackoff, with jitter;
	// default 5ms and 200ms. A slot whose owner changes skips the pause.
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// RetryTimeout bounds how long such a command is retried after its
	// first refusal, when its context has no earlier deadline; default
	// 10s. MaxRetries bounds the retries by count; default 0, no bound
	// but time.
	RetryTimeout time.Duration
	MaxRetries   int
	// MaxWaiting and MaxWaitingBytes bound the commands waiting for their
	// slot (after a redirect, while a slot's earlier commands come back,
	// or for a node to be reachable), by count and encoded size; default
	// 65536 and 64 MiB. New commands for a waiting slot wait for room
	// when the line is full, at most until their context ends.
	MaxWaiting      int
	MaxWaitingBytes int
	// EventBuffer is the capacity of the Events channel; default 64. When
	// it is full the oldest event is dropped.
	EventBuffer int
	// FollowRedirectsAnywhere makes the client follow a MOVED or ASK to
	// any address, as go-redis and rueidis do. By default a redirect is
	// followed only to a node the slot map names: to any other address
	// the map is read first and the command sent where it says, and a
	// second such redirect fails the command (ErrUnknownNode). Either
	// way, no connection — and so no credential — goes to a node outside
	// the map unless this is set.
	FollowRedirectsAnywhere bool
	// MaxNodes and MaxReplicasPerShard bound the slot map a node may give:
	// a larger one is refused as malformed (the next node is asked);
	// default 1000 and 64, well above any real cluster.
	MaxNodes            int
	MaxReplicasPerShard int
}

func (c Config) withDefaults() (Config, error) {
	if len(c.Seeds) == 0 {
		return c, errors.New("cluster: Config.Seeds is empty: give at least one node's address")
	}
	if err := c.nonNegative(); err != nil {
		return c, err
	}
	if c.Reads < core.ReadMaster || c.Reads > core.ReadNearest {
		return c, fmt.Errorf("cluster: Config.Reads %d is not a core.ReadPolicy", c.Reads)
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setInt := func(n *int, def int) {
		if *n == 0 {
			*n = def
		}
	}
	setDur(&c.RefreshInterval, 5*time.Second)
	setDur(&c.RefreshTimeout, time.Second)
	setDur(&c.RetryBackoff, 5*time.Millisecond)
	setDur(&c.MaxRetryBackoff, 200*time.Millisecond)
	setDur(&c.RetryTimeout, 10*time.Second)
	setInt(&c.MaxRedirects, 16)
	setInt(&c.MaxWaiting, 65536)
	setInt(&c.MaxWaitingBytes, 64<<20)
	setInt(&c.EventBuffer, 64)
	setInt(&c.MaxNodes, defaultMaxNodes)
	setInt(&c.MaxReplicasPerShard, defaultMaxReplicas)
	if c.MaxRetryBackoff < c.RetryBackoff {
		return c, fmt.Errorf("cluster: Config.MaxRetryBackoff %v is below RetryBackoff %v", c.MaxRetryBackoff, c.RetryBackoff)
	}
	// Each node's pool checks the rest of Pool; check it once here with a
	// seed's address so that a bad Pool fails New, not the first command.
	pc := c.Pool
	pc.Addr = c.Seeds[0]
	if err := pc.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// nonNegative reports the first duration or count set below zero.
func (c Config) nonNegative() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"RefreshTimeout", c.RefreshTimeout}, {"RetryBackoff", c.RetryBackoff},
		{"MaxRetryBackoff", c.MaxRetryBackoff}, {"RetryTimeout", c.RetryTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("cluster: Config.%s %v is negative", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"MaxRedirects", c.MaxRedirects}, {"MaxRetries", c.MaxRetries}, {"MaxWaiting", c.MaxWaiting},
		{"MaxWaitingBytes", c.MaxWaitingBytes}, {"EventBuffer", c.EventBuffer},
		{"MaxNodes", c.MaxNodes}, {"MaxReplicasPerShard", c.MaxReplicasPerShard}} {
		if n.v < 0 {
			return fmt.Errorf("cluster: Config.%s %d is negative", n.name, n.v)
		}
	}
	return nil
}

// poolConfig is the configuration of the pool to the node at addr.
func (c Config) poolConfig(addr string, replica bool) pool.Config {
	pc := c.Pool
	pc.Addr = addr
	pc.Network = ""
	pc.ReadOnly = replica
	return pc
}

// controlConfig is the configuration of the connection that asks the
// node at addr for the slot map: a map's replies are bounded (no array
// longer than every slot's range bounds), so that an absurd reply fails
// at its header instead of being decoded.
func (c Config) controlConfig(addr string) pool.Config {
	pc := c.poolConfig(addr, false)
	if l := &pc.Limits; l.MaxAggregateLen <= 0 || l.MaxAggregateLen > 2*NumSlots {
		l.MaxAggregateLen = 2 * NumSlots
	}
	return pc
}

// mapReader returns the reader of a map given by the node at addr.
func (c Config) mapReader(addr string) mapReader {
	return mapReader{askedHost: hostOf(addr), mapAddr: c.AddrMapper, tls: c.Pool.TLS != nil,
		maxNodes: c.MaxNodes, maxReplicas: c.MaxReplicasPerShard}
}

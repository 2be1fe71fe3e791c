package cluster

import (
	"context"
	"errors"
	"iter"
	"strings"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"golang.org/x/sync/errgroup"
)

// Client returns a typed client over the cluster. (This file and the
// helpers below are the cluster's facade: the only code of the package
// that imports the typed client; see async/core's package documentation.)
func (c *Cluster) Client() *async.Client { return async.NewClient(c) }

// ErrWholeCluster is matched by the refusal of a keyless command whose
// answer would cover one node only (SCAN, KEYS, DBSIZE, FLUSHALL,
// FLUSHDB, RANDOMKEY): use Scan, ForEachMaster or ForEachNode.
var ErrWholeCluster = errors.New("cluster: command covers one node only; use Cluster.Scan, ForEachMaster or ForEachNode")

// wholeCluster lists the keyless commands refused on the routed path.
var wholeCluster = map[string]bool{"SCAN": true, "KEYS": true, "DBSIZE": true, "FLUSHALL": true, "FLUSHDB": true, "RANDOMKEY": true}

// refusedWhole reports whether cmd is one of wholeCluster.
func refusedWhole(name []byte) bool {
	if len(name) < 4 || len(name) > 9 {
		return false
	}
	return wholeCluster[strings.ToUpper(string(name))]
}

// Scan iterates the keys matching a on every master, one master after
// another, fetching pages lazily; breaking out of the loop stops it. An
// error is yielded once, last. As with SCAN itself a key may appear more
// than once, and keys that move between masters during the scan may be
// missed or repeated.
func (c *Cluster) Scan(ctx context.Context, a async.ScanArgs) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, n := range c.masterNodes() {
			for key, err := range async.NewClient(n.pool).Scan(ctx, a) {
				if !yield(key, err) || err != nil {
					return
				}
			}
		}
	}
}

// masterNodes returns the nodes of the masters in the map.
func (c *Cluster) masterNodes() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, s := range c.topo.Shards {
		if n := c.nodes[s.Master.Addr]; n != nil {
			out = append(out, n)
		}
	}
	return out
}

// ForEachMaster runs fn for every master at once, each with a client of
// that master alone (FLUSHALL, SCRIPT LOAD, CONFIG SET, ...), and returns
// the first error; ctx given to fn ends when one fails.
func (c *Cluster) ForEachMaster(ctx context.Context, fn func(ctx context.Context, addr string, client *async.Client) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range c.masterNodes() {
		g.Go(func() error { return fn(gctx, n.addr, async.NewClient(n.pool)) })
	}
	return g.Wait()
}

// ForEachNode is ForEachMaster over every node of the map, replicas
// included (their connections are READONLY; a pool is opened for the
// call to a replica the client does not read from).
func (c *Cluster) ForEachNode(ctx context.Context, fn func(ctx context.Context, addr string, client *async.Client) error) error {
	type target struct {
		addr string
		ex   core.Executor
		own  *pool.Pool // opened for this call
	}
	var targets []target
	c.mu.Lock()
	for _, s := range c.topo.Shards {
		if n := c.nodes[s.Master.Addr]; n != nil {
			targets = append(targets, target{addr: n.addr, ex: n.pool})
		}
		for _, r := range s.Replicas {
			if n := c.nodes[replicaKey(r.Addr)]; n != nil {
				targets = append(targets, target{addr: r.Addr, ex: n.pool})
				continue
			}
			p, err := pool.New(c.cfg.poolConfig(r.Addr, true))
			if err == nil {
				targets = append(targets, target{addr: r.Addr, ex: p, own: p})
			}
		}
	}
	c.mu.Unlock()
	defer func() {
		for _, t := range targets {
			if t.own != nil {
				t.own.Close()
			}
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range targets {
		g.Go(func() error { return fn(gctx, t.addr, async.NewClient(t.ex)) })
	}
	return g.Wait()
}

// Info returns CLUSTER INFO of one master, as a map.
func (c *Cluster) Info(ctx context.Context) *async.Future[map[string]string] {
	return async.Cmd(ctx, c.Client(), toInfo, "CLUSTER", "INFO")
}

func toInfo(v protocol.Value) (map[string]string, error) {
	s, err := async.ToString(v)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, val, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = val
		}
	}
	return m, nil
}

// Shards returns CLUSTER SHARDS of one master (CLUSTER SLOTS before
// Redis 7), addresses mapped by Config.AddrMapper.
func (c *Cluster) Shards(ctx context.Context) (Topology, error) {
	n := c.anyMaster()
	if n == nil {
		return Topology{}, core.NewNotSent("cluster: no master known")
	}
	return c.fetch(ctx, n.addr)
}

// Nodes returns CLUSTER NODES of one master, as the server writes it.
func (c *Cluster) Nodes(ctx context.Context) *async.Future[string] {
	return async.Cmd(ctx, c.Client(), async.ToString, "CLUSTER", "NODES")
}

// KeySlot asks the server for key's hash slot (CLUSTER KEYSLOT); Slot
// computes the same without asking.
func (c *Cluster) KeySlot(ctx context.Context, key string) *async.Future[int64] {
	return async.Cmd(ctx, c.Client(), async.ToInt64, "CLUSTER", "KEYSLOT", key)
}

// CountKeysInSlot returns CLUSTER COUNTKEYSINSLOT from the slot's master.
func (c *Cluster) CountKeysInSlot(ctx context.Context, slot uint16) *async.Future[int64] {
	n := c.slots.owner[slot%NumSlots].Load()
	if n == nil {
		return async.Failed[int64](core.NewNotSent("cluster: no master known for the slot"))
	}
	return async.Cmd(ctx, async.NewClient(n.pool), async.ToInt64, "CLUSTER", "COUNTKEYSINSLOT", int64(slot))
}

// Slot returns key's hash slot (CRC16 of the key, or of its {hash tag},
// modulo 16384).
func Slot(key string) uint16 { return core.Slot([]byte(key)) }

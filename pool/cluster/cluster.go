package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
)

// anySlot is the pseudo-slot of keyless commands: they go to one master
// (the owner of slot 0, else any) and are ordered among themselves like
// the commands of a slot.
const anySlot = NumSlots

// Cluster is a client of one Redis Cluster: it keeps the slot map, a pool
// per node, and sends each command to its slot's owner (see the package
// documentation). It is an executor (core.Executor and its
// capabilities); Client wraps it in the typed client.
type Cluster struct {
	cfg Config

	ctx    context.Context // ended by Close
	cancel context.CancelFunc
	lc     core.Lifecycle // the refresher and the retry timers
	closed atomic.Bool

	slots    slots    // per slot: owner, next owner, the order of its commands, claims (slots.go)
	maps     mapReads // when and how often the map is read (refresh.go, watch.go)
	events   chan Event
	counters counters
	ctl      controlConns // for asking for the map

	mu      sync.Mutex       // guards the fields below, and slots' and maps' but their atomics
	nodes   map[string]*node // by address: masters and the replicas read from
	topo    Topology         // as last read
	dir     directory        // the map's nodes: where redirects may go (redirect.go)
	retired []*node          // nodes left to Close to close
}

// mapReads is the state of the reading of the slot map.
type mapReads struct {
	asks chan struct{} // capacity 1: written to ask for a refresh; read by the refresher; never closed
	// watchUntil (Unix ns): the map is read every downRefresh until then
	// (set by CLUSTERDOWN, cleared by a change of owners).
	watchUntil atomic.Int64
	gen        uint64        // refreshes started (under Cluster.mu)
	changed    chan struct{} // closed and replaced at each change of the map (a refresh, a MOVED): TargetChanged (under Cluster.mu)
}

// node is one server of the cluster and the pool to it.
type node struct {
	addr      string
	pool      *pool.Pool
	replica   bool         // a replica read from (READONLY connections)
	healthy   atomic.Bool  // as the slot map last said
	downUntil atomic.Int64 // unix nanoseconds: a node that could not be reached counts as down until then

	replicas atomic.Pointer[[]*node]     // a master's replicas that reads may go to
	view     atomic.Pointer[replicaView] // a master's replicas as its own CLUSTER NODES names them (nil: not known); see view.go
	subs     atomic.Int32                // subscriber connections open on it: it is kept while any is (a promoted replica's)
}

// New connects to the cluster: it reads the slot map from the seeds,
// bounded by ctx (an error matching ErrNoNodes if none answered), and
// returns a client that keeps it up to date. Config errors are returned
// as they are.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		cfg: cfg, ctx: cctx, cancel: cancel,
		maps:   mapReads{asks: make(chan struct{}, 1), changed: make(chan struct{})},
		events: make(chan Event, cfg.EventBuffer),
		nodes:  map[string]*node{},
	}
	c.slots.init(&c.mu, cctx.Done(), &c.closed, func(slot int) { c.lc.Go(func() { c.release(slot) }) }, cfg)
	if err := c.refresh(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.lc.Go(c.refresher)
	return c, nil
}

// Config returns the configuration with defaults filled in.
func (c *Cluster) Config() Config { return c.cfg }

// Close fails the waiting commands (never sent), closes every node's
// pool and waits for the client's goroutines. Idempotent.
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		c.lc.Close()
		return nil
	}
	c.cancel()
	c.mu.Lock()
	waiting := c.slots.closeLocked()
	c.mu.Unlock()
	c.ctl.close() // questions out on them end now
	c.lc.Close()
	for _, r := range waiting {
		r.fail(core.NotSent(core.ErrClosed))
	}
	c.slots.line.Wait()
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[string]*node{}
	retired := c.retired
	c.retired = nil
	c.mu.Unlock()
	for _, n := range nodes {
		n.pool.Close()
	}
	for _, n := range retired {
		n.pool.Close()
	}
	return nil
}

// nodeLocked returns the node at addr (its read-only pool for a
// replica read from), starting its pool if it is new; nil only if no pool
// can be made for addr.
func (c *Cluster) nodeLocked(addr string, replica bool) *node {
	key := addr
	if replica {
		key = replicaKey(addr)
	}
	if n := c.nodes[key]; n != nil {
		return n
	}
	if c.closed.Load() {
		return nil // Close has taken the nodes to close: a new one would be left open
	}
	p, err := pool.New(c.cfg.poolConfig(addr, replica))
	if err != nil {
		return nil // Pool was validated with a seed's address: addr itself is bad
	}
	n := &node{addr: addr, pool: p, replica: replica}
	n.healthy.Store(true)
	c.nodes[key] = n
	c.emit(Event{Kind: EventNodeAdded, Addr: addr})
	return n
}

// Masters returns the addresses of the masters in the slot map.
func (c *Cluster) Masters() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, 0, len(c.topo.Shards))
	for _, s := range c.topo.Shards {
		addrs = append(addrs, s.Master.Addr)
	}
	return addrs
}

// Topology returns the slot map as last read (a copy).
func (c *Cluster) Topology() Topology {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := Topology{Shards: make([]Shard, len(c.topo.Shards))}
	for i, s := range c.topo.Shards {
		s.Slots = append([]SlotRange(nil), s.Slots...)
		s.Replicas = append([]NodeInfo(nil), s.Replicas...)
		t.Shards[i] = s
	}
	return t
}

// SlotOwner returns the address of the master the client sends slot's
// commands to now ("" if none).
func (c *Cluster) SlotOwner(slot uint16) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.slots.ownerLocked(int(slot % NumSlots)); n != nil {
		return n.addr
	}
	return ""
}

// retireLocked closes the pool of a node that left the map (now: without
// waiting for its commands out to come back), on a goroutine of the client's (closing a pool waits for its goroutines,
// which may call back into the client); once Close has begun, Close
// closes it.
func (c *Cluster) retireLocked(n *node, now bool) {
	if !c.lc.Go(func() {
		if !now {
			c.drain(n)
		}
		n.pool.Close()
	}) {
		c.retired = append(c.retired, n)
	}
}

// drain waits, at most a few seconds, for the commands out on n's pool
// to come back, so that closing it fails none of them: a node leaves the
// map while it still answers (with MOVED, or as a demoted master). A node
// silent for a second is not waited for (pool.Pool.Drain).
func (c *Cluster) drain(n *node) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	n.pool.Drain(ctx, time.Second)
}

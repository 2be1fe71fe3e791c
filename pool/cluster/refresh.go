package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// minRefreshGap spaces refreshes that follow one another (a node that
// stays unreachable asks for one per retry).
const minRefreshGap = 5 * time.Millisecond

// downRefresh is the pause between refreshes while a master that could
// not be reached still owns slots in the map: the client learns of the
// promotion of its replica within about this long after any node shows
// it (jittered, so clients do not ask in step).
const downRefresh = 10 * time.Millisecond

// requestRefresh asks the refresher for a refresh of the slot map; asks
// made while one is pending or running are coalesced into the next.
func (c *Cluster) requestRefresh() {
	select {
	case c.refreshes <- struct{}{}:
	default:
	}
}

// refresher refreshes the slot map when asked and every RefreshInterval.
func (c *Cluster) refresher() {
	var tick <-chan time.Time
	if c.cfg.RefreshInterval > 0 {
		t := time.NewTicker(c.cfg.RefreshInterval)
		defer t.Stop()
		tick = t.C
	}
	gap := time.NewTimer(0)
	defer gap.Stop()
	var again <-chan time.Time // set while a down master owns slots
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.refreshes:
		case <-tick:
		case <-again:
		}
		if err := c.refresh(c.ctx); err != nil && c.ctx.Err() == nil {
			c.emit(Event{Kind: EventRefreshFailed, Err: err})
		}
		again = nil
		if c.downOwners() {
			again = time.After(downRefresh/2 + rand.N(downRefresh))
		}
		gap.Reset(minRefreshGap)
		select {
		case <-c.ctx.Done():
			return
		case <-gap.C:
		}
	}
}

// downOwners reports whether a master that could not be reached lately
// still owns a slot in the map.
func (c *Cluster) downOwners() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.topo.Shards {
		if n := c.nodes[s.Master.Addr]; n != nil && n.down() {
			return true
		}
	}
	return false
}

// refresh reads the slot map from one node after another (the masters in
// random order, then replicas, then the seeds), each bounded by
// RefreshTimeout, and applies the first answer.
func (c *Cluster) refresh(ctx context.Context) error {
	c.mu.Lock()
	c.gen++
	gen := c.gen
	cands := c.candidatesLocked()
	c.mu.Unlock()
	c.counters.refreshes.Add(1)
	tried := map[string]error{}
	for _, addr := range cands {
		t, err := c.fetch(ctx, addr)
		if err == nil && len(t.Shards) == 0 {
			err = errors.New("cluster: the node serves no slot")
		}
		if err == nil {
			c.apply(t, gen)
			return nil
		}
		tried[addr] = err
		if ctx.Err() != nil {
			break
		}
	}
	return &NoNodesError{Tried: tried}
}

// candidatesLocked lists the nodes to ask for the map, without repeats.
func (c *Cluster) candidatesLocked() []string {
	var masters, replicas []string
	for _, s := range c.topo.Shards {
		masters = append(masters, s.Master.Addr)
		for _, r := range s.Replicas {
			replicas = append(replicas, r.Addr)
		}
	}
	rand.Shuffle(len(masters), func(i, j int) { masters[i], masters[j] = masters[j], masters[i] })
	rand.Shuffle(len(replicas), func(i, j int) { replicas[i], replicas[j] = replicas[j], replicas[i] })
	// Nodes that could not be reached lately are asked last: a host that
	// is gone would cost RefreshTimeout each time.
	var down []string
	up := func(list []string) []string {
		kept := list[:0]
		for _, a := range list {
			if n := c.nodes[a]; n != nil && n.down() {
				down = append(down, a)
			} else if n := c.nodes[replicaKey(a)]; n != nil && n.down() {
				down = append(down, a)
			} else {
				kept = append(kept, a)
			}
		}
		return kept
	}
	masters, replicas = up(masters), up(replicas)
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{masters, replicas, c.cfg.Seeds, down} {
		for _, a := range list {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// fetch asks the node at addr for the slot map: CLUSTER SHARDS, or
// CLUSTER SLOTS where the server does not know SHARDS (before Redis 7).
func (c *Cluster) fetch(ctx context.Context, addr string) (Topology, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RefreshTimeout)
	defer cancel()
	ex, done, err := c.asker(ctx, addr)
	if err != nil {
		return Topology{}, err
	}
	defer done()
	res := addrResolver{askedHost: hostOf(addr), mapAddr: c.cfg.AddrMapper, tls: c.cfg.Pool.TLS != nil}
	v, err := ask1(ctx, ex, "CLUSTER", "SHARDS")
	if err == nil {
		return parseShards(v, res)
	}
	var re *protocol.RedisError
	if !errors.As(err, &re) {
		return Topology{}, err
	}
	if v, err = ask1(ctx, ex, "CLUSTER", "SLOTS"); err != nil {
		return Topology{}, err
	}
	return parseSlots(v, res)
}

// asker returns an executor for addr: the pool of a node in use, else a
// connection of its own, closed by done.
func (c *Cluster) asker(ctx context.Context, addr string) (core.Executor, func(), error) {
	c.mu.Lock()
	n := c.nodes[addr]
	c.mu.Unlock()
	if n != nil {
		return n.pool, func() {}, nil
	}
	conn, err := pool.Dial(ctx, c.cfg.poolConfig(addr, false))
	if err != nil {
		return nil, nil, err
	}
	return conn, func() { conn.Close() }, nil
}

// ask1 sends one command and waits for its reply; an error reply is
// returned as the error.
func ask1(ctx context.Context, ex core.Executor, args ...any) (protocol.Value, error) {
	cmd := core.NewCommand()
	buf, err := protocol.AppendCommand(cmd.Buf, args...)
	if err != nil {
		cmd.Release()
		return protocol.Value{}, err
	}
	cmd.Buf = buf
	w := core.NewReplyWaiter()
	ex.Exec(ctx, cmd, w)
	v, err := w.Wait(ctx)
	if err == nil {
		err = v.Err()
	}
	return v, err
}

// apply makes t the slot map. Slots a MOVED has set since this refresh
// began (gen) keep the MOVED's owner: the node asked may not know yet.
// Slots whose owner changed let their waiting commands go at once; nodes
// that left the map are closed once their commands have come back.
func (c *Cluster) apply(t Topology, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	owners := t.owners()
	old := c.topo
	for _, s := range t.Shards {
		m := c.nodeLocked(s.Master.Addr, false)
		if m == nil {
			continue
		}
		m.healthy.Store(s.Master.Healthy)
		var reps []*node
		if c.cfg.Reads != core.ReadMaster {
			for _, ri := range s.Replicas {
				if rn := c.nodeLocked(ri.Addr, true); rn != nil {
					rn.healthy.Store(ri.Healthy)
					reps = append(reps, rn)
				}
			}
		}
		m.replicas.Store(&reps)
	}
	var moved []int
	for slot := range NumSlots {
		if c.stamp[slot] > gen {
			continue
		}
		var n *node
		if a := owners[slot]; a != "" {
			n = c.nodes[a]
		}
		if c.ownerLocked(slot) != n {
			c.setOwnerLocked(slot, n)
			c.stamp[slot] = gen
			moved = append(moved, slot)
		}
	}
	if first := c.firstOwnerLocked(); c.ownerLocked(anySlot) != first {
		c.setOwnerLocked(anySlot, first)
	}
	c.topo = t
	c.retireUnusedLocked()
	close(c.refreshCh)
	c.refreshCh = make(chan struct{})
	c.reportLocked(old, t, moved)
}

// moveSlot makes addr the owner of slot at once (a MOVED), and asks for
// a refresh: a MOVED usually means more slots moved.
func (c *Cluster) moveSlot(slot int, addr string) {
	if slot < 0 || slot >= NumSlots {
		return
	}
	c.mu.Lock()
	if n := c.nodeLocked(addr, false); n != nil && c.ownerLocked(slot) != n {
		c.setOwnerLocked(slot, n)
		c.stamp[slot] = c.gen + 1
		c.emit(Event{Kind: EventSlotsMoved, Addr: addr, Slots: []SlotRange{{uint16(slot), uint16(slot)}}})
	}
	c.mu.Unlock()
	c.requestRefresh()
}

// retireUnusedLocked closes the nodes that neither the map nor any slot
// names any more: at once when the map reports the node failed (its
// commands in flight will not come back by themselves: a host that is
// gone answers nothing), else once they have come back.
func (c *Cluster) retireUnusedLocked() {
	failed := map[string]bool{}
	for _, s := range c.topo.Shards {
		for _, r := range s.Replicas {
			if !r.Healthy {
				failed[r.Addr] = true
			}
		}
	}
	used := map[*node]bool{}
	for slot := range NumSlots + 1 {
		if n := c.ownerLocked(slot); n != nil {
			used[n] = true
			if reps := n.replicas.Load(); reps != nil {
				for _, r := range *reps {
					used[r] = true
				}
			}
		}
	}
	for key, n := range c.nodes {
		if !used[n] {
			delete(c.nodes, key)
			c.retireLocked(n, failed[n.addr] || n.down())
			c.emit(Event{Kind: EventNodeRemoved, Addr: n.addr})
		}
	}
}

// replicaKey is the key in Cluster.nodes of the read-only pool of the
// replica at addr: a node that is a master and a replica in turn has a
// pool of each kind while commands are out on the old one.
func replicaKey(addr string) string { return "replica " + addr }

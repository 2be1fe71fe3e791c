package cluster

import (
	"context"
	"slices"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
)

// minRefreshGap spaces refreshes that follow one another (a node that
// stays unreachable asks for one per retry).
const minRefreshGap = 5 * time.Millisecond

// downRefresh is the pause between refreshes while a master that could
// not be reached still owns slots in the map: the client learns of the
// promotion of its replica within about this long after any node shows
// it (jittered, so clients do not ask in step).
const downRefresh = 10 * time.Millisecond

// clusterDownWatch is how long after a CLUSTERDOWN reply the map is read
// every downRefresh until it changes: a master the cluster has failed
// (host cut off, process paused) still counts as up to the client, and
// once its replica is promoted the CLUSTERDOWN replies stop and nothing
// else would say so before RefreshInterval.
const clusterDownWatch = 2 * time.Second

// closeWatch is how long the map is read every downRefresh while a node
// is down or silent (a cluster with the default cluster-node-timeout of
// 15 s fails a master over within about that), and slowWatch how often
// after that: many clients asking a hundred times a second for as long as
// a master stays down would load the cluster for nothing.
const (
	closeWatch = 30 * time.Second
	slowWatch  = 500 * time.Millisecond
)

// epochTrust bounds how long a slot's owner is kept against maps that
// name another owner at an older config epoch than the one followed. A
// node that has not heard of a failover or move yet gives such a map for
// a moment (a failover's new master tells every node at once); past
// epochTrust the claim followed is taken for a lie or a mistake (a node
// announcing an absurd epoch) and the maps win.
const epochTrust = 2 * time.Second

// requestRefresh asks the refresher for a refresh of the slot map; asks
// made while one is pending or running are coalesced into the next.
func (c *Cluster) requestRefresh() {
	select {
	case c.maps.asks <- struct{}{}:
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
	var again <-chan time.Time // set while a down master owns slots, or a replica is not serving
	var watchSince time.Time   // when again was first set, since it was last unset
	if c.unhealthyReplicas() {
		again = time.After(replicaRecheck) // the first map, read by New, named one
	}
	silence := time.NewTicker(silentAfter / 4)
	defer silence.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.maps.asks:
		case <-tick:
		case <-again:
		case <-silence.C:
			if !c.silentMaster() {
				continue
			}
			c.maps.watchUntil.Store(time.Now().Add(clusterDownWatch).UnixNano())
		}
		if err := c.refresh(c.ctx); err != nil && c.ctx.Err() == nil {
			c.emit(Event{Kind: EventRefreshFailed, Err: err})
		}
		again = c.nextRefresh(&watchSince)
		gap.Reset(minRefreshGap)
		select {
		case <-c.ctx.Done():
			return
		case <-gap.C:
		}
	}
}

// refresh reads the slot map from one node after another (the masters in
// random order, then replicas, then the seeds), each bounded by
// RefreshTimeout, and applies the first answer.
func (c *Cluster) refresh(ctx context.Context) error {
	c.mu.Lock()
	c.maps.gen++
	gen := c.maps.gen
	cands := c.candidatesLocked()
	c.mu.Unlock()
	c.counters.refreshes.Add(1)
	t, tried := c.askInTurn(ctx, cands)
	if tried == nil {
		c.apply(t, gen)
		c.releaseKicked()
		c.ctl.keepOnly(c.known())
		return nil
	}
	return &NoNodesError{Tried: tried}
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
	old := c.topo
	c.applyNodesLocked(t)
	moved := c.applySlotsLocked(t, gen)
	if first := c.slots.firstOwnerLocked(); c.slots.ownerLocked(anySlot) != first {
		c.slots.setOwnerLocked(anySlot, first)
	}
	c.topo = t
	c.learnLocked(t, gen)
	if len(moved) > 0 {
		c.maps.watchUntil.Store(0) // the change awaited
	}
	c.retireUnusedLocked()
	close(c.maps.changed)
	c.maps.changed = make(chan struct{})
	c.reportLocked(old, t, moved)
}

// applyNodesLocked opens the pools of t's masters (and of their replicas
// under a replica read policy) and takes their health, replicas and, for
// the node asked, its own view of its replicas (view.go).
func (c *Cluster) applyNodesLocked(t Topology) {
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
		if old := m.replicas.Load(); old != nil && !sameNodes(*old, reps) {
			m.view.Store(nil) // its own view, if known, was of other replicas
		}
		m.replicas.Store(&reps)
		if s.Master.ID != "" && s.Master.ID == t.askedID {
			m.view.Store(&t.askedView)
		}
	}
}

// applySlotsLocked gives each slot the owner t names (slots.claimLocked:
// not over a MOVED since refresh gen began, nor, within epochTrust, over
// a newer claim) and returns the slots whose owner changed.
func (c *Cluster) applySlotsLocked(t Topology, gen uint64) []int {
	var moved []int
	owners, epochs := t.owners(), t.epochs()
	now := time.Now().UnixNano()
	for slot := range NumSlots {
		var n *node
		if a := owners[slot]; a != "" {
			n = c.nodes[a]
		}
		if c.slots.claimLocked(slot, n, epochs[slot], gen, now) {
			moved = append(moved, slot)
		}
	}
	return moved
}

// moveSlot makes addr the owner of slot at once (a MOVED), and asks for
// a refresh: a MOVED usually means more slots moved.
func (c *Cluster) moveSlot(slot int, addr string) {
	if slot < 0 || slot >= NumSlots {
		return
	}
	c.mu.Lock()
	if n := c.nodeLocked(addr, false); n != nil && c.slots.moveLocked(slot, n, c.maps.gen) {
		c.emit(Event{Kind: EventSlotsMoved, Addr: addr, Slots: []SlotRange{{uint16(slot), uint16(slot)}}})
		// Subscribers to the slot's channels look again now, not at the
		// next refresh: a publisher that followed this MOVED is already
		// publishing on the new owner.
		close(c.maps.changed)
		c.maps.changed = make(chan struct{})
	}
	c.mu.Unlock()
	c.releaseKicked()
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
		n := c.slots.ownerLocked(slot)
		if next, ok := c.slots.next[slot]; ok {
			// Its owner changes once the slot's commands out are back:
			// the old one is used for them only, and a node that left the
			// map is retired now (drained: a silent one fails them), or
			// they would wait for its ReadTimeout.
			n = next
		}
		if n != nil {
			used[n] = true
			if reps := n.replicas.Load(); reps != nil {
				for _, r := range *reps {
					used[r] = true
				}
			}
		}
	}
	for key, n := range c.nodes {
		if !used[n] && n.subs.Load() == 0 {
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

// sameNodes reports whether a and b hold the same nodes, in any order.
func sameNodes(a, b []*node) bool {
	if len(a) != len(b) {
		return false
	}
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

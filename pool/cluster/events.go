package cluster

import (
	"sync/atomic"

	"github.com/asyncredis/asyncredis/pool"
)

// EventKind names a change the client saw in the cluster.
type EventKind string

// The events.
const (
	EventSlotsMoved    EventKind = "slots-moved"    // Slots now go to Addr (a MOVED, or a refresh)
	EventNodeAdded     EventKind = "node-added"     // a pool to Addr was opened
	EventNodeRemoved   EventKind = "node-removed"   // Addr left the map; its pool closes once its commands are back
	EventMasterChanged EventKind = "master-changed" // the shard of master Old is now led by Addr (a failover)
	EventRefreshFailed EventKind = "refresh-failed" // no node answered for the map; Err says why
	EventBadAddress    EventKind = "bad-address"    // Addr, from the map or a redirect, cannot be dialled and was not; Err says why
)

// Event is one change, delivered on Events.
type Event struct {
	Kind  EventKind
	Addr  string
	Old   string      // for EventMasterChanged: the master before
	Slots []SlotRange // for EventSlotsMoved
	Err   error       // for EventRefreshFailed and EventBadAddress
}

// Events delivers changes of the slot map as the client learns them. The
// channel is never closed; when nobody reads it, the oldest events are
// dropped (it holds Config.EventBuffer).
func (c *Cluster) Events() <-chan Event { return c.events }

// emit delivers e without blocking, dropping the oldest event when the
// channel is full.
func (c *Cluster) emit(e Event) {
	for range 2 {
		select {
		case c.events <- e:
			return
		default:
		}
		select {
		case <-c.events:
		default:
		}
	}
}

// reportLocked emits the events of a refresh: masters that took over a
// shard (same slots, new master) and slots that changed owner.
func (c *Cluster) reportLocked(old, now Topology, moved []int) {
	for _, s := range now.Shards {
		if _, ok := old.shardOf(s.Master.Addr); ok {
			continue
		}
		for _, o := range old.Shards {
			if len(o.Slots) > 0 && len(s.Slots) > 0 && o.Slots[0] == s.Slots[0] {
				c.emit(Event{Kind: EventMasterChanged, Addr: s.Master.Addr, Old: o.Master.Addr})
			}
		}
	}
	for i := 0; i < len(moved); {
		j := i
		owner := c.slotOwner(moved[i])
		for j+1 < len(moved) && moved[j+1] == moved[j]+1 && c.slotOwner(moved[j+1]) == owner {
			j++
		}
		c.emit(Event{Kind: EventSlotsMoved, Addr: owner, Slots: []SlotRange{{uint16(moved[i]), uint16(moved[j])}}})
		i = j + 1
	}
}

// slotOwner is SlotOwner for an int slot.
func (c *Cluster) slotOwner(slot int) string {
	if n := c.slots.owner[slot].Load(); n != nil {
		return n.addr
	}
	return ""
}

// counters count what the client did about the cluster's answers.
type counters struct {
	moved, ask, tryAgain, clusterDown, requeued, refreshes atomic.Int64
}

func (k *counters) count(kind redirectKind) {
	switch kind {
	case moved:
		k.moved.Add(1)
	case ask:
		k.ask.Add(1)
	case tryAgain:
		k.tryAgain.Add(1)
	case clusterDown:
		k.clusterDown.Add(1)
	}
}

// Stats is a snapshot of the client's state.
type Stats struct {
	Nodes map[string]NodeStats // by address; replicas read from under "replica "+address
	// Redirects and retries handled for callers (none reached them).
	Moved, Ask, TryAgain, ClusterDown int64
	// Requeued counts commands given back unwritten by a node's pool
	// (unreachable, or closed) and sent again.
	Requeued int64
	// Refreshes counts slot-map reads, Waiting the commands waiting for
	// their slot.
	Refreshes int64
	Waiting   int
}

// NodeStats describes one node's pool.
type NodeStats struct {
	Replica bool
	Healthy bool
	Pool    pool.Stats
}

// Stats returns a snapshot of the client's counters and every node's
// pool.
func (c *Cluster) Stats() Stats {
	c.mu.Lock()
	nodes := make(map[string]*node, len(c.nodes))
	for k, n := range c.nodes {
		nodes[k] = n
	}
	waiting := c.slots.line.Len()
	c.mu.Unlock()
	s := Stats{
		Nodes: make(map[string]NodeStats, len(nodes)),
		Moved: c.counters.moved.Load(), Ask: c.counters.ask.Load(),
		TryAgain: c.counters.tryAgain.Load(), ClusterDown: c.counters.clusterDown.Load(),
		Requeued: c.counters.requeued.Load(), Refreshes: c.counters.refreshes.Load(), Waiting: waiting,
	}
	for k, n := range nodes {
		s.Nodes[k] = NodeStats{Replica: n.replica, Healthy: n.usable(), Pool: n.pool.Stats()}
	}
	return s
}

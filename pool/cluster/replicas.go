package cluster

import (
	"time"

	"github.com/asyncredis/asyncredis/async/core"
)

// usable reports whether reads may go to the replica n: the map says it
// is healthy and it has not failed to be reached of late.
func (n *node) usable() bool { return n.healthy.Load() && !n.down() }

// down reports whether n could not be reached lately (downPause).
func (n *node) down() bool { return time.Now().UnixNano() < n.downUntil.Load() }

// replicaFor picks the node a read of slot goes to under a replica
// policy: one healthy replica of the slot's master, the same one for a
// slot while the set is unchanged (so reads of one key stay in order
// among themselves); for ReadNearest the master counts among them. nil
// when none is usable.
func (c *Cluster) replicaFor(slot int) *node {
	return pickReplica(c.slots.owner[slot].Load(), slot, c.cfg.Reads == core.ReadNearest)
}

// pickReplica returns a usable replica of master m for slot, the same one
// for a slot while the set is unchanged (m itself counts among them with
// withMaster); nil when none is usable.
func pickReplica(m *node, slot int, withMaster bool) *node {
	if m == nil {
		return nil
	}
	reps := m.replicas.Load()
	if reps == nil {
		return nil
	}
	cands := *reps
	n := len(cands)
	if withMaster {
		n++
	}
	for i := range n {
		j := (slot + i) % n
		if j == len(cands) {
			return m
		}
		if r := cands[j]; r.usable() {
			return r
		}
	}
	return nil
}

// hasReplicas reports whether the slot's master has replicas at all, so
// that a ReadReplica read waits for one to be usable again rather than
// going to the master.
func (c *Cluster) hasReplicas(slot int) bool {
	m := c.slots.owner[slot].Load()
	if m == nil {
		return false
	}
	reps := m.replicas.Load()
	return reps != nil && len(*reps) > 0
}

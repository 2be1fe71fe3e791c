package cluster

import (
	"context"
	"errors"
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

// A master passes its sharded messages (SPUBLISH) to its replicas over
// the cluster bus, to the replicas its own view names — not those the
// map names. After a failover, the demoted master is named a replica of
// the new one by other nodes (and so by the map the client read) tens of
// milliseconds before the new master hears of it: a subscription placed
// on it then misses everything published meanwhile, with nothing to say
// so. So a sharded channel is subscribed on a replica only once its
// master's own CLUSTER NODES names it (asked when not known), and a
// subscription on a replica its master's view no longer names is moved.

// replicaView is the set of replica IDs a master's own CLUSTER NODES
// names as its replicas.
type replicaView map[string]bool

// viewNames reports whether m's own view is known and names the replica
// with id among its replicas.
func (m *node) viewNames(id string) bool {
	v := m.view.Load()
	return v != nil && id != "" && (*v)[id]
}

// viewDenies reports whether m's own view is known and does not name the
// replica with id.
func (m *node) viewDenies(id string) bool {
	v := m.view.Load()
	return v != nil && !(*v)[id]
}

// replicasInView returns the ID of the node whose CLUSTER NODES reply
// nodes is (the line flagged myself) and the IDs of the nodes it names
// as its replicas: lines "<id> <addr> <flags> <master-id> ...".
func replicasInView(nodes string) (self string, replicas replicaView) {
	type line struct{ id, flags, master string }
	var lines []line
	for l := range strings.Lines(nodes) {
		f := strings.Fields(l)
		if len(f) < 4 {
			continue
		}
		lines = append(lines, line{f[0], f[2], f[3]})
		if strings.Contains(f[2], "myself") {
			self = f[0]
		}
	}
	replicas = replicaView{}
	for _, l := range lines {
		if self != "" && l.master == self && (strings.Contains(l.flags, "slave") || strings.Contains(l.flags, "replica")) {
			replicas[l.id] = true
		}
	}
	return self, replicas
}

// askView asks master m for its own view of its replicas, bounded by ctx
// and RefreshTimeout, and keeps it; on failure m's view stays as it was.
func (c *Cluster) askView(ctx context.Context, m *node) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RefreshTimeout)
	defer cancel()
	conn, err := c.ctl.get(ctx, m.addr, c.cfg.controlConfig(m.addr))
	if err != nil {
		return
	}
	v, err := ask1(ctx, conn, "CLUSTER", "NODES")
	if err != nil {
		var re *protocol.RedisError
		if !errors.As(err, &re) {
			c.ctl.drop(m.addr, conn)
		}
		return
	}
	if _, view := replicasInView(v.Str); view != nil {
		m.view.Store(&view)
	}
}

// replicaIDLocked returns the ID the map gives the replica r ("" if not
// known).
func (c *Cluster) replicaIDLocked(r *node) string { return c.dir.nodeID[r.addr] }

package cluster

import (
	"math/rand/v2"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
)

// nextRefresh says when the refresher reads the map again by itself
// (nil: not before it is asked or RefreshInterval): every downRefresh or
// so while a master that could not be reached owns slots or a silent one
// is watched, slowWatch after closeWatch of that; replicaRecheck while a
// replica is not serving. watchSince is when the current watch began.
func (c *Cluster) nextRefresh(watchSince *time.Time) <-chan time.Time {
	if time.Now().UnixNano() >= c.maps.watchUntil.Load() && c.silentMaster() {
		// Still silent: keep watching without a lapse (the cluster
		// fails a node over about cluster-node-timeout after it went
		// silent, often just past the first watch).
		c.maps.watchUntil.Store(time.Now().Add(clusterDownWatch).UnixNano())
	}
	if c.downOwners() || time.Now().UnixNano() < c.maps.watchUntil.Load() {
		if watchSince.IsZero() {
			*watchSince = time.Now()
		}
		d := downRefresh
		if time.Since(*watchSince) > closeWatch {
			d = slowWatch // the cluster is not failing the node over: ask less
		}
		return time.After(d/2 + rand.N(d))
	}
	*watchSince = time.Time{}
	if c.unhealthyReplicas() {
		return time.After(replicaRecheck/2 + rand.N(replicaRecheck))
	}
	return nil
}

// silentAfter is how long a master may keep commands out without
// sending a byte before the map is watched closely (clusterDownWatch):
// a host cut off or a process paused gives no other sign until
// ReadTimeout, and the writers waiting on it send nothing that could
// meet a CLUSTERDOWN.
const silentAfter = 500 * time.Millisecond

// silent reports whether p has had commands out and read nothing for
// silentAfter, or has had commands wait that long for a connection it is
// still dialling (a host gone since its last connection died: the dial
// hangs, and without this watch the map would be read again only at
// RefreshInterval, while those commands wait for DialTimeout).
func silent(p *pool.Pool) bool {
	out, last := p.Outstanding()
	if out > 0 && time.Since(last) > silentAfter {
		return true
	}
	at := p.DialStall()
	return !at.IsZero() && time.Since(at) > silentAfter
}

// masterPools returns the pools of the masters in the map, by address.
func (c *Cluster) masterPools() map[string]*pool.Pool {
	c.mu.Lock()
	defer c.mu.Unlock()
	pools := map[string]*pool.Pool{}
	for _, s := range c.topo.Shards {
		if n := c.nodes[s.Master.Addr]; n != nil {
			pools[s.Master.Addr] = n.pool
		}
	}
	return pools
}

// silentMaster reports whether a master in the map has had commands out
// and sent nothing for silentAfter.
func (c *Cluster) silentMaster() bool {
	for _, p := range c.masterPools() {
		if silent(p) {
			return true
		}
	}
	return false
}

// replicaRecheck is how often the map is read while, under a replica
// read policy, it names a replica that is not serving (still loading its
// first sync, or failed): reads go to its master meanwhile, and would
// until RefreshInterval once it is ready.
const replicaRecheck = 500 * time.Millisecond

// unhealthyReplicas reports whether reads may go to replicas and the map
// names one it does not report healthy.
func (c *Cluster) unhealthyReplicas() bool {
	if c.cfg.Reads == core.ReadMaster {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.topo.Shards {
		for _, r := range s.Replicas {
			if !r.Healthy {
				return true
			}
		}
	}
	return false
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

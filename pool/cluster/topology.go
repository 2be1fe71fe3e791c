package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

// NumSlots is the number of hash slots of a Redis Cluster.
const NumSlots = 16384

// Topology is the cluster's layout as one node reported it: which master
// serves which slots, and its replicas.
type Topology struct {
	Shards []Shard

	rejected []error // nodes left out: their address cannot be dialled (ErrBadAddress)
	// The node asked, when its CLUSTER NODES came: its ID and the
	// replicas it names as its own (view.go).
	askedID   string
	askedView replicaView
}

// Shard is one master, its slot ranges and its replicas.
type Shard struct {
	Slots    []SlotRange
	Master   NodeInfo
	Replicas []NodeInfo
}

// SlotRange is an inclusive range of hash slots.
type SlotRange struct{ From, To uint16 }

// NodeInfo is one node as the cluster announces it.
type NodeInfo struct {
	ID   string
	Addr string // "host:port", mapped by Config.AddrMapper
	// Healthy is false for a node the cluster reports as failed or still
	// loading its data (CLUSTER SHARDS' health field); CLUSTER SLOTS does
	// not say, and reports every node healthy.
	Healthy bool
	// ConfigEpoch is the epoch of a master's claim on its slots as the
	// node asked knows it (CLUSTER NODES); 0 when not known.
	ConfigEpoch int64

	host string // as the cluster announces it, before AddrMapper: what a redirect's ":port" means
}

// owners returns the master address of every slot ("" where none serves
// it).
func (t Topology) owners() *[NumSlots]string {
	var o [NumSlots]string
	for _, s := range t.Shards {
		for _, r := range s.Slots {
			for slot := int(r.From); slot <= int(r.To); slot++ {
				o[slot] = s.Master.Addr
			}
		}
	}
	return &o
}

// epochs returns the config epoch of every slot's master (0 where none
// serves it or the epoch is not known).
func (t Topology) epochs() *[NumSlots]int64 {
	var e [NumSlots]int64
	for _, s := range t.Shards {
		for _, r := range s.Slots {
			for slot := int(r.From); slot <= int(r.To); slot++ {
				e[slot] = s.Master.ConfigEpoch
			}
		}
	}
	return &e
}

// withEpochs sets each master's ConfigEpoch from a CLUSTER NODES reply:
// one line per node, "<id> <addr> <flags> <master> <ping-sent>
// <pong-recv> <config-epoch> <link-state> <slots>...". Lines it cannot
// read leave their node's epoch unknown.
func (t Topology) withEpochs(nodes string) Topology {
	epoch := map[string]int64{}
	for line := range strings.Lines(nodes) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		if e, err := strconv.ParseInt(f[6], 10, 64); err == nil && e > 0 {
			epoch[f[0]] = e
		}
	}
	for i := range t.Shards {
		t.Shards[i].Master.ConfigEpoch = epoch[t.Shards[i].Master.ID]
	}
	return t
}

// shardOf returns the shard whose master is addr.
func (t Topology) shardOf(addr string) (Shard, bool) {
	for _, s := range t.Shards {
		if s.Master.Addr == addr {
			return s, true
		}
	}
	return Shard{}, false
}

// parseShards reads a CLUSTER SHARDS reply (Redis 7): an array of maps
// (RESP3) or of flat key-value arrays (RESP2), each with "slots" (pairs of
// range bounds) and "nodes" (maps with id, endpoint or ip, port,
// tls-port, role, health). A malformed or oversized map is an error (see
// mapReader); a replica whose address is invalid is left out.
func parseShards(v protocol.Value, r mapReader) (Topology, error) {
	if v.Kind != protocol.KindArray && v.Kind != protocol.KindSet {
		return Topology{}, fmt.Errorf("cluster: CLUSTER SHARDS reply is a %s, want an array", v.Kind)
	}
	if len(v.Elems) > r.nodeLimit() {
		return Topology{}, fmt.Errorf("cluster: CLUSTER SHARDS has %d shards, over the limit of %d nodes (Config.MaxNodes)", len(v.Elems), r.nodeLimit())
	}
	var t Topology
	var claimed slotSet
	total := 0 // nodes named
	for _, sv := range v.Elems {
		fields := pairs(sv)
		var s Shard
		slots := fields["slots"]
		if len(slots.Elems)%2 != 0 {
			return Topology{}, errors.New("cluster: CLUSTER SHARDS slots are not pairs of bounds")
		}
		for i := 0; i+1 < len(slots.Elems); i += 2 {
			sr, err := claimed.claim(slots.Elems[i], slots.Elems[i+1])
			if err != nil {
				return Topology{}, fmt.Errorf("cluster: CLUSTER SHARDS %w", err)
			}
			s.Slots = append(s.Slots, sr)
		}
		members := fields["nodes"].Elems
		if err := r.count(&total, len(members)); err != nil {
			return Topology{}, err
		}
		haveMaster, err := r.shardMembers(&s, &t, members)
		if err != nil {
			return Topology{}, err
		}
		if !haveMaster || len(s.Slots) == 0 {
			continue // a shard without slots or without a master serves nothing
		}
		t.Shards = append(t.Shards, s)
	}
	return t, nil
}

// shardMembers reads a CLUSTER SHARDS shard's nodes into s (addresses
// that cannot be dialled into t.rejected) and reports whether it named a
// master.
func (r mapReader) shardMembers(s *Shard, t *Topology, members []protocol.Value) (bool, error) {
	haveMaster := false
	for _, nv := range members {
		nf := pairs(nv)
		port := nf["port"]
		if r.tls && nf["tls-port"].Int > 0 {
			port = nf["tls-port"]
		}
		host := nf["endpoint"].Str
		if host == "" || host == "?" {
			host = nf["ip"].Str
		}
		n, err := r.node(nf["id"].Str, host, port)
		n.Healthy = nf["health"].Str == "online"
		switch {
		case nf["role"].Str == "master" && err != nil && len(s.Slots) > 0:
			return false, fmt.Errorf("cluster: CLUSTER SHARDS names a master that cannot be dialled: %w", err)
		case err != nil:
			t.rejected = append(t.rejected, err)
		case nf["role"].Str == "master":
			s.Master, haveMaster = n, true
		default:
			s.Replicas = append(s.Replicas, n)
		}
	}
	return haveMaster, nil
}

// pairs reads a map, or a RESP2 flat array of keys and values, into a
// Go map by key.
func pairs(v protocol.Value) map[string]protocol.Value {
	m := make(map[string]protocol.Value, len(v.Elems)/2)
	for i := 0; i+1 < len(v.Elems); i += 2 {
		m[v.Elems[i].Str] = v.Elems[i+1]
	}
	return m
}

// parseSlots reads a CLUSTER SLOTS reply (every version): an array of
// [from, to, master, replica...], each node [host, port, id, ...]. A
// master serving several ranges appears once per range.
func parseSlots(v protocol.Value, r mapReader) (Topology, error) {
	if v.Kind != protocol.KindArray {
		return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS reply is a %s, want an array", v.Kind)
	}
	if len(v.Elems) > NumSlots {
		return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS has %d ranges, more than there are slots", len(v.Elems))
	}
	var t Topology
	var claimed slotSet
	total := 0 // nodes named
	index := map[string]int{}
	for _, e := range v.Elems {
		if len(e.Elems) < 3 {
			return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS entry has %d fields, want at least 3", len(e.Elems))
		}
		sr, err := claimed.claim(e.Elems[0], e.Elems[1])
		if err != nil {
			return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS %w", err)
		}
		nodes, err := r.rangeNodes(&t, e.Elems[2:])
		if err != nil {
			return Topology{}, err
		}
		i, ok := index[nodes[0].Addr]
		if !ok {
			if err := r.count(&total, len(nodes)); err != nil {
				return Topology{}, err
			}
			i = len(t.Shards)
			index[nodes[0].Addr] = i
			t.Shards = append(t.Shards, Shard{Master: nodes[0], Replicas: nodes[1:]})
		}
		t.Shards[i].Slots = append(t.Shards[i].Slots, sr)
	}
	return t, nil
}

// rangeNodes reads a CLUSTER SLOTS range's nodes, its master first
// (addresses of replicas that cannot be dialled into t.rejected).
func (r mapReader) rangeNodes(t *Topology, elems []protocol.Value) ([]NodeInfo, error) {
	var nodes []NodeInfo
	for i, nv := range elems {
		if len(nv.Elems) < 2 {
			return nil, fmt.Errorf("cluster: CLUSTER SLOTS node has %d fields, want at least 2", len(nv.Elems))
		}
		id := ""
		if len(nv.Elems) > 2 {
			id = nv.Elems[2].Str
		}
		n, err := r.node(id, nv.Elems[0].Str, nv.Elems[1])
		switch {
		case err != nil && i == 0:
			return nil, fmt.Errorf("cluster: CLUSTER SLOTS names a master that cannot be dialled: %w", err)
		case err != nil:
			t.rejected = append(t.rejected, err)
		default:
			n.Healthy = true
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

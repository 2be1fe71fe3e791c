package cluster

import (
	"fmt"
	"net"
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

// addrResolver turns the host and port a node announces into the address
// to dial: an empty or "?" host means the node that was asked (the
// cluster's own convention), and mapAddr applies Config.AddrMapper.
type addrResolver struct {
	askedHost string
	mapAddr   func(string) string
	tls       bool
}

func (r addrResolver) addr(host string, port int64) string {
	if host == "" || host == "?" {
		host = r.askedHost
	}
	a := net.JoinHostPort(host, strconv.FormatInt(port, 10))
	if r.mapAddr != nil {
		a = r.mapAddr(a)
	}
	return a
}

// parseShards reads a CLUSTER SHARDS reply (Redis 7): an array of maps
// (RESP3) or of flat key-value arrays (RESP2), each with "slots" (pairs of
// range bounds) and "nodes" (maps with id, endpoint or ip, port,
// tls-port, role, health).
func parseShards(v protocol.Value, r addrResolver) (Topology, error) {
	if v.Kind != protocol.KindArray && v.Kind != protocol.KindSet {
		return Topology{}, fmt.Errorf("cluster: CLUSTER SHARDS reply is a %s, want an array", v.Kind)
	}
	var t Topology
	for _, sv := range v.Elems {
		fields := pairs(sv)
		var s Shard
		slots := fields["slots"]
		for i := 0; i+1 < len(slots.Elems); i += 2 {
			from, to := slots.Elems[i].Int, slots.Elems[i+1].Int
			if from < 0 || to >= NumSlots || from > to {
				return Topology{}, fmt.Errorf("cluster: CLUSTER SHARDS slot range %d-%d out of bounds", from, to)
			}
			s.Slots = append(s.Slots, SlotRange{uint16(from), uint16(to)})
		}
		haveMaster := false
		for _, nv := range fields["nodes"].Elems {
			nf := pairs(nv)
			port := nf["port"].Int
			if r.tls && nf["tls-port"].Int > 0 {
				port = nf["tls-port"].Int
			}
			host := nf["endpoint"].Str
			if host == "" || host == "?" {
				host = nf["ip"].Str
			}
			n := NodeInfo{ID: nf["id"].Str, Addr: r.addr(host, port), Healthy: nf["health"].Str == "online"}
			if nf["role"].Str == "master" {
				s.Master, haveMaster = n, true
			} else {
				s.Replicas = append(s.Replicas, n)
			}
		}
		if !haveMaster || len(s.Slots) == 0 {
			continue // a shard without slots or without a master serves nothing
		}
		t.Shards = append(t.Shards, s)
	}
	return t, nil
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
func parseSlots(v protocol.Value, r addrResolver) (Topology, error) {
	if v.Kind != protocol.KindArray {
		return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS reply is a %s, want an array", v.Kind)
	}
	var t Topology
	index := map[string]int{}
	for _, e := range v.Elems {
		if len(e.Elems) < 3 {
			return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS entry has %d fields, want at least 3", len(e.Elems))
		}
		from, to := e.Elems[0].Int, e.Elems[1].Int
		if from < 0 || to >= NumSlots || from > to {
			return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS slot range %d-%d out of bounds", from, to)
		}
		var nodes []NodeInfo
		for _, nv := range e.Elems[2:] {
			if len(nv.Elems) < 2 {
				return Topology{}, fmt.Errorf("cluster: CLUSTER SLOTS node has %d fields, want at least 2", len(nv.Elems))
			}
			id := ""
			if len(nv.Elems) > 2 {
				id = nv.Elems[2].Str
			}
			nodes = append(nodes, NodeInfo{ID: id, Addr: r.addr(nv.Elems[0].Str, nv.Elems[1].Int), Healthy: true})
		}
		i, ok := index[nodes[0].Addr]
		if !ok {
			i = len(t.Shards)
			index[nodes[0].Addr] = i
			t.Shards = append(t.Shards, Shard{Master: nodes[0], Replicas: nodes[1:]})
		}
		t.Shards[i].Slots = append(t.Shards[i].Slots, SlotRange{uint16(from), uint16(to)})
	}
	return t, nil
}

// hostOf returns the host part of addr, or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSpace(addr)
}

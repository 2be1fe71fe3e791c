package cluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/asyncredis/asyncredis/protocol"
)

// ErrBadAddress is matched when a node's address, in the slot map or in
// a MOVED or ASK redirect, cannot be dialled: no port, a port outside
// 1–65535, a host with spaces or control characters. Such an address is
// reported (EventBadAddress) and never dialled.
var ErrBadAddress = errors.New("cluster: invalid node address")

// ErrUnknownNode is matched when a MOVED or ASK redirected a command to
// a node the slot map does not name, even once read again (see
// Config.FollowRedirectsAnywhere).
var ErrUnknownNode = errors.New("cluster: redirected to a node outside the slot map")

// endpoint turns an address as Redis writes it in a redirect
// ("host:port", ":port" or "?:port" for the node that answered, an IPv6
// host with or without brackets) into the address to dial: answered is
// the announced host of the node that answered, and mapAddr applies
// Config.AddrMapper.
func endpoint(ep, answered string, mapAddr func(string) string) (string, error) {
	i := strings.LastIndexByte(ep, ':')
	if i < 0 {
		return "", fmt.Errorf("%w %q: no port", ErrBadAddress, ep)
	}
	host := ep[:i]
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	port, err := strconv.ParseInt(ep[i+1:], 10, 32)
	if err != nil {
		return "", fmt.Errorf("%w %q: port is not a number", ErrBadAddress, ep)
	}
	return dialAddr(host, port, answered, mapAddr)
}

// dialAddr joins an announced host and port into the address to dial
// (see endpoint), checking both.
func dialAddr(host string, port int64, answered string, mapAddr func(string) string) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("%w %s:%d: port out of range", ErrBadAddress, host, port)
	}
	if host == "" || host == "?" {
		host = answered
	}
	if !validHost(host) {
		return "", fmt.Errorf("%w %q: host cannot be dialled", ErrBadAddress, host)
	}
	a := net.JoinHostPort(host, strconv.FormatInt(port, 10))
	if mapAddr != nil {
		a = mapAddr(a)
	}
	return a, nil
}

// validHost reports whether host can name a node: a hostname or an IP
// address (IPv6 with a zone included), without spaces, control
// characters or brackets.
func validHost(host string) bool {
	if host == "" || len(host) > 255 {
		return false
	}
	for i := 0; i < len(host); i++ {
		switch b := host[i]; {
		case b <= ' ' || b >= 0x7f, b == '[', b == ']', b == '/', b == '@':
			return false
		}
	}
	return true
}

// hostOf returns the host part of addr, or addr itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.TrimSpace(addr)
}

// mapReader reads the nodes of a slot map: it turns the host and port a
// node announces into the address to dial (an empty or "?" host means
// the node that was asked, the cluster's own convention; mapAddr applies
// Config.AddrMapper) and bounds the map's size.
type mapReader struct {
	askedHost   string
	mapAddr     func(string) string
	tls         bool
	maxNodes    int // 0: defaultMaxNodes
	maxReplicas int // 0: defaultMaxReplicas
}

func (r mapReader) node(id, host string, port protocol.Value) (NodeInfo, error) {
	if port.Kind != protocol.KindInteger {
		return NodeInfo{}, fmt.Errorf("%w: node %s's port is a %s", ErrBadAddress, id, port.Kind)
	}
	if host == "" || host == "?" {
		host = r.askedHost
	}
	a, err := dialAddr(host, port.Int, r.askedHost, r.mapAddr)
	return NodeInfo{ID: id, Addr: a, host: host}, err
}

func (r mapReader) nodeLimit() int {
	if r.maxNodes > 0 {
		return r.maxNodes
	}
	return defaultMaxNodes
}

// count adds a shard of n nodes to *total, which it bounds.
func (r mapReader) count(total *int, n int) error {
	maxReplicas := r.maxReplicas
	if maxReplicas <= 0 {
		maxReplicas = defaultMaxReplicas
	}
	if n-1 > maxReplicas {
		return fmt.Errorf("cluster: a shard of the map has %d replicas, over the limit of %d (Config.MaxReplicasPerShard)", n-1, maxReplicas)
	}
	if *total += n; *total > r.nodeLimit() {
		return fmt.Errorf("cluster: the map names more than %d nodes (Config.MaxNodes)", r.nodeLimit())
	}
	return nil
}

// slotSet is a set of slots: a map's claims, each slot at most once.
type slotSet [NumSlots / 64]uint64

// claim adds the range between the integers from and to, which must not
// overlap a range claimed before.
func (s *slotSet) claim(from, to protocol.Value) (SlotRange, error) {
	if from.Kind != protocol.KindInteger || to.Kind != protocol.KindInteger {
		return SlotRange{}, fmt.Errorf("slot range bounds are a %s and a %s, want integers", from.Kind, to.Kind)
	}
	if from.Int < 0 || to.Int >= NumSlots || from.Int > to.Int {
		return SlotRange{}, fmt.Errorf("slot range %d-%d out of bounds", from.Int, to.Int)
	}
	for slot := from.Int; slot <= to.Int; slot++ {
		if s[slot/64]&(1<<(slot%64)) != 0 {
			return SlotRange{}, fmt.Errorf("slot %d claimed twice", slot)
		}
		s[slot/64] |= 1 << (slot % 64)
	}
	return SlotRange{uint16(from.Int), uint16(to.Int)}, nil
}

// Map size limits by default: well above any real cluster (Redis
// suggests at most 1 000 nodes).
const (
	defaultMaxNodes    = 1000
	defaultMaxReplicas = 64
)

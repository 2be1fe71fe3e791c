package cluster

import (
	"context"
	"sync"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
)

// known returns the addresses of the nodes in the map and the seeds.
func (c *Cluster) known() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := map[string]bool{}
	for _, s := range c.topo.Shards {
		keep[s.Master.Addr] = true
		for _, r := range s.Replicas {
			keep[r.Addr] = true
		}
	}
	for _, a := range c.cfg.Seeds {
		keep[a] = true
	}
	return keep
}

// controlConns are connections of the client's own to the nodes, kept
// for asking them for the map. Not the nodes' shared connections: under
// load a question there waits behind every command queued on it (more
// than a second with 10 000 writers), just when the map matters most.
type controlConns struct {
	mu     sync.Mutex // guards the fields below
	conns  map[string]*pool.Conn
	closed bool
}

// get returns the connection to addr, dialing one if there is none or
// it died.
func (cc *controlConns) get(ctx context.Context, addr string, cfg pool.Config) (*pool.Conn, error) {
	cc.mu.Lock()
	conn := cc.conns[addr]
	cc.mu.Unlock()
	if conn != nil && conn.Err() == nil {
		return conn, nil
	}
	conn, err := pool.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.closed {
		conn.Close()
		return nil, core.ErrClosed
	}
	if cc.conns == nil {
		cc.conns = map[string]*pool.Conn{}
	}
	if old := cc.conns[addr]; old != nil {
		old.Close()
	}
	cc.conns[addr] = conn
	return conn, nil
}

// drop closes conn, if it is still addr's.
func (cc *controlConns) drop(addr string, conn *pool.Conn) {
	cc.mu.Lock()
	if cc.conns[addr] == conn {
		delete(cc.conns, addr)
	}
	cc.mu.Unlock()
	conn.Close()
}

// keepOnly closes the connections to addresses not in keep.
func (cc *controlConns) keepOnly(keep map[string]bool) {
	cc.mu.Lock()
	var gone []*pool.Conn
	for a, conn := range cc.conns {
		if !keep[a] {
			gone = append(gone, conn)
			delete(cc.conns, a)
		}
	}
	cc.mu.Unlock()
	for _, conn := range gone {
		conn.Close()
	}
}

// close closes every connection; later gets fail.
func (cc *controlConns) close() {
	cc.mu.Lock()
	cc.closed = true
	conns := cc.conns
	cc.conns = nil
	cc.mu.Unlock()
	for _, conn := range conns {
		conn.Close()
	}
}

package cluster

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Subscriber opens a pub/sub connection set on the cluster
// (core.SubscriberSource): SUBSCRIBE and PSUBSCRIBE go to one master (the
// cluster broadcasts PUBLISH to every node), SSUBSCRIBE to the master of
// each channel's slot. When a node's connection is lost, or a node
// unsubscribes a sharded channel by itself (its slot moved), the set
// reports itself dead once the slot map has been read again, so that
// async.PubSub subscribes everything again where the map now says, with
// its KindDisconnected and KindResubscribed events — on the set's
// successor (core.SubSuccessor), which keeps the connections to the nodes
// that still serve their channels: those channels miss nothing.
func (c *Cluster) Subscriber(ctx context.Context, onPush func(protocol.Value)) (core.SubConn, error) {
	if c.closed.Load() {
		return nil, core.NotSent(core.ErrClosed)
	}
	s := c.newSubConn(onPush)
	if !c.lc.Go(s.watch) {
		return nil, core.NotSent(core.ErrClosed)
	}
	return s, nil
}

func (c *Cluster) newSubConn(onPush func(protocol.Value)) *subConn {
	return &subConn{c: c, onPush: onPush, conns: map[*node]core.SubConn{}, dead: make(chan struct{}),
		refusals: core.Backoff{Min: refusedPause, Max: refusedPauseMax}}
}

// watch reports the set dead when a refresh of the map shows that a
// sharded channel's slot is served by another node than the one it is
// subscribed on (a failover, or a move whose sunsubscribe was missed), so
// that the subscriber follows the slot instead of waiting on a node that
// no longer serves it.
func (s *subConn) watch() {
	for {
		changed := s.c.TargetChanged()
		select {
		case <-changed:
		case <-s.dead:
			return
		case <-s.c.ctx.Done():
			return
		}
		if s.stale() {
			s.die()
		}
	}
}

// stale reports whether a sharded channel is subscribed on a node that no
// longer serves its slot. A replica's master whose own view of its
// replicas is not known (a new master after a failover) is asked first:
// until it names the replica, it does not pass it its messages (view.go).
func (s *subConn) stale() bool {
	for range 2 {
		s.mu.Lock()
		s.c.mu.Lock()
		var ask []*node
		moved := false
		s.subs.Placed(shards, func(ch string, n *node, _ bool) bool {
			slot := int(core.Slot([]byte(ch)))
			if moved = !s.c.servesLocked(slot, n); moved {
				return false
			}
			if m := s.c.slots.ownerLocked(slot); m != nil && n.addr != m.addr && m.view.Load() == nil && !slices.Contains(ask, m) {
				ask = append(ask, m)
			}
			return true
		})
		s.c.mu.Unlock()
		s.mu.Unlock()
		if moved {
			return true
		}
		if len(ask) == 0 {
			return false
		}
		for _, m := range ask {
			s.c.askView(s.c.ctx, m)
		}
	}
	return false
}

// subscribeTarget is the node a sharded channel of slot is subscribed
// on: under a replica read policy one of the shard's usable replicas
// that its master's own view names (view.go; asked here, bounded by ctx,
// when not known) — it receives what the master publishes, and stays
// subscribed when it is promoted, so a failover loses nothing there —,
// else the owner the slot has, or will have once its commands out have
// come back (a node being replaced may be closed any moment).
func (c *Cluster) subscribeTarget(ctx context.Context, slot int) *node {
	c.mu.Lock()
	m := c.slots.ownerLocked(slot)
	if m == nil || c.cfg.Reads == core.ReadMaster {
		c.mu.Unlock()
		return m
	}
	r := pickReplica(m, slot, false)
	id := ""
	if r != nil {
		id = c.replicaIDLocked(r)
	}
	c.mu.Unlock()
	if r == nil {
		return m
	}
	if !m.viewNames(id) {
		c.askView(ctx, m)
	}
	if m.viewNames(id) {
		return r
	}
	return m
}

// servesLocked reports whether a subscription to slot's channels on n is
// still where the slot is: n owns it, or replicates its owner.
func (c *Cluster) servesLocked(slot int, n *node) bool {
	m := c.slots.ownerLocked(slot)
	if m == n || m == nil {
		return m == n
	}
	if reps := m.replicas.Load(); reps != nil {
		for _, r := range *reps {
			if r == n {
				return !m.viewDenies(c.replicaIDLocked(n))
			}
		}
	}
	// A replica promoted: the slot's owner is its master-side node, a
	// different object with the same address.
	return n.replica && n.addr == m.addr
}

// TargetChanged returns a channel closed at the next change of the slot
// map — a refresh, or a MOVED that moved a slot (core.TargetWatcher): a
// subscriber waiting to reconnect tries again at once then.
func (c *Cluster) TargetChanged() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maps.changed
}

// shards is the set of the sharded channels in a subConn's registry.
const shards = "SSUBSCRIBE"

// subConn is the pub/sub connection set of one async.PubSub.
type subConn struct {
	c      *Cluster
	onPush func(protocol.Value)

	mu       sync.Mutex // guards the fields below
	conns    map[*node]core.SubConn
	subs     core.Subscriptions[*node] // sharded channels: the node each is on, whether it confirmed, unsubscribes awaiting confirmation
	plain    *node                     // where SUBSCRIBE and PSUBSCRIBE went, if anywhere
	refusals core.Backoff              // the pause after transient refusals in a row, this set's and its predecessors' (subrefusal.go)
	closed   bool
	dying    bool
	dead     chan struct{} // closed by die
	deadOnce sync.Once

	heir atomic.Pointer[subConn] // the successor, which took some of conns; pushes go there
}

// Dead implements core.SubConn.
func (s *subConn) Dead() <-chan struct{} { return s.dead }

// Close closes every node's connection.
func (s *subConn) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*node]core.SubConn{}
	s.mu.Unlock()
	for n, sc := range conns {
		n.subs.Add(-1)
		sc.Close()
	}
	s.deadOnce.Do(func() { close(s.dead) })
	return nil
}

// die reports the set dead once the map has been read again (bounded by
// RefreshTimeout), so that the resubscription finds the new owners.
func (s *subConn) die() {
	s.mu.Lock()
	if s.dying || s.closed {
		s.mu.Unlock()
		return
	}
	s.dying = true
	s.mu.Unlock()
	refreshed := s.c.TargetChanged()
	s.c.requestRefresh()
	if !s.c.lc.Go(func() {
		t := time.NewTimer(s.c.cfg.RefreshTimeout)
		defer t.Stop()
		select {
		case <-refreshed:
		case <-t.C:
		case <-s.c.ctx.Done():
		}
		s.deadOnce.Do(func() { close(s.dead) })
	}) {
		s.deadOnce.Do(func() { close(s.dead) })
	}
}

// conn returns the subscriber connection to n, opening it.
func (s *subConn) conn(ctx context.Context, n *node) (core.SubConn, error) {
	s.mu.Lock()
	if sc := s.conns[n]; sc != nil {
		s.mu.Unlock()
		return sc, nil
	}
	s.mu.Unlock()
	// A dial stuck in the handshake (a host gone, a node that stopped
	// answering) is given up when the set is reported dead: the map
	// named another owner for a channel's slot, or a node went.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.dead:
			cancel()
		case <-ctx.Done():
		}
	}()
	sc, err := n.pool.Subscriber(ctx, func(v protocol.Value) { s.push(n, v) })
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sc.Close()
		return nil, core.NotSent(core.ErrClosed)
	}
	if old := s.conns[n]; old != nil {
		s.mu.Unlock()
		sc.Close()
		return old, nil
	}
	s.conns[n] = sc
	n.subs.Add(1)
	s.mu.Unlock()
	s.watchConn(sc)
	return sc, nil
}

// watchConn reports the set dead when sc dies.
func (s *subConn) watchConn(sc core.SubConn) {
	s.c.lc.Go(func() {
		select {
		case <-sc.Dead():
			s.die()
		case <-s.dead:
		}
	})
}

// push passes node n's push frames on, noticing a sunsubscribe this
// side did not ask for: the node gave up the channel's slot. Frames of a
// connection the set's successor took are the successor's.
func (s *subConn) push(n *node, v protocol.Value) {
	p, ok := core.ParsePush(v)
	if ok && p.Refused != nil {
		s.refused(n, v, p)
		return
	}
	confirmed := ok && p.Kind == "ssubscribe"
	if !confirmed && (!ok || p.Kind != "sunsubscribe") {
		s.current().onPush(v)
		return
	}
	ch := p.Channel
	s = s.locked()
	if confirmed {
		s.subs.Confirm(shards, ch, n) // the node has it: a successor keeping n's connection keeps it confirmed
		s.refusals.Reset()
		s.mu.Unlock()
		s.onPush(v)
		return
	}
	asked := s.subs.Left(shards, ch)
	if on, ok := s.subs.On(shards, ch); !asked && ok && on == n {
		s.subs.Unplace(shards, ch) // n's other subscriptions stand: its connection may be kept
	}
	s.mu.Unlock()
	if !asked {
		s.die()
		return
	}
	s.onPush(v)
}

// locked returns s's current set (current) with its mu held.
func (s *subConn) locked() *subConn {
	for {
		s = s.current()
		s.mu.Lock()
		if s.heir.Load() == nil {
			return s
		}
		s.mu.Unlock() // replaced meanwhile
	}
}

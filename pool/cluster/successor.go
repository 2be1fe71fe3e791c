package cluster

import (
	"context"

	"github.com/asyncredis/asyncredis/async/core"
)

// A subscriber set's successor (core.SubSuccessor) takes over the
// connections of a set that died, or failed to subscribe, whose
// subscriptions are intact: when one master is lost, the channels on the
// others miss nothing while the lost one's are subscribed again.

// serves is servesLocked, taking c.mu.
func (c *Cluster) serves(slot int, n *node) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servesLocked(slot, n)
}

// Successor implements core.SubSuccessor: the new set takes the
// connections that are alive and still serve what is subscribed on them,
// with their channels (those the node confirmed stay confirmed: not subscribed
// again), and from then on their push frames.
func (s *subConn) Successor(ctx context.Context) (core.SubConn, error) {
	if s.c.closed.Load() {
		return nil, core.NotSent(core.ErrClosed)
	}
	h := s.c.newSubConn(s.onPush)
	s.mu.Lock()
	if s.closed || s.heir.Load() != nil {
		s.mu.Unlock()
		return nil, core.NewNotSent("cluster: the subscriber set was closed or replaced")
	}
	s.c.mu.Lock()
	for n, sc := range s.conns {
		if s.keepsLocked(n, sc) {
			h.conns[n] = sc
			delete(s.conns, n)
		}
	}
	s.c.mu.Unlock()
	h.subs.Inherit(&s.subs, shards, func(n *node) bool { return h.conns[n] != nil })
	h.refusals = s.refusals
	if h.conns[s.plain] != nil {
		h.plain = s.plain
	}
	s.heir.Store(h)
	s.mu.Unlock()
	for _, sc := range h.conns {
		h.watchConn(sc)
	}
	if !s.c.lc.Go(h.watch) {
		h.Close()
		return nil, core.NotSent(core.ErrClosed)
	}
	return h, nil
}

// keepsLocked reports whether a successor may take sc, the connection to
// n: it is alive, n still serves the slot of each sharded channel
// subscribed on it, and plain subscriptions there would still go to n
// (they would be doubled elsewhere otherwise: the cluster passes PUBLISH
// to every node). s.mu and c.mu are held.
func (s *subConn) keepsLocked(n *node, sc core.SubConn) bool {
	select {
	case <-sc.Dead():
		return false
	default:
	}
	if n == s.plain && n != s.c.anyMaster() {
		return false
	}
	keep := true
	s.subs.Placed(shards, func(ch string, at *node, _ bool) bool {
		keep = at != n || s.c.servesLocked(int(core.Slot([]byte(ch))), n)
		return keep
	})
	return keep
}

// current returns the set that owns s's connections now: s, or its
// latest successor.
func (s *subConn) current() *subConn {
	for h := s.heir.Load(); h != nil; h = h.heir.Load() {
		s = h
	}
	return s
}

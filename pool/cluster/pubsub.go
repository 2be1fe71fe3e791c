package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
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
		leaving: map[string]int{}, where: map[string]*node{}, held: map[string]bool{}}
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
		for ch, n := range s.where {
			slot := int(core.Slot([]byte(ch)))
			if !s.c.servesLocked(slot, n) {
				s.c.mu.Unlock()
				s.mu.Unlock()
				return true
			}
			if m := s.c.slots.ownerLocked(slot); m != nil && n.addr != m.addr && m.view.Load() == nil && !slices.Contains(ask, m) {
				ask = append(ask, m)
			}
		}
		s.c.mu.Unlock()
		s.mu.Unlock()
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

// subConn is the pub/sub connection set of one async.PubSub.
type subConn struct {
	c      *Cluster
	onPush func(protocol.Value)

	mu       sync.Mutex // guards the fields below
	conns    map[*node]core.SubConn
	leaving  map[string]int   // sharded channels this side unsubscribes, awaiting the server's confirmation
	where    map[string]*node // sharded channels and the node each is subscribed on
	plain    *node            // where SUBSCRIBE and PSUBSCRIBE went, if anywhere
	held     map[string]bool  // sharded channels the node at where confirmed: not subscribed again there
	refusals int              // transient refusals in a row, this set's and its predecessors' (subrefusal.go)
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
	if err := core.RefusalOf(v); err != nil {
		s.refused(n, v, err)
		return
	}
	confirmed := len(v.Elems) >= 2 && strings.EqualFold(v.Elems[0].Str, "ssubscribe")
	if len(v.Elems) < 2 || !confirmed && !strings.EqualFold(v.Elems[0].Str, "sunsubscribe") {
		s.current().onPush(v)
		return
	}
	ch := v.Elems[1].Str
	s = s.locked()
	if confirmed {
		if s.where[ch] == n {
			s.held[ch] = true // the node has it: a successor keeping n's connection holds it
		}
		s.refusals = 0
		s.mu.Unlock()
		s.onPush(v)
		return
	}
	asked := s.leftLocked(ch)
	if !asked && s.where[ch] == n {
		delete(s.where, ch) // n's other subscriptions stand: its connection may be kept
		delete(s.held, ch)
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

// Exec implements core.Executor: SSUBSCRIBE goes, split by slot, to the
// node subscribeTarget picks for each channel's slot, SUNSUBSCRIBE where
// the channel was subscribed; everything else to one master.
func (s *subConn) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	name := strings.ToUpper(string(cmd.Name()))
	if name != "SSUBSCRIBE" && name != "SUNSUBSCRIBE" {
		n := s.c.anyMaster()
		s.mu.Lock()
		if n != nil {
			s.plain = n
		}
		s.mu.Unlock()
		s.forward(ctx, n, cmd, sink)
		return
	}
	args := parseAll(cmd.Buf)
	var parts []subPart // one per node and slot: a node refuses channels of two slots in one command (CROSSSLOT)
	var confirm []string
	for _, ch := range args[1:] {
		n, held := s.route(ctx, name, ch)
		if held {
			confirm = append(confirm, string(ch))
			continue
		}
		parts = addToPart(parts, n, core.Slot(ch), ch)
	}
	if len(confirm) > 0 {
		// Not on this goroutine: the caller may hold the lock the
		// subscriber takes for a confirmation.
		s.c.lc.Go(func() {
			for _, ch := range confirm {
				s.onPush(protocol.Value{Kind: protocol.KindPush, Elems: []protocol.Value{
					{Kind: protocol.KindBulkString, Str: "ssubscribe"}, {Kind: protocol.KindBulkString, Str: ch}, {Kind: protocol.KindInteger}}})
			}
		})
	}
	if len(parts) == 0 {
		cmd.Release()
		sink.Complete(protocol.Value{Kind: protocol.KindSimpleString, Str: "OK"}, nil)
		return
	}
	all := &allSink{Wrapper: core.Wrapper{Inner: sink}, left: len(parts)}
	for _, p := range parts {
		part := core.NewCommand()
		part.NoReply = cmd.NoReply
		part.Buf = protocol.AppendArrayHeader(part.Buf, 1+len(p.chans))
		part.Buf = protocol.AppendBytes(part.Buf, args[0])
		for _, ch := range p.chans {
			part.Buf = protocol.AppendBytes(part.Buf, ch)
		}
		s.forward(ctx, p.n, part, all)
	}
	cmd.Release()
}

// subPart is the channels of one (un)subscribe sent to node n, all in
// one slot.
type subPart struct {
	n     *node
	slot  uint16
	chans [][]byte
}

// addToPart adds ch, of slot, to the part for n and slot, or a new one.
func addToPart(parts []subPart, n *node, slot uint16, ch []byte) []subPart {
	for i := range parts {
		if parts[i].n == n && parts[i].slot == slot {
			parts[i].chans = append(parts[i].chans, ch)
			return parts
		}
	}
	return append(parts, subPart{n: n, slot: slot, chans: [][]byte{ch}})
}

// route picks the node an SSUBSCRIBE or SUNSUBSCRIBE of ch goes to and
// records it. A channel its node confirmed (on a connection of this set
// or one taken from the set before), whose node still serves it, is held:
// it is not subscribed again, and its confirmation is made here (a
// refused re-subscription, CLUSTERDOWN while another master is down,
// would be a reply the connection cannot match, and close it with
// everything on it).
func (s *subConn) route(ctx context.Context, name string, ch []byte) (n *node, held bool) {
	slot := int(core.Slot(ch))
	s.mu.Lock()
	n = s.where[string(ch)] // where it was subscribed (or is, on a connection kept from the set before)
	held = s.held[string(ch)] && name == "SSUBSCRIBE"
	s.mu.Unlock()
	if n != nil && name == "SSUBSCRIBE" && !s.c.serves(slot, n) {
		n, held = nil, false
	}
	if held {
		return n, true
	}
	if n == nil {
		n = s.c.subscribeTarget(ctx, slot)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, string(ch))
	if name == "SUNSUBSCRIBE" {
		s.leaving[string(ch)]++
		delete(s.where, string(ch))
	} else if n != nil {
		s.where[string(ch)] = n
	}
	return n, false
}

// forward sends cmd on n's subscriber connection.
func (s *subConn) forward(ctx context.Context, n *node, cmd *core.Command, sink core.Sink) {
	if n == nil {
		s.die()
		cmd.Release()
		sink.Complete(protocol.Value{}, core.NewNotSent("cluster: no master known for the channel's slot"))
		return
	}
	sc, err := s.conn(ctx, n)
	if err != nil {
		if errors.Is(err, core.ErrClosed) && !s.c.closed.Load() {
			// The node's pool, not the cluster, was closed (it left the
			// map): the subscriber tries again where the map now says.
			err = core.NewNotSent("cluster: the channel's node left the slot map")
		}
		s.die()
		cmd.Release()
		sink.Complete(protocol.Value{}, err)
		return
	}
	sc.Exec(ctx, cmd, sink)
}

// allSink completes the caller's sink once every part of a split
// (un)subscribe has completed: with the first error, or the last reply.
// It is not a requeuer: a part its node's pool gives back fails the
// whole, and the subscriber subscribes everything again.
type allSink struct {
	core.Wrapper
	mu   sync.Mutex
	left int
	err  error
}

func (a *allSink) Complete(v protocol.Value, err error) { a.Offer(v, err) }

// Offer implements core.Offerer.
func (a *allSink) Offer(v protocol.Value, err error) bool {
	a.mu.Lock()
	if err != nil && a.err == nil {
		a.err = err
	}
	a.left--
	last := a.left == 0
	err = a.err
	a.mu.Unlock()
	if last {
		return a.Wrapper.Offer(v, err)
	}
	return true
}

// Requeue declines (see allSink).
func (a *allSink) Requeue(*core.Command, error) bool { return false }

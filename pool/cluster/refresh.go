package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// minRefreshGap spaces refreshes that follow one another (a node that
// stays unreachable asks for one per retry).
const minRefreshGap = 5 * time.Millisecond

// downRefresh is the pause between refreshes while a master that could
// not be reached still owns slots in the map: the client learns of the
// promotion of its replica within about this long after any node shows
// it (jittered, so clients do not ask in step).
const downRefresh = 10 * time.Millisecond

// clusterDownWatch is how long after a CLUSTERDOWN reply the map is read
// every downRefresh until it changes: a master the cluster has failed
// (host cut off, process paused) still counts as up to the client, and
// once its replica is promoted the CLUSTERDOWN replies stop and nothing
// else would say so before RefreshInterval.
const clusterDownWatch = 2 * time.Second

// closeWatch is how long the map is read every downRefresh while a node
// is down or silent (a cluster with the default cluster-node-timeout of
// 15 s fails a master over within about that), and slowWatch how often
// after that: many clients asking a hundred times a second for as long as
// a master stays down would load the cluster for nothing.
const (
	closeWatch = 30 * time.Second
	slowWatch  = 500 * time.Millisecond
)

// epochTrust bounds how long a slot's owner is kept against maps that
// name another owner at an older config epoch than the one followed. A
// node that has not heard of a failover or move yet gives such a map for
// a moment (a failover's new master tells every node at once); past
// epochTrust the claim followed is taken for a lie or a mistake (a node
// announcing an absurd epoch) and the maps win.
const epochTrust = 2 * time.Second

// requestRefresh asks the refresher for a refresh of the slot map; asks
// made while one is pending or running are coalesced into the next.
func (c *Cluster) requestRefresh() {
	select {
	case c.maps.asks <- struct{}{}:
	default:
	}
}

// refresher refreshes the slot map when asked and every RefreshInterval.
func (c *Cluster) refresher() {
	var tick <-chan time.Time
	if c.cfg.RefreshInterval > 0 {
		t := time.NewTicker(c.cfg.RefreshInterval)
		defer t.Stop()
		tick = t.C
	}
	gap := time.NewTimer(0)
	defer gap.Stop()
	var again <-chan time.Time // set while a down master owns slots, or a replica is not serving
	var watchSince time.Time   // when again was first set, since it was last unset
	if c.unhealthyReplicas() {
		again = time.After(replicaRecheck) // the first map, read by New, named one
	}
	silence := time.NewTicker(silentAfter / 4)
	defer silence.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.maps.asks:
		case <-tick:
		case <-again:
		case <-silence.C:
			if !c.silentMaster() {
				continue
			}
			c.maps.watchUntil.Store(time.Now().Add(clusterDownWatch).UnixNano())
		}
		if err := c.refresh(c.ctx); err != nil && c.ctx.Err() == nil {
			c.emit(Event{Kind: EventRefreshFailed, Err: err})
		}
		again = c.nextRefresh(&watchSince)
		gap.Reset(minRefreshGap)
		select {
		case <-c.ctx.Done():
			return
		case <-gap.C:
		}
	}
}

// refresh reads the slot map from one node after another (the masters in
// random order, then replicas, then the seeds), each bounded by
// RefreshTimeout, and applies the first answer.
func (c *Cluster) refresh(ctx context.Context) error {
	c.mu.Lock()
	c.maps.gen++
	gen := c.maps.gen
	cands := c.candidatesLocked()
	c.mu.Unlock()
	c.counters.refreshes.Add(1)
	t, tried := c.askInTurn(ctx, cands)
	if tried == nil {
		c.apply(t, gen)
		c.releaseKicked()
		c.ctl.keepOnly(c.known())
		return nil
	}
	return &NoNodesError{Tried: tried}
}

// hedgeAfter is how long one node may take to give the map before the
// next one is asked too: a node cut off answers nothing until
// RefreshTimeout, and the map matters most just then.
const hedgeAfter = 10 * time.Millisecond

// askInTurn asks the nodes at addrs for the map in turn, the next one as
// soon as the last failed or has not answered for hedgeAfter, and
// returns the first map with slots, or each node's error. Questions
// still out when it returns end by RefreshTimeout.
func (c *Cluster) askInTurn(ctx context.Context, addrs []string) (Topology, map[string]error) {
	type answer struct {
		addr string
		t    Topology
		err  error
	}
	answers := make(chan answer, len(addrs)) // room for the late ones
	next, out := 0, 0
	ask := func() {
		addr := addrs[next]
		next++
		fn := func() {
			t, err := c.fetch(ctx, addr)
			if err == nil && len(t.Shards) == 0 {
				err = errors.New("cluster: the node serves no slot")
			}
			answers <- answer{addr, t, err}
		}
		if !c.lc.Go(fn) {
			answers <- answer{addr, Topology{}, core.ErrClosed}
		}
		out++
	}
	hedge := time.NewTimer(hedgeAfter)
	defer hedge.Stop()
	tried := map[string]error{}
	for out > 0 || next < len(addrs) {
		if out == 0 {
			ask()
		}
		select {
		case a := <-answers:
			out--
			if a.err == nil {
				return a.t, nil
			}
			tried[a.addr] = a.err
			if ctx.Err() != nil {
				return Topology{}, tried
			}
			if next < len(addrs) {
				ask()
				hedge.Reset(hedgeAfter)
			}
		case <-hedge.C:
			if next < len(addrs) {
				ask()
			}
			hedge.Reset(hedgeAfter)
		case <-ctx.Done():
			// Whatever the nodes still owe (a map being read, parsed)
			// ends by ctx too, and is not waited for.
			tried["context"] = ctx.Err()
			return Topology{}, tried
		}
	}
	return Topology{}, tried
}

// candidatesLocked lists the nodes to ask for the map, without repeats.
func (c *Cluster) candidatesLocked() []string {
	var masters, replicas []string
	for _, s := range c.topo.Shards {
		masters = append(masters, s.Master.Addr)
		for _, r := range s.Replicas {
			replicas = append(replicas, r.Addr)
		}
	}
	rand.Shuffle(len(masters), func(i, j int) { masters[i], masters[j] = masters[j], masters[i] })
	rand.Shuffle(len(replicas), func(i, j int) { replicas[i], replicas[j] = replicas[j], replicas[i] })
	// Nodes that could not be reached lately are asked last: a host that
	// is gone would cost hedgeAfter (or RefreshTimeout) each time.
	var down []string
	up := func(list []string) []string {
		kept := list[:0]
		for _, a := range list {
			if n := c.nodes[a]; n != nil && n.down() {
				down = append(down, a)
			} else if n := c.nodes[replicaKey(a)]; n != nil && n.down() {
				down = append(down, a)
			} else {
				kept = append(kept, a)
			}
		}
		return kept
	}
	masters, replicas = up(masters), up(replicas)
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]string{masters, replicas, c.cfg.Seeds, down} {
		for _, a := range list {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// fetch asks the node at addr for the slot map: CLUSTER SHARDS, or
// CLUSTER SLOTS where the server does not know SHARDS (before Redis 7).
func (c *Cluster) fetch(ctx context.Context, addr string) (t Topology, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RefreshTimeout)
	defer cancel()
	conn, err := c.ctl.get(ctx, addr, c.cfg.controlConfig(addr))
	if err != nil {
		return Topology{}, err
	}
	defer func() {
		var re *protocol.RedisError
		if err != nil && !errors.As(err, &re) {
			c.ctl.drop(addr, conn) // in doubt (a timeout): the next ask dials again
		}
	}()
	res := c.cfg.mapReader(addr)
	// Both questions go at once: one round trip, one wait for the
	// connection's reader to be scheduled (behind thousands of callers,
	// under load), when the map matters most. CLUSTER NODES gives the
	// masters' config epochs, for telling a stale view from a newer one
	// (apply); without them the view is taken as it is.
	shards, nodes := send1(ctx, conn, "CLUSTER", "SHARDS"), send1(ctx, conn, "CLUSTER", "NODES")
	v, err := shards.Wait(ctx)
	nv, nerr := nodes.Wait(ctx)
	if err == nil {
		if t, err = parseShards(v, res); err != nil {
			return t, err
		}
		if nerr == nil {
			t = t.withEpochs(nv.Str)
			t.askedID, t.askedView = replicasInView(nv.Str)
		}
		return t, nil
	}
	var re *protocol.RedisError
	if !errors.As(err, &re) {
		return Topology{}, err
	}
	if v, err = ask1(ctx, conn, "CLUSTER", "SLOTS"); err != nil {
		return Topology{}, err
	}
	return parseSlots(v, res)
}

// ask1 sends one command and waits for its reply; an error reply is
// returned as the error.
func ask1(ctx context.Context, ex core.Executor, args ...any) (protocol.Value, error) {
	return send1(ctx, ex, args...).Wait(ctx)
}

// reply1 is the reply to a command send1 sent.
type reply1 struct {
	w   core.ReplyWaiter
	err error // the command could not be encoded
}

// send1 sends one command without waiting for its reply.
func send1(ctx context.Context, ex core.Executor, args ...any) reply1 {
	cmd := core.NewCommand()
	buf, err := protocol.AppendCommand(cmd.Buf, args...)
	if err != nil {
		cmd.Release()
		return reply1{err: err}
	}
	cmd.Buf = buf
	w := core.NewReplyWaiter()
	ex.Exec(ctx, cmd, w)
	return reply1{w: w}
}

// Wait returns the reply; an error reply is returned as the error.
func (a reply1) Wait(ctx context.Context) (protocol.Value, error) {
	if a.err != nil {
		return protocol.Value{}, a.err
	}
	v, err := a.w.Wait(ctx)
	if err == nil {
		err = v.Err()
	}
	return v, err
}

// apply makes t the slot map. Slots a MOVED has set since this refresh
// began (gen) keep the MOVED's owner: the node asked may not know yet.
// Slots whose owner changed let their waiting commands go at once; nodes
// that left the map are closed once their commands have come back.
func (c *Cluster) apply(t Topology, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	old := c.topo
	c.applyNodesLocked(t)
	moved := c.applySlotsLocked(t, gen)
	if first := c.slots.firstOwnerLocked(); c.slots.ownerLocked(anySlot) != first {
		c.slots.setOwnerLocked(anySlot, first)
	}
	c.topo = t
	c.learnLocked(t, gen)
	if len(moved) > 0 {
		c.maps.watchUntil.Store(0) // the change awaited
	}
	c.retireUnusedLocked()
	close(c.maps.changed)
	c.maps.changed = make(chan struct{})
	c.reportLocked(old, t, moved)
}

// applyNodesLocked opens the pools of t's masters (and of their replicas
// under a replica read policy) and takes their health, replicas and, for
// the node asked, its own view of its replicas (view.go).
func (c *Cluster) applyNodesLocked(t Topology) {
	for _, s := range t.Shards {
		m := c.nodeLocked(s.Master.Addr, false)
		if m == nil {
			continue
		}
		m.healthy.Store(s.Master.Healthy)
		var reps []*node
		if c.cfg.Reads != core.ReadMaster {
			for _, ri := range s.Replicas {
				if rn := c.nodeLocked(ri.Addr, true); rn != nil {
					rn.healthy.Store(ri.Healthy)
					reps = append(reps, rn)
				}
			}
		}
		if old := m.replicas.Load(); old != nil && !sameNodes(*old, reps) {
			m.view.Store(nil) // its own view, if known, was of other replicas
		}
		m.replicas.Store(&reps)
		if s.Master.ID != "" && s.Master.ID == t.askedID {
			m.view.Store(&t.askedView)
		}
	}
}

// applySlotsLocked gives each slot the owner t names (slots.claimLocked:
// not over a MOVED since refresh gen began, nor, within epochTrust, over
// a newer claim) and returns the slots whose owner changed.
func (c *Cluster) applySlotsLocked(t Topology, gen uint64) []int {
	var moved []int
	owners, epochs := t.owners(), t.epochs()
	now := time.Now().UnixNano()
	for slot := range NumSlots {
		var n *node
		if a := owners[slot]; a != "" {
			n = c.nodes[a]
		}
		if c.slots.claimLocked(slot, n, epochs[slot], gen, now) {
			moved = append(moved, slot)
		}
	}
	return moved
}

// moveSlot makes addr the owner of slot at once (a MOVED), and asks for
// a refresh: a MOVED usually means more slots moved.
func (c *Cluster) moveSlot(slot int, addr string) {
	if slot < 0 || slot >= NumSlots {
		return
	}
	c.mu.Lock()
	if n := c.nodeLocked(addr, false); n != nil && c.slots.moveLocked(slot, n, c.maps.gen) {
		c.emit(Event{Kind: EventSlotsMoved, Addr: addr, Slots: []SlotRange{{uint16(slot), uint16(slot)}}})
		// Subscribers to the slot's channels look again now, not at the
		// next refresh: a publisher that followed this MOVED is already
		// publishing on the new owner.
		close(c.maps.changed)
		c.maps.changed = make(chan struct{})
	}
	c.mu.Unlock()
	c.releaseKicked()
	c.requestRefresh()
}

// retireUnusedLocked closes the nodes that neither the map nor any slot
// names any more: at once when the map reports the node failed (its
// commands in flight will not come back by themselves: a host that is
// gone answers nothing), else once they have come back.
func (c *Cluster) retireUnusedLocked() {
	failed := map[string]bool{}
	for _, s := range c.topo.Shards {
		for _, r := range s.Replicas {
			if !r.Healthy {
				failed[r.Addr] = true
			}
		}
	}
	used := map[*node]bool{}
	for slot := range NumSlots + 1 {
		n := c.slots.ownerLocked(slot)
		if next, ok := c.slots.next[slot]; ok {
			// Its owner changes once the slot's commands out are back:
			// the old one is used for them only, and a node that left the
			// map is retired now (drained: a silent one fails them), or
			// they would wait for its ReadTimeout.
			n = next
		}
		if n != nil {
			used[n] = true
			if reps := n.replicas.Load(); reps != nil {
				for _, r := range *reps {
					used[r] = true
				}
			}
		}
	}
	for key, n := range c.nodes {
		if !used[n] && n.subs.Load() == 0 {
			delete(c.nodes, key)
			c.retireLocked(n, failed[n.addr] || n.down())
			c.emit(Event{Kind: EventNodeRemoved, Addr: n.addr})
		}
	}
}

// replicaKey is the key in Cluster.nodes of the read-only pool of the
// replica at addr: a node that is a master and a replica in turn has a
// pool of each kind while commands are out on the old one.
func replicaKey(addr string) string { return "replica " + addr }

// sameNodes reports whether a and b hold the same nodes, in any order.
func sameNodes(a, b []*node) bool {
	if len(a) != len(b) {
		return false
	}
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

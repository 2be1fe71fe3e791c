package cluster

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Asking the nodes for the slot map: one after another, hedged, each
// question bounded by RefreshTimeout.

// hedgeAfter is how long one node may take to give the map before the
// next one is asked too: a node cut off answers nothing until
// RefreshTimeout, and the map matters most just then.
const hedgeAfter = 10 * time.Millisecond

// answer is one node's answer to askInTurn.
type answer struct {
	addr string
	t    Topology
	err  error
}

// askInTurn asks the nodes at addrs for the map in turn, the next one as
// soon as the last failed or has not answered for hedgeAfter, and
// returns the first map with slots, or each node's error. Questions
// still out when it returns end by RefreshTimeout.
func (c *Cluster) askInTurn(ctx context.Context, addrs []string) (Topology, map[string]error) {
	answers := make(chan answer, len(addrs)) // room for the late ones
	next, out := 0, 0
	ask := func() {
		addr := addrs[next]
		next++
		out++
		if !c.lc.Go(func() { t, err := c.fetchSlots(ctx, addr); answers <- answer{addr, t, err} }) {
			answers <- answer{addr, Topology{}, core.ErrClosed}
		}
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

// fetchSlots is fetch, with a map that serves no slot an error.
func (c *Cluster) fetchSlots(ctx context.Context, addr string) (Topology, error) {
	t, err := c.fetch(ctx, addr)
	if err == nil && len(t.Shards) == 0 {
		err = errors.New("cluster: the node serves no slot")
	}
	return t, err
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

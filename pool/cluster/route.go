package cluster

import (
	"context"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Exec implements core.Executor: the command goes to the master of its
// first key's slot (keyless commands to one master); commands whose keys
// span slots are split (MGET, DEL, ...) or refused.
func (c *Cluster) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	if c.closed.Load() {
		core.FailNotSent(cmd, sink, core.ErrClosed)
		return
	}
	slot, err := c.slotOf(cmd)
	if err == nil && slot == anySlot && refusedWhole(cmd.Name()) {
		err = ErrWholeCluster
	}
	if err != nil {
		if sp, ok := err.(*splitNeeded); ok {
			c.split(ctx, cmd, sink, sp)
			return
		}
		cmd.Release()
		sink.Complete(protocol.Value{}, core.NotSent(err))
		return
	}
	c.submit(c.newRequest(ctx, cmd, sink, slot))
}

// submit sends r unless its slot is gated; then r waits in line.
func (c *Cluster) submit(r *request) {
	if c.slots.enter(r) {
		c.send(r)
	}
}

// submitAll submits rs in order, all with ctx; those bound for the same
// node go to its pool as one batch (one hand-over to its connection
// instead of one per command). The batches share one backing array for
// their commands and one for their sinks: a split MGET over ten slots
// costs three allocations here, not one per part.
func (c *Cluster) submitAll(ctx context.Context, rs []*request) {
	var local [4]batch
	batches := local[:0]
	which := make([]int8, len(rs)) // each request's batch; -1: sent on its own or not at all
	total := 0
	for i, r := range rs {
		which[i] = -1
		if !c.slots.enter(r) {
			continue
		}
		n, asking := c.target(r)
		if n == nil || asking || len(batches) == 127 {
			c.sendTo(r, n, asking)
			continue
		}
		r.sent = n
		k := -1
		for j := range batches {
			if batches[j].n == n {
				k = j
			}
		}
		if k < 0 {
			k = len(batches)
			batches = append(batches, batch{n: n})
		}
		batches[k].count++
		which[i] = int8(k)
		total++
	}
	if total > 0 {
		sendBatches(ctx, rs, which, batches, total)
	}
}

// batch is the commands of submitAll bound for one node.
type batch struct {
	n      *node
	count  int
	offset int
}

// sendBatches lays out the total requests of rs that which assigns to a
// batch, each batch's contiguous and in order, and hands each batch to
// its node's pool.
func sendBatches(ctx context.Context, rs []*request, which []int8, batches []batch, total int) {
	cmds, sinks := make([]*core.Command, total), make([]core.Sink, total)
	off := 0
	for j := range batches {
		batches[j].offset = off
		off += batches[j].count
		batches[j].count = 0
	}
	for i, r := range rs {
		if k := which[i]; k >= 0 {
			b := &batches[k]
			cmds[b.offset+b.count], sinks[b.offset+b.count] = r.copyCmd(), r
			b.count++
		}
	}
	for _, b := range batches {
		end := b.offset + b.count
		b.n.pool.ExecBatch(ctx, cmds[b.offset:end:end], sinks[b.offset:end:end])
	}
}

// send writes a copy of r's command to the node it should go to now.
func (c *Cluster) send(r *request) {
	n, asking := c.target(r)
	c.sendTo(r, n, asking)
}

// copyCmd returns a copy of r's command for one send (the pool releases
// what it writes; r keeps its own for a send again).
func (r *request) copyCmd() *core.Command {
	cp := core.NewCommand()
	cp.Buf = append(cp.Buf, r.cmd.Buf...)
	cp.Blocking = r.cmd.Blocking
	return cp
}

// sendTo writes a copy of r's command to n (nil: no node serves r's
// slot now: r waits for one, within its retry bounds).
func (c *Cluster) sendTo(r *request, n *node, asking bool) {
	if n == nil {
		c.cameBack(r, back{kind: notServed})
		return
	}
	r.sent = n
	cp := r.copyCmd()
	if !asking {
		n.pool.Exec(r.ctx, cp, r)
		return
	}
	a := core.NewCommand()
	a.Buf = protocol.AppendString(protocol.AppendArrayHeader(a.Buf, 1), "ASKING")
	n.pool.ExecBatch(r.ctx, []*core.Command{a, cp}, []core.Sink{discard{}, r})
}

// discard is the sink of ASKING: its reply says nothing the command's
// own reply does not.
type discard struct{}

func (discard) Complete(protocol.Value, error) {}

// target picks r's node: an ASK target once, a replica for a read when
// the policy says so, else the slot's master.
func (c *Cluster) target(r *request) (n *node, asking bool) {
	if r.asking() {
		addr := r.rs.ask
		r.rs.ask = ""
		c.mu.Lock()
		n = c.nodeLocked(addr, false)
		c.mu.Unlock()
		return n, true
	}
	if r.slot == anySlot {
		return c.anyMaster(), false
	}
	if r.read {
		if rn := c.replicaFor(r.slot); rn != nil {
			return rn, false
		}
		if c.cfg.Reads == core.ReadReplica && c.hasReplicas(r.slot) {
			return nil, false // wait for a replica
		}
	}
	return c.slots.owner[r.slot].Load(), false
}

// anyMaster is where keyless commands go: slot 0's master, else the
// first master in slot order (the owner of anySlot, set by refreshes).
func (c *Cluster) anyMaster() *node { return c.slots.owner[anySlot].Load() }

package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// A subscriber set's commands: each (S)SUBSCRIBE and (S)UNSUBSCRIBE goes
// to the node that serves its channels' slots, split by node.

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
		n, already := s.route(ctx, name, ch)
		if already {
			confirm = append(confirm, string(ch))
			continue
		}
		parts = addToPart(parts, n, core.Slot(ch), ch)
	}
	s.confirmLater(confirm)
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

// confirmLater confirms channels already subscribed on their node, as
// the node would: not on this goroutine (the caller may hold the lock the
// subscriber takes for a confirmation).
func (s *subConn) confirmLater(chans []string) {
	if len(chans) == 0 {
		return
	}
	s.c.lc.Go(func() {
		for _, ch := range chans {
			s.onPush(protocol.Value{Kind: protocol.KindPush, Elems: []protocol.Value{
				{Kind: protocol.KindBulkString, Str: "ssubscribe"}, {Kind: protocol.KindBulkString, Str: ch}, {Kind: protocol.KindInteger}}})
		}
	})
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
// or one taken from the set before), whose node still serves it, is
// confirmed already: it is not subscribed again, and its confirmation is
// made here (a refused re-subscription, CLUSTERDOWN while another master is down,
// would be a reply the connection cannot match, and close it with
// everything on it).
func (s *subConn) route(ctx context.Context, name string, ch []byte) (n *node, confirmed bool) {
	slot := int(core.Slot(ch))
	s.mu.Lock()
	n, _ = s.subs.On(shards, string(ch)) // where it was subscribed (or is, on a connection kept from the set before)
	confirmed = s.subs.Confirmed(shards, string(ch)) && name == "SSUBSCRIBE"
	s.mu.Unlock()
	if n != nil && name == "SSUBSCRIBE" && !s.c.serves(slot, n) {
		n, confirmed = nil, false
	}
	if confirmed {
		return n, true
	}
	if n == nil {
		n = s.c.subscribeTarget(ctx, slot)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case name == "SUNSUBSCRIBE":
		s.subs.Leave(shards, string(ch))
		s.subs.Unplace(shards, string(ch))
	case n != nil:
		s.subs.Place(shards, string(ch), n)
	default:
		s.subs.Unconfirm(shards, string(ch))
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

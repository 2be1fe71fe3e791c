package cluster

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool/waitline"
)

// slots is everything the cluster keeps per slot: its owner, the owner
// it gets next, and the order of its commands across redirects. It
// borrows the cluster's mutex (as waitline does) for all but the owners,
// the gates and the issue counter, which the command path reads without
// it. The Cluster sends what it lets go.
//
// A slot's gate word counts the slot's commands that were sent and have
// not come back; its gated bit says that new commands wait in the slot's
// line instead of being sent, so that none issued later overtakes one
// that came back to be sent again:
//
//	open ──a command comes back to be retried (park)──▶ gated
//	open, commands out ──owner changes (setOwnerLocked)──▶ gated, next owner noted
//	open, none out ──owner changes──▶ open, new owner at once
//	gated, commands out ──the last one comes back (returned)──▶ gated, none out
//	gated, none out ──release: its retry pause over, or its owner changed (kick)──▶
//	    the next owner installed; the k commands waiting sent in issue order: gated, k out
//	gated, none out, none waiting ──release──▶ open
//
// Claims: a slot's owner is set by a map (claimLocked: the config epoch
// of the claim followed is kept, and a map naming an older claim is
// believed only after epochTrust) and by a MOVED (moveLocked: at once,
// with no epoch, and kept against maps read before it).
type slots struct {
	mu     *sync.Mutex     // the cluster's: guards the fields below but owner, gates and seq
	done   <-chan struct{} // the cluster's end: joining a full line stops waiting
	closed *atomic.Bool    // the cluster's
	later  func(slot int)  // releases slot when its retry pause ends (on a goroutine of the cluster's)

	owner [NumSlots + 1]atomic.Pointer[node] // per slot (anySlot: the keyless commands' master)
	gates [NumSlots + 1]gate
	seq   atomic.Uint64 // issue order of requests

	line     *waitline.Line[*request] // commands waiting for their slot, keyed by slot
	next     map[int]*node            // a gated slot's next owner, installed when its commands out have come back
	readyAt  map[int]time.Time        // a waiting slot's earliest retry
	settling map[int]time.Time        // a slot redirected back and forth: no send before then, even if its owner changes
	timers   map[int]*time.Timer      // releases scheduled by readyAt and settling
	kicked   []int                    // slots whose owner changed with commands waiting: takeKickedLocked lets them go
	awaitMap map[int]uint64           // slots whose commands wait for a map read after a refresh of gen > this (a redirect outside the map)

	stamp [NumSlots + 1]uint64 // the refresh generation that last set the owner (a MOVED sets gen+1)
	epoch [NumSlots]int64      // the config epoch of the claim followed (0 unknown)
	doubt [NumSlots]int64      // unix ns of the first map naming an older claim since one confirmed epoch (0 none)
}

// A gate is one slot's word: the count of its commands out, and the
// gated bit.
type gate struct{ w atomic.Int64 }

const gated = 1 << 40

// init readies s with the cluster's mutex, end and closed flag;
// later releases a slot once its pause is over.
func (s *slots) init(mu *sync.Mutex, done <-chan struct{}, closed *atomic.Bool, later func(int), cfg Config) {
	s.mu, s.done, s.closed, s.later = mu, done, closed, later
	s.line = waitline.New(mu, cfg.MaxWaiting, cfg.MaxWaitingBytes, expireRequest)
	s.next = map[int]*node{}
	s.readyAt = map[int]time.Time{}
	s.settling = map[int]time.Time{}
	s.timers = map[int]*time.Timer{}
	s.awaitMap = map[int]uint64{}
}

// enter numbers r and counts it out on its slot's gate, and reports true;
// when the slot is gated r joins its line instead, and enter reports
// false.
func (s *slots) enter(r *request) bool {
	r.seq = s.seq.Add(1)
	g := &s.gates[r.slot].w
	for {
		w := g.Load()
		if w&gated != 0 {
			if s.join(r) {
				return false
			}
			continue // the gate opened meanwhile
		}
		if g.CompareAndSwap(w, w+1) {
			return true
		}
	}
}

// join puts a new request in its gated slot's line, waiting for room
// when the line is full, and reports true; false if the gate opened.
func (s *slots) join(r *request) bool {
	s.mu.Lock()
	open, err := s.line.Admit(r.ctx, s.done, len(r.cmd.Buf), func() (bool, error) {
		if s.closed.Load() {
			return false, core.ErrClosed
		}
		return s.gates[r.slot].w.Load()&gated == 0, nil
	})
	switch {
	case err != nil:
		s.mu.Unlock()
		r.fail(core.NotSent(err))
		return true
	case open:
		s.mu.Unlock()
		return false
	}
	s.line.Push(r.ctx, r.slot, r, len(r.cmd.Buf))
	s.mu.Unlock()
	return true
}

// ownerLocked returns the owner slot will have once its next owner, if
// any, is installed.
func (s *slots) ownerLocked(slot int) *node {
	if n, ok := s.next[slot]; ok {
		return n
	}
	return s.owner[slot].Load()
}

// target returns the node slot's commands go to next.
func (s *slots) target(slot int) *node {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ownerLocked(slot)
}

// firstOwnerLocked returns slot 0's master, else the first one in slot
// order, counting next owners.
func (s *slots) firstOwnerLocked() *node {
	for i := range NumSlots {
		if n := s.ownerLocked(i); n != nil {
			return n
		}
	}
	return nil
}

// setOwnerLocked makes n the owner of slot. Issue order across the
// change: with none of the slot's commands out, at once (the gate is
// closed for the moment of the change, so no command reads the owner
// half-way); otherwise the slot is gated and n waits as its next owner
// until the commands sent to the old owner have come back, so that none
// sent later to n overtakes one of them that is redirected there.
func (s *slots) setOwnerLocked(slot int, n *node) {
	g := &s.gates[slot].w
	if g.CompareAndSwap(0, gated) {
		s.owner[slot].Store(n)
		g.CompareAndSwap(gated, 0)
		return
	}
	g.Or(gated)
	s.next[slot] = n
	if g.Load() == gated {
		s.kickLocked(slot)
		return
	}
	// Commands are out: the slot goes once they are back, without the
	// retry pause meant for the old owner.
	s.unscheduleLocked(slot)
}

// claimLocked gives slot the owner n a map read by refresh gen names,
// at config epoch e (0: unknown), and reports whether the owner changed.
// A MOVED since gen began wins (the node asked may not know yet); so
// does, for epochTrust, a claim newer than e (the node asked has not
// heard of a failover or move yet; past that the newer claim is taken
// for a lie or a mistake).
func (s *slots) claimLocked(slot int, n *node, e int64, gen uint64, now int64) bool {
	if s.stamp[slot] > gen {
		return false
	}
	if e > 0 {
		if e < s.epoch[slot] {
			if s.doubt[slot] == 0 {
				s.doubt[slot] = now
			}
			if time.Duration(now-s.doubt[slot]) < epochTrust {
				return false
			}
		}
		s.epoch[slot], s.doubt[slot] = e, 0
	}
	if s.ownerLocked(slot) == n {
		return false
	}
	s.setOwnerLocked(slot, n)
	s.stamp[slot] = gen
	return true
}

// moveLocked makes n the owner of slot after a MOVED, while refresh gen
// is the latest begun, and reports whether the owner changed. A MOVED
// carries no epoch: the next map sets the slot's, and wins over the
// MOVED (a node may redirect to a node that is gone, or not yet know it
// lost the slot).
func (s *slots) moveLocked(slot int, n *node, gen uint64) bool {
	if s.ownerLocked(slot) == n {
		return false
	}
	s.setOwnerLocked(slot, n)
	s.stamp[slot] = gen + 1
	s.epoch[slot], s.doubt[slot] = 0, 0
	return true
}

// parkLocked gates r's slot and puts r in its line, not before delay;
// the caller then counts r back (returned).
func (s *slots) parkLocked(r *request, delay time.Duration) {
	s.gates[r.slot].w.Or(gated)
	if delay > 0 {
		at := time.Now().Add(delay)
		if at.After(s.readyAt[r.slot]) {
			s.readyAt[r.slot] = at
		}
	}
	s.line.Push(r.ctx, r.slot, r, len(r.cmd.Buf))
}

// returned counts a command of slot back and reports whether it was the
// last one out through a gate: the caller then releases the slot.
func (s *slots) returned(slot int) bool { return s.gates[slot].w.Add(-1) == gated }

// releaseLocked appends to rs the commands of slot to send now, counted
// out, in issue order: once none of its commands is out and its retry
// time has come, after installing its next owner. With none waiting the
// gate opens.
func (s *slots) releaseLocked(slot int, rs []*request) []*request {
	g := &s.gates[slot].w
	if g.Load() != gated || s.closed.Load() {
		return rs
	}
	if wait := max(time.Until(s.readyAt[slot]), time.Until(s.settling[slot])); wait > 0 {
		s.scheduleLocked(slot, wait)
		return rs
	}
	delete(s.settling, slot)
	delete(s.readyAt, slot)
	if n, ok := s.next[slot]; ok {
		s.owner[slot].Store(n)
		delete(s.next, slot)
	}
	taken := s.line.Take(slot)
	if len(taken) == 0 {
		g.CompareAndSwap(gated, 0)
		return rs
	}
	slices.SortFunc(taken, func(a, b *request) int { return cmp.Compare(a.seq, b.seq) })
	g.Add(int64(len(taken)))
	return append(rs, taken...)
}

// takeKickedLocked releases the slots whose owner changed: one pass for
// all of them (a failover moves thousands of slots at once).
func (s *slots) takeKickedLocked() []*request {
	var rs []*request
	for _, slot := range s.kicked {
		rs = s.releaseLocked(slot, rs)
	}
	s.kicked = nil
	return rs
}

// kickLocked lets the waiting commands of a gated slot with nothing out
// go at the next takeKickedLocked (its owner changed: the retry pause no
// longer applies).
func (s *slots) kickLocked(slot int) {
	s.unscheduleLocked(slot)
	s.kicked = append(s.kicked, slot)
}

// scheduleLocked releases slot after wait, unless a release is
// scheduled.
func (s *slots) scheduleLocked(slot int, wait time.Duration) {
	if _, ok := s.timers[slot]; ok {
		return
	}
	s.timers[slot] = time.AfterFunc(wait, func() {
		s.mu.Lock()
		delete(s.timers, slot)
		s.mu.Unlock()
		s.later(slot)
	})
}

// unscheduleLocked drops slot's retry pause and its scheduled release.
func (s *slots) unscheduleLocked(slot int) {
	delete(s.readyAt, slot)
	if t, ok := s.timers[slot]; ok && t.Stop() {
		delete(s.timers, slot)
	}
}

// settleLocked holds slot's commands back for d, whatever changes its
// owner meanwhile: its nodes are redirecting them to each other, and
// every redirect changes the owner (and a refresh changes it back).
func (s *slots) settleLocked(slot int, d time.Duration) {
	if at := time.Now().Add(d); at.After(s.settling[slot]) {
		s.settling[slot] = at
	}
}

// awaitMapLocked holds slot's commands until a refresh begun after gen
// has applied its map, or for at most wait if none does.
func (s *slots) awaitMapLocked(slot int, gen uint64, wait time.Duration) {
	s.awaitMap[slot] = gen
	if at := time.Now().Add(wait); at.After(s.readyAt[slot]) {
		s.readyAt[slot] = at
	}
}

// mapReadLocked lets go the slots that waited for a map read by a
// refresh after the one they saw (awaitMapLocked); gen is the refresh
// whose map was just applied.
func (s *slots) mapReadLocked(gen uint64) {
	for slot, asked := range s.awaitMap {
		if gen > asked {
			delete(s.awaitMap, slot)
			s.kickLocked(slot)
		}
	}
}

// closeLocked stops the scheduled releases and takes every waiting
// command, for the cluster's Close to fail.
func (s *slots) closeLocked() []*request {
	for _, t := range s.timers {
		t.Stop()
	}
	return s.line.TakeAll()
}

package cluster

import (
	"errors"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// refused handles node n's refusal of a subscription command (core.Ask),
// for the channel it names. An SSUBSCRIBE the cluster refuses for the
// moment (CLUSTERDOWN while a master is down, a MOVED or ASK while its
// slot moves, TRYAGAIN, a replica's MASTERDOWN or LOADING) is made again:
// the set is reported dead after a pause that grows with the refusals in
// a row (dieLater), and its successor, which keeps n's connection and
// the channels n confirmed, subscribes the channel again where the slot
// map then says. Any other refusal (an ACL's NOPERM, say) is the
// subscriber's to report.
func (s *subConn) refused(n *node, v protocol.Value, p core.Push) {
	ch, err := p.Channel, p.Refused
	switch p.Kind {
	case "sunsubscribe":
		// n no longer has the channel's slot, or will not say: either way
		// no confirmation comes, so it is no longer awaited.
		s = s.locked()
		s.subs.Left(shards, ch)
		s.mu.Unlock()
		return
	case "ssubscribe":
		// The channel is not subscribed on n: it must not count against
		// keeping n's connection when the slot turns out to be elsewhere.
		s = s.locked()
		if on, ok := s.subs.On(shards, ch); ok && on == n {
			s.subs.Unplace(shards, ch)
		}
		s.mu.Unlock()
		if transientRefusal(err) {
			var re *protocol.RedisError
			if errors.As(err, &re) {
				if slot, addr, ok := re.Redirect(); ok && errors.Is(err, protocol.ErrMoved) {
					s.c.movedTo(slot, addr, n)
				}
			}
			s.current().dieLater()
			return
		}
	}
	s.current().onPush(v)
}

// transientRefusal reports whether a node's refusal of a subscription
// can pass by itself: the cluster is changing, not refusing the channel.
func transientRefusal(err error) bool {
	for _, target := range []error{protocol.ErrClusterDown, protocol.ErrMoved, protocol.ErrAsk,
		protocol.ErrTryAgain, protocol.ErrMasterDown, protocol.ErrLoading} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// Pauses before a set refused for the moment is reported dead: the first
// about refusedPause, doubling with each refusal in a row up to
// refusedPauseMax (core.Backoff, jittered) (a cluster refuses everything for about a second while
// a master is down; it is not asked a hundred times meanwhile).
const (
	refusedPause    = 25 * time.Millisecond
	refusedPauseMax = time.Second
)

// dieLater reports s dead after the pause its refusals in a row call for
// (the connection that was refused may be a successor's by now: s is the
// current set).
func (s *subConn) dieLater() {
	s.mu.Lock()
	pause := s.refusals.Next()
	s.mu.Unlock()
	if !s.c.lc.Go(func() {
		t := time.NewTimer(pause)
		defer t.Stop()
		select {
		case <-t.C:
			s.die()
		case <-s.dead:
		case <-s.c.ctx.Done():
		}
	}) {
		s.die()
	}
}

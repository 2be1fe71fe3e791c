package core

import "slices"

// Subscriptions is the one registry of a subscriber's names. For each
// name of a set ("SUBSCRIBE", "PSUBSCRIBE" or "SSUBSCRIBE") it keeps
// whether the subscriber wants it, the connection it was subscribed on
// (C: a cluster's node; one connection needs none), whether that
// connection confirmed it, this side's unsubscribes of it that the server
// has not confirmed yet, and the callers awaiting its confirmation (each
// receives nil, or the server's refusal). The typed PubSub keeps what is
// wanted and awaited; a cluster's subscriber set, where each sharded
// channel is and what its node confirmed. It has no lock: its owner's
// guards it. The zero value is ready.
type Subscriptions[C comparable] struct {
	m map[subKey]*subEntry[C]
}

type subKey struct{ set, name string }

type subEntry[C comparable] struct {
	wanted    bool
	placed    bool // on is set
	on        C
	confirmed bool // by the connection at on
	leaving   int  // unsubscribes awaiting confirmation
	waiters   []chan error
}

func (s *Subscriptions[C]) entry(set, name string) *subEntry[C] {
	if s.m == nil {
		s.m = map[subKey]*subEntry[C]{}
	}
	k := subKey{set, name}
	e := s.m[k]
	if e == nil {
		e = &subEntry[C]{}
		s.m[k] = e
	}
	return e
}

func (s *Subscriptions[C]) get(set, name string) *subEntry[C] { return s.m[subKey{set, name}] }

// tidy forgets name once nothing is kept of it.
func (s *Subscriptions[C]) tidy(set, name string, e *subEntry[C]) {
	if !e.wanted && !e.placed && e.leaving == 0 && len(e.waiters) == 0 {
		delete(s.m, subKey{set, name})
	}
}

// Want records name as wanted and returns a channel that receives its
// confirmation (nil) or refusal.
func (s *Subscriptions[C]) Want(set, name string) <-chan error {
	e := s.entry(set, name)
	e.wanted = true
	w := make(chan error, 1)
	e.waiters = append(e.waiters, w)
	return w
}

// Drop records name as no longer wanted.
func (s *Subscriptions[C]) Drop(set, name string) {
	if e := s.get(set, name); e != nil {
		e.wanted = false
		s.tidy(set, name, e)
	}
}

// DropSet records every name of set as no longer wanted (an unsubscribe
// with no names).
func (s *Subscriptions[C]) DropSet(set string) {
	for k, e := range s.m {
		if k.set == set {
			e.wanted = false
			s.tidy(k.set, k.name, e)
		}
	}
}

// Wanted returns the names of set that are wanted, sorted.
func (s *Subscriptions[C]) Wanted(set string) []string {
	var names []string
	for k, e := range s.m {
		if k.set == set && e.wanted {
			names = append(names, k.name)
		}
	}
	slices.Sort(names)
	return names
}

// Answered takes the callers awaiting name's confirmation and gives each
// refused (nil: confirmed); a refused name is no longer wanted. It
// reports how many were waiting.
func (s *Subscriptions[C]) Answered(set, name string, refused error) int {
	e := s.get(set, name)
	if e == nil {
		return 0
	}
	ws := e.waiters
	e.waiters = nil
	if refused != nil {
		e.wanted = false
	}
	s.tidy(set, name, e)
	for _, w := range ws {
		w <- refused
	}
	return len(ws)
}

// Place records that name was subscribed on the connection at on, not
// yet confirmed there.
func (s *Subscriptions[C]) Place(set, name string, on C) {
	e := s.entry(set, name)
	e.placed, e.on, e.confirmed = true, on, false
}

// Unplace forgets where name was subscribed.
func (s *Subscriptions[C]) Unplace(set, name string) {
	if e := s.get(set, name); e != nil {
		var zero C
		e.placed, e.on, e.confirmed = false, zero, false
		s.tidy(set, name, e)
	}
}

// On returns the connection name was subscribed on, if any.
func (s *Subscriptions[C]) On(set, name string) (on C, ok bool) {
	if e := s.get(set, name); e != nil && e.placed {
		return e.on, true
	}
	return on, false
}

// Unconfirm records that name is to be subscribed again where it goes
// next (its connection's confirmation no longer counts).
func (s *Subscriptions[C]) Unconfirm(set, name string) {
	if e := s.get(set, name); e != nil {
		e.confirmed = false
	}
}

// Confirm records that the connection at on confirmed name, if name was
// subscribed there.
func (s *Subscriptions[C]) Confirm(set, name string, on C) {
	if e := s.get(set, name); e != nil && e.placed && e.on == on {
		e.confirmed = true
	}
}

// Confirmed reports whether name's connection confirmed it.
func (s *Subscriptions[C]) Confirmed(set, name string) bool {
	e := s.get(set, name)
	return e != nil && e.placed && e.confirmed
}

// Leave records one more unsubscribe of name sent and not yet confirmed.
func (s *Subscriptions[C]) Leave(set, name string) { s.entry(set, name).leaving++ }

// Left takes one of this side's unsubscribes of name off those awaiting
// confirmation, and reports whether there was one.
func (s *Subscriptions[C]) Left(set, name string) bool {
	e := s.get(set, name)
	if e == nil || e.leaving == 0 {
		return false
	}
	e.leaving--
	s.tidy(set, name, e)
	return true
}

// Placed calls fn for each name of set subscribed on a connection, with
// that connection and whether it confirmed the name, until fn returns
// false.
func (s *Subscriptions[C]) Placed(set string, fn func(name string, on C, confirmed bool) bool) {
	for k, e := range s.m {
		if k.set == set && e.placed && !fn(k.name, e.on, e.confirmed) {
			return
		}
	}
}

// Inherit copies into s, from the registry of the set before it, the
// names of set placed on a connection that keep says a successor keeps
// (with their confirmations), and every unsubscribe awaiting
// confirmation.
func (s *Subscriptions[C]) Inherit(from *Subscriptions[C], set string, keep func(C) bool) {
	for k, e := range from.m {
		if k.set != set {
			continue
		}
		if e.placed && keep(e.on) {
			n := s.entry(k.set, k.name)
			n.placed, n.on, n.confirmed = true, e.on, e.confirmed
		}
		if e.leaving > 0 {
			s.entry(k.set, k.name).leaving += e.leaving
		}
	}
}

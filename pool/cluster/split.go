package cluster

import (
	"errors"
	"fmt"
	"sync"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// merge gathers the replies of a split command's parts.
type merge struct {
	sink  core.Sink
	name  string
	kind  mergeKind
	parts []part

	mu     sync.Mutex // guards the fields below and the parts' outcomes
	left   int
	values []protocol.Value // MGET: per key
	sum    int64
	failed bool // a part failed: the caller gets a *SplitError
}

// part is the sink of one part of a split command.
type part struct {
	m    *merge
	idx  []int // its keys' positions among the command's
	slot uint16
	v    protocol.Value // its reply, once it ran
	err  error          // or its failure
}

// NoteCause implements core.CauseNoter: why a part is being retried is
// why the caller waits.
func (p *part) NoteCause(err error) { core.NoteCause(p.m.sink, err) }

func (p *part) Complete(v protocol.Value, err error) {
	m := p.m
	m.mu.Lock()
	if err == nil && v.Kind == protocol.KindError {
		err = v.Err()
	}
	switch {
	case err != nil:
	case m.kind == mergeValues && v.Kind == protocol.KindArray && len(v.Elems) == len(p.idx):
		for j, i := range p.idx {
			m.values[i] = v.Elems[j]
		}
	case m.kind == mergeValues:
		err = &protocol.ProtocolError{Kind: protocol.ErrMalformed, Detail: "cluster: MGET part reply of the wrong shape"}
	case m.kind == mergeSum:
		m.sum += v.Int
	}
	p.v, p.err = v, err
	m.failed = m.failed || err != nil
	m.left--
	last := m.left == 0
	m.mu.Unlock()
	if !last {
		return
	}
	switch {
	case m.failed:
		m.sink.Complete(protocol.Value{}, m.splitError())
	case m.kind == mergeValues:
		m.sink.Complete(protocol.Value{Kind: protocol.KindArray, Elems: m.values}, nil)
	case m.kind == mergeSum:
		m.sink.Complete(protocol.Value{Kind: protocol.KindInteger, Int: m.sum}, nil)
	default:
		m.sink.Complete(protocol.Value{Kind: protocol.KindSimpleString, Str: "OK"}, nil)
	}
}

// splitError reports every part's outcome; called once all are in.
func (m *merge) splitError() *SplitError {
	e := &SplitError{Command: m.name, Parts: make([]PartOutcome, len(m.parts))}
	for i, p := range m.parts {
		e.Parts[i] = PartOutcome{Slot: p.slot, Keys: p.idx, Reply: p.v, Err: p.err}
	}
	return e
}

// SplitError is the outcome of a command split by slot (MGET, DEL,
// UNLINK, EXISTS, TOUCH, MSET over several slots; see the package
// documentation) of which a part failed: a split command is not atomic,
// and its parts can end differently. Parts lists each part's outcome, in
// the order of the parts' first keys.
//
// core.SafeToRetry reports true, and errors.Is matches core.ErrNotSent,
// only if no part may have run: then sending the whole command again is
// safe (Client.WithRetries does). Otherwise the error matches what the
// failed parts' errors match (context.DeadlineExceeded, core.ErrInFlight,
// a server's error reply, ...) except core.ErrNotSent, and a caller who
// wants to finish the job sends the parts that did not run
// (PartOutcome.NotRun) itself.
type SplitError struct {
	Command string // DEL, MSET, ...
	Parts   []PartOutcome
}

// PartOutcome is one part of a split command: the keys of one slot.
type PartOutcome struct {
	Slot uint16
	Keys []int // the part's keys' positions among the command's keys (0 is the first key)
	// Reply is the part's reply when it ran (Err nil); Err its failure.
	Reply protocol.Value
	Err   error
}

// Ran reports whether the part ran and answered (Err nil), or was
// rejected by the server (an error reply: it ran, and changed nothing).
func (p PartOutcome) Ran() bool {
	var re *protocol.RedisError
	return p.Err == nil || errors.As(p.Err, &re)
}

// NotRun reports whether the part surely did not run: it was never
// written, or every node refused it before running it.
func (p PartOutcome) NotRun() bool { return p.Err != nil && core.SafeToRetry(p.Err) }

// InDoubt reports whether the part may or may not have run (it was in
// flight when its connection died, or its caller's context ended after
// it was written).
func (p PartOutcome) InDoubt() bool { return !p.Ran() && !p.NotRun() }

func (e *SplitError) Error() string {
	var ran, notRun, doubt int
	var first error
	for _, p := range e.Parts {
		switch {
		case p.Err == nil:
			ran++
		case p.NotRun():
			notRun++
		case p.Ran():
			ran++
		default:
			doubt++
		}
		if first == nil {
			first = p.Err
		}
	}
	return fmt.Sprintf("cluster: %s split over %d slots: %d parts ran, %d did not run, %d in doubt: %v",
		e.Command, len(e.Parts), ran, notRun, doubt, first)
}

// SafeToRetry reports whether no part may have run.
func (e *SplitError) SafeToRetry() bool {
	for _, p := range e.Parts {
		if !p.NotRun() {
			return false
		}
	}
	return true
}

// Unwrap returns the failed parts' errors; while some part may have run,
// a part that did not run is given without its "not sent" mark (its
// causes are kept), so that the whole does not match core.ErrNotSent.
func (e *SplitError) Unwrap() []error {
	safe := e.SafeToRetry()
	var errs []error
	for _, p := range e.Parts {
		switch {
		case p.Err == nil:
		case !safe && p.NotRun():
			errs = append(errs, notRunPart{p.Err})
		default:
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// notRunPart is the error of a part that did not run, in a SplitError
// another part of which may have: it matches what its error matches
// except core.ErrNotSent (its chain is not unwrapped, which would reach
// the mark).
type notRunPart struct{ err error }

func (p notRunPart) Error() string { return p.err.Error() }

func (p notRunPart) Is(target error) bool {
	return target != core.ErrNotSent && errors.Is(p.err, target)
}

func (p notRunPart) As(target any) bool {
	if _, ok := target.(**core.NotSentError); ok {
		return false
	}
	return errors.As(p.err, target)
}

// Package coretest helps test the sinks of package core: an inner sink
// with every optional capability, to check what a wrapper passes on.
package coretest

import (
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Inner is a sink with every optional capability (Offerer, PullSink,
// Consumer, Requeuer) that counts the calls reaching it.
type Inner struct {
	CompleteCalls, PullCalls, ResolvedCalls, ConsumesCalls, RequeueCalls int
}

// Complete implements core.Sink.
func (s *Inner) Complete(protocol.Value, error) { s.CompleteCalls++ }

// Offer implements core.Offerer.
func (s *Inner) Offer(protocol.Value, error) bool { s.CompleteCalls++; return true }

// SetPull implements core.PullSink.
func (s *Inner) SetPull(*core.PullMark) bool { s.PullCalls++; return true }

// Resolved implements core.PullSink.
func (s *Inner) Resolved() bool { s.ResolvedCalls++; return true }

// Consumes implements core.Consumer.
func (s *Inner) Consumes() bool { s.ConsumesCalls++; return true }

// Requeue implements core.Requeuer.
func (s *Inner) Requeue(*core.Command, error) bool { s.RequeueCalls++; return true }

// Forwarded calls each capability on w, a wrapper of inner, and reports
// which of them reached inner and answered true through w. Requeue is
// probed only when probeRequeue is set (a wrapper's own Requeue may act).
func Forwarded(w core.Sink, inner *Inner, probeRequeue bool) map[string]bool {
	got := map[string]bool{}
	if ps, ok := w.(core.PullSink); ok {
		n := inner.PullCalls
		got["SetPull"] = ps.SetPull(&core.PullMark{}) && inner.PullCalls == n+1
		n = inner.ResolvedCalls
		got["Resolved"] = ps.Resolved() && inner.ResolvedCalls == n+1
	}
	if c, ok := w.(core.Consumer); ok {
		n := inner.ConsumesCalls
		got["Consumes"] = c.Consumes() && inner.ConsumesCalls == n+1
	}
	if rq, ok := w.(core.Requeuer); ok && probeRequeue {
		n := inner.RequeueCalls
		got["Requeue"] = rq.Requeue(core.NewCommand(), core.ErrNotSent) && inner.RequeueCalls == n+1
	}
	if o, ok := w.(core.Offerer); ok {
		n := inner.CompleteCalls
		got["Offer"] = o.Offer(protocol.Value{}, nil) && inner.CompleteCalls == n+1
	}
	return got
}

package core

import "github.com/asyncredis/asyncredis/protocol"

// Wrapper is the base of every sink that wraps another (hooks, a managed
// pool's requeue, a blocking command's put-back): embedded, it forwards
// each optional capability of the wrapped sink — PullSink (the caller
// reads its own reply), Consumer (the reply's element array is reused)
// and Requeuer (a command never written is sent elsewhere) — so that no
// wrapper can silently lose one by forgetting to forward it. A wrapper
// implements Complete and Offer itself, and overrides a capability only
// where it must behave otherwise, saying why.
type Wrapper struct {
	// Inner is the wrapped sink.
	Inner Sink
}

// SetPull forwards to the wrapped sink (PullSink).
func (w Wrapper) SetPull(m *PullMark) bool {
	ps, ok := w.Inner.(PullSink)
	return ok && ps.SetPull(m)
}

// Resolved forwards to the wrapped sink (PullSink).
func (w Wrapper) Resolved() bool {
	ps, ok := w.Inner.(PullSink)
	return ok && ps.Resolved()
}

// Consumes forwards to the wrapped sink (Consumer).
func (w Wrapper) Consumes() bool {
	c, ok := w.Inner.(Consumer)
	return ok && c.Consumes()
}

// Requeue forwards to the wrapped sink (Requeuer).
func (w Wrapper) Requeue(cmd *Command, err error) bool {
	rq, ok := w.Inner.(Requeuer)
	return ok && rq.Requeue(cmd, err)
}

// Offer completes the wrapped sink (Offerer); for wrappers to call from
// their own Offer.
func (w Wrapper) Offer(v protocol.Value, err error) bool { return Offer(w.Inner, v, err) }

// NoteCause forwards to the wrapped sink (CauseNoter).
func (w Wrapper) NoteCause(err error) { NoteCause(w.Inner, err) }

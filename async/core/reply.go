package core

import (
	"context"

	"github.com/asyncredis/asyncredis/protocol"
)

// ReplyWaiter is a one-shot Sink for an executor's own commands (CLIENT
// UNBLOCK, a put-back, a query to a sentinel): its buffer of one means
// Complete never blocks, so the executor never waits for the caller.
type ReplyWaiter chan Reply

// Reply is what a ReplyWaiter received.
type Reply struct {
	Value protocol.Value
	Err   error
}

// NewReplyWaiter returns a ReplyWaiter ready for one Complete.
func NewReplyWaiter() ReplyWaiter { return make(ReplyWaiter, 1) }

// Complete implements Sink.
func (w ReplyWaiter) Complete(v protocol.Value, err error) { w <- Reply{v, err} }

// Wait returns the reply, an error reply as its error, or ctx's error if
// ctx ends first.
func (w ReplyWaiter) Wait(ctx context.Context) (protocol.Value, error) {
	select {
	case r := <-w:
		if r.Err == nil {
			r.Err = r.Value.Err()
		}
		return r.Value, r.Err
	case <-ctx.Done():
		return protocol.Value{}, ctx.Err()
	}
}

package async

import (
	"context"
	"errors"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// Retries is a client's policy for sending a failed command again; see
// Client.WithRetries.
type Retries struct {
	// MinBackoff and MaxBackoff space the attempts: each wait is drawn
	// from [d/2, d], d doubling from MinBackoff up to MaxBackoff; default
	// 10ms and 500ms.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts bounds the attempts of one command, the first
	// included; default 0: as many as its context allows.
	MaxAttempts int
}

// WithRetries returns a client over the same executor (and owning what
// c owns) whose commands are sent again, after a backoff and for as
// long as their context allows, when
//
//   - the command only reads (core.ReadOnly: GET, MGET, HGETALL, the
//     read-only forms such as SORT_RO, ...) and failed in flight
//     (core.ErrInFlight: its connection died before the reply, as when
//     a master is killed): reading again changes nothing; or
//   - whatever the command, its failure says it surely did not run
//     (core.SafeToRetry), and the error is not permanent (a closed
//     client, core.IsPermanent).
//
// A write that failed in flight may have run and is never sent again: it
// fails with ErrInFlight as without the policy. Error replies from the
// server are not retried. Blocking commands, pipelines, transactions and
// pub/sub are not retried. A read sent again goes after the commands
// issued meanwhile: only its own reply is waited for, not its place.
// Each retried command keeps a copy of its bytes until it resolves.
func (c *Client) WithRetries(r Retries) *Client {
	if r.MinBackoff <= 0 {
		r.MinBackoff = 10 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 500 * time.Millisecond
	}
	return &Client{ex: c.ex, closer: c.closer, retry: &r}
}

// retrying wraps sink so that cmd is sent again under c's policy; the
// sink itself when the command is not one to retry.
func (c *Client) retrying(ctx context.Context, cmd *core.Command, sink core.Sink) core.Sink {
	if cmd.Blocking || cmd.NoReply {
		return sink
	}
	return &retrySink{Wrapper: core.Wrapper{Inner: sink}, c: c, ctx: ctx, buf: append([]byte(nil), cmd.Buf...),
		read: core.ReadOnly(cmd.Name()), backoff: core.Backoff{Min: c.retry.MinBackoff, Max: c.retry.MaxBackoff}}
}

// retrySink completes the caller's sink with a reply, or with an error
// the policy does not retry; it sends the command again otherwise.
type retrySink struct {
	core.Wrapper
	c       *Client
	ctx     context.Context
	buf     []byte
	read    bool
	tries   int
	backoff core.Backoff
}

func (r *retrySink) Complete(v protocol.Value, err error) { r.Offer(v, err) }

// Offer passes a reply, or an error not retried, on; it takes an error
// it retries.
func (r *retrySink) Offer(v protocol.Value, err error) bool {
	r.tries++
	if err == nil || !r.again(err) {
		return r.Wrapper.Offer(v, err)
	}
	time.AfterFunc(r.backoff.Next(), r.resend)
	return true
}

// SetPull declines: a reply the caller would read itself could not be
// looked at, and an error in it not retried.
func (r *retrySink) SetPull(*core.PullMark) bool { return false }

// again reports whether the command is sent again after err.
func (r *retrySink) again(err error) bool {
	if r.ctx.Err() != nil || core.IsPermanent(err) {
		return false
	}
	if m := r.c.retry.MaxAttempts; m > 0 && r.tries >= m {
		return false
	}
	return core.SafeToRetry(err) || (r.read && errors.Is(err, core.ErrInFlight))
}

func (r *retrySink) resend() {
	if err := r.ctx.Err(); err != nil {
		r.Inner.Complete(protocol.Value{}, err)
		return
	}
	cmd := core.NewCommand()
	cmd.Buf = append(cmd.Buf, r.buf...)
	r.c.ex.Exec(r.ctx, cmd, r)
}

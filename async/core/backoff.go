package core

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter: each wait is drawn
// uniformly from [d/2, d], where d starts at Min and doubles after every
// wait up to Max, so that clients that failed together do not retry
// together. The zero value waits nothing; a Backoff is not safe for
// concurrent use.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns how long to wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(2*b.cur, b.Max)
	}
	if b.cur <= 0 {
		return 0
	}
	return b.cur/2 + time.Duration(rand.Int64N(int64(b.cur/2)+1))
}

// Reset starts over from Min, after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// Wait sleeps for Next, or until ctx ends; it returns ctx.Err() then.
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

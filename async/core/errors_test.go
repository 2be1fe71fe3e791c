package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
)

func TestSafeToRetryAnswersForEveryPackage(t *testing.T) {
	cause := errors.New("connection reset")
	for _, tc := range []struct {
		name    string
		err     error
		notSent bool
	}{
		{"nil", nil, false},
		{"written, then the connection died", &pool.ConnError{Addr: "a:1", Sent: true, Err: cause}, false},
		{"in flight when closed", &pool.ConnError{Addr: "a:1", Sent: true, Err: pool.ErrClosed}, false},
		{"queued when the connection died", &pool.ConnError{Addr: "a:1", Err: cause}, true},
		{"dial failed", &pool.DialError{Addr: "a:1", Step: "dial", Err: cause}, true},
		{"pool queue full", pool.ErrQueueFull, true},
		{"managed pool queue full", managedpool.ErrQueueFull, true},
		{"closed before writing", core.NotSent(core.ErrClosed), true},
		{"fail fast", core.NotSent(&sentinel.MasterNotFoundError{Name: "m", Err: sentinel.ErrNoSentinel}), true},
		{"wrapped by a caller", fmt.Errorf("saving order: %w", pool.ErrQueueFull), true},
		{"context ended, maybe after the write", context.Canceled, false},
		{"server reply", protocol.ParseError("WRONGTYPE Operation against a key"), false},
		{"unknown", cause, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.notSent, core.SafeToRetry(tc.err))
			assert.Equal(t, tc.notSent, errors.Is(tc.err, core.ErrNotSent))
		})
	}
}

func TestNotSentKeepsWhatItWraps(t *testing.T) {
	err := core.NotSent(context.DeadlineExceeded)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, context.DeadlineExceeded.Error(), err.Error())
	sent := &pool.ConnError{Sent: true, Err: cause()}
	assert.Same(t, sent, core.NotSent(sent), "an error that knows whether it was sent stays as it is")
	assert.NoError(t, core.NotSent(nil))
}

func cause() error { return errors.New("reset") }

func TestOneErrClosed(t *testing.T) {
	for _, err := range []error{pool.ErrClosed, managedpool.ErrClosed, sentinel.ErrClosed} {
		assert.ErrorIs(t, err, core.ErrClosed)
		assert.True(t, core.IsPermanent(err))
	}
}

func TestWaitingErrorMatchesTheContextAndTheCause(t *testing.T) {
	err := error(&core.WaitingError{Ctx: context.DeadlineExceeded, Cause: &pool.DialError{Addr: "a:1", Step: "dial", Err: cause()}})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var de *pool.DialError
	assert.ErrorAs(t, err, &de, "the cause")
	assert.NotErrorIs(t, err, core.ErrNotSent)
	var ns *core.NotSentError
	assert.False(t, errors.As(err, &ns))
	assert.False(t, core.SafeToRetry(err), "a context's error")
	assert.Contains(t, err.Error(), "context deadline exceeded")
}

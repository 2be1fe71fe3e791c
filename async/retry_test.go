package async_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flaky fails the first fails attempts of each command with err, then
// answers "v"; it counts the attempts by command name.
type flaky struct {
	mu       sync.Mutex
	fails    int
	err      error
	attempts map[string]int
}

func (f *flaky) Exec(_ context.Context, cmd *core.Command, sink core.Sink) {
	name := string(cmd.Name())
	cmd.Release()
	f.mu.Lock()
	f.attempts[name]++
	n := f.attempts[name]
	f.mu.Unlock()
	go func() {
		if n <= f.fails {
			sink.Complete(protocol.Value{}, f.err)
			return
		}
		sink.Complete(protocol.Value{Kind: protocol.KindBulkString, Str: "v"}, nil)
	}()
}

func newFlaky(fails int, err error) *flaky {
	return &flaky{fails: fails, err: err, attempts: map[string]int{}}
}

var inFlight = errors.Join(core.ErrInFlight, errors.New("connection reset"))

func TestRetriesSendReadsAgainAfterInFlightFailures(t *testing.T) {
	ex := newFlaky(3, inFlight)
	c := async.NewClient(ex).WithRetries(async.Retries{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := c.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	assert.Equal(t, 4, ex.attempts["GET"])

	// A write that failed in flight may have run: it is not sent again.
	err = c.Set(ctx, "k", "v").Err()
	require.ErrorIs(t, err, core.ErrInFlight)
	assert.Equal(t, 1, ex.attempts["SET"])

	// Without the policy, the read fails as it did.
	plain := async.NewClient(newFlaky(1, inFlight))
	require.ErrorIs(t, plain.Get(ctx, "k").Err(), core.ErrInFlight)
}

func TestRetriesSendAnyCommandThatSurelyDidNotRun(t *testing.T) {
	ex := newFlaky(2, core.NewNotSent("queue full"))
	c := async.NewClient(ex).WithRetries(async.Retries{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Set(ctx, "k", "v").Err())
	assert.Equal(t, 3, ex.attempts["SET"])
}

func TestRetriesStopAtTheBounds(t *testing.T) {
	ctx := context.Background()
	// MaxAttempts.
	ex := newFlaky(100, inFlight)
	c := async.NewClient(ex).WithRetries(async.Retries{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxAttempts: 3})
	require.ErrorIs(t, c.Get(ctx, "k").Err(), core.ErrInFlight)
	assert.Equal(t, 3, ex.attempts["GET"])

	// The context.
	ex = newFlaky(1<<30, inFlight)
	c = async.NewClient(ex).WithRetries(async.Retries{MinBackoff: 5 * time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, c.Get(short, "k").Err(), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)

	// A permanent error (a closed pool) is not retried.
	ex = newFlaky(100, core.NotSent(core.ErrClosed))
	c = async.NewClient(ex).WithRetries(async.Retries{})
	require.ErrorIs(t, c.Get(ctx, "k").Err(), core.ErrClosed)
	assert.Equal(t, 1, ex.attempts["GET"])

	// An error reply ran: not retried.
	ex = newFlaky(100, protocol.ParseError("ERR wrong"))
	c = async.NewClient(ex).WithRetries(async.Retries{})
	require.Error(t, c.Get(ctx, "k").Err())
	assert.Equal(t, 1, ex.attempts["GET"])
}

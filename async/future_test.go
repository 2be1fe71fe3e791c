package async

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manualExec records commands and lets the test complete them.
type manualExec struct {
	mu    sync.Mutex
	cmds  []string
	sinks []core.Sink
	got   chan struct{} // one token per Exec
}

func newManualExec() *manualExec { return &manualExec{got: make(chan struct{}, 1024)} }

func (m *manualExec) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	m.mu.Lock()
	m.cmds = append(m.cmds, string(cmd.Buf))
	m.sinks = append(m.sinks, sink)
	m.mu.Unlock()
	cmd.Release()
	m.got <- struct{}{}
}

func (m *manualExec) complete(i int, v protocol.Value, err error) {
	m.mu.Lock()
	s := m.sinks[i]
	m.mu.Unlock()
	s.Complete(v, err)
}

func bulk(s string) protocol.Value { return protocol.Value{Kind: protocol.KindBulkString, Str: s} }

func TestFutureResolvesOnce(t *testing.T) {
	ex := newManualExec()
	c := NewClient(ex)
	f := c.Get(context.Background(), "k")
	<-ex.got
	assert.Equal(t, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", ex.cmds[0])
	select {
	case <-f.Done():
		t.Fatal("resolved before the reply")
	default:
	}
	assert.False(t, f.IsResolved())
	ex.complete(0, bulk("v1"), nil)
	ex.complete(0, bulk("v2"), nil)                      // ignored
	ex.complete(0, protocol.Value{}, errors.New("late")) // ignored
	<-f.Done()
	v, err := f.Result()
	require.NoError(t, err)
	assert.Equal(t, "v1", v)
	assert.True(t, f.IsResolved())
}

func TestFutureConcurrentResolvers(t *testing.T) {
	for i := 0; i < 200; i++ {
		f := newFuture(ToString)
		var wg sync.WaitGroup
		var wins atomic.Int32
		for j := 0; j < 8; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if f.resolve("x", nil) {
					wins.Add(1)
				}
			}()
			wg.Add(1)
			go func() { defer wg.Done(); <-f.Done() }()
		}
		wg.Wait()
		assert.EqualValues(t, 1, wins.Load())
	}
}

func TestFutureContext(t *testing.T) {
	t.Run("ended before the call: never sent", func(t *testing.T) {
		ex := newManualExec()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f := NewClient(ex).Get(ctx, "k")
		_, err := f.Result()
		assert.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, ex.cmds)
	})
	t.Run("ended while waiting: resolves at once, late reply discarded", func(t *testing.T) {
		ex := newManualExec()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		f := NewClient(ex).Get(ctx, "k")
		_, err := f.Result()
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 2*time.Second, "resolved by its deadline (a tail guard: the manual executor never replies, so a future that missed its deadline would wait for ever)")
		ex.complete(0, bulk("late"), nil)
		_, err = f.Result()
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("Wait abandons only the wait", func(t *testing.T) {
		ex := newManualExec()
		f := NewClient(ex).Get(context.Background(), "k")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.Wait(ctx)
		assert.ErrorIs(t, err, context.Canceled)
		ex.complete(0, bulk("v"), nil)
		v, err := f.Result()
		require.NoError(t, err)
		assert.Equal(t, "v", v)
	})
}

func TestFutureErrorsAndNil(t *testing.T) {
	ex := newManualExec()
	c := NewClient(ex)
	ctx := context.Background()
	missing := c.Get(ctx, "missing")
	wrong := c.Get(ctx, "list")
	typed := c.Incr(ctx, "k")
	for i := 0; i < 3; i++ {
		<-ex.got
	}
	ex.complete(0, protocol.Value{Kind: protocol.KindNull}, nil)
	ex.complete(1, protocol.Value{Kind: protocol.KindError, Str: "WRONGTYPE Operation against a key holding the wrong kind of value"}, nil)
	ex.complete(2, bulk("not a number"), nil)
	assert.ErrorIs(t, missing.Err(), ErrNil)
	assert.ErrorIs(t, wrong.Err(), protocol.ErrWrongType)
	var te *TypeError
	require.ErrorAs(t, typed.Err(), &te)
	assert.Equal(t, "int64", te.Want)
}

func TestCombinators(t *testing.T) {
	ex := newManualExec()
	c := NewClient(ex)
	ctx := context.Background()
	a, b, d := c.Get(ctx, "a"), c.Incr(ctx, "b"), c.Get(ctx, "d")
	for i := 0; i < 3; i++ {
		<-ex.got
	}
	doubled := Map(b, func(n int64) (int64, error) { return 2 * n, nil })

	ex.complete(1, protocol.Value{Kind: protocol.KindInteger, Int: 21}, nil)
	i, err := WaitAny(ctx, a, b, d)
	require.NoError(t, err)
	assert.Equal(t, 1, i)
	assert.EqualValues(t, 42, doubled.Val())

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, WaitAll(short, a, b, d), context.DeadlineExceeded)

	ex.complete(2, bulk("dv"), nil)
	ex.complete(0, protocol.Value{}, errors.New("boom"))
	var order []int
	for i := range AsCompleted(ctx, a, b, d) {
		order = append(order, i)
	}
	assert.ElementsMatch(t, []int{0, 1, 2}, order)
	assert.EqualError(t, WaitAll(ctx, b, d, a), "boom")
	assert.NoError(t, WaitAll(ctx, b, d))
}

func TestJoin(t *testing.T) {
	ex := newManualExec()
	c := NewClient(ex)
	ctx := context.Background()
	a, b := c.Get(ctx, "a"), c.Incr(ctx, "b")
	<-ex.got
	<-ex.got
	j := Join(a, b)
	ex.complete(0, bulk("x"), nil)
	assert.False(t, j.IsResolved())
	ex.complete(1, protocol.Value{Kind: protocol.KindInteger, Int: 1}, nil)
	<-j.Done()
	assert.NoError(t, j.Err())
	assert.ErrorIs(t, Join(Failed[int](ErrNil), Resolved(1)).Err(), ErrNil)
	assert.NoError(t, Join().Err())
}

func TestResolvedAndFailed(t *testing.T) {
	assert.Equal(t, 3, Resolved(3).Val())
	assert.EqualError(t, Failed[int](errors.New("x")).Err(), "x")
	select {
	case <-Resolved("a").Done():
	default:
		t.Fatal("Done of a resolved future is closed")
	}
}

// instantExec answers every command at once with a fixed reply, on the
// caller's goroutine.
type instantExec struct{ reply protocol.Value }

func (e instantExec) Exec(_ context.Context, cmd *core.Command, sink core.Sink) {
	cmd.Release()
	sink.Complete(e.reply, nil)
}

// A context that ends resolves the future with its error, whoever looks
// first and however: a reply that arrives later is discarded, Done is
// closed, IsResolved says so, Result returns the context's error.
func TestFutureContextEndsWithoutWatcherPerCommand(t *testing.T) {
	for _, look := range []string{"reply", "done", "isresolved", "result", "then"} {
		t.Run(look, func(t *testing.T) {
			ex := newManualExec()
			c := NewClient(ex)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := c.Get(ctx, "k")
			<-ex.got
			switch look {
			case "done":
				done := f.Done()
				cancel()
				<-done
			case "then":
				m := Map(f, func(s string) (string, error) { return s, nil })
				cancel()
				<-m.Done()
				assert.ErrorIs(t, m.Err(), context.Canceled)
			case "isresolved":
				assert.False(t, f.IsResolved())
				cancel()
				assert.True(t, f.IsResolved())
			case "result":
				go cancel()
			case "reply":
				cancel()
				ex.complete(0, bulk("late"), nil)
			}
			_, err := f.Result()
			assert.ErrorIs(t, err, context.Canceled)
			ex.complete(0, bulk("later"), nil) // discarded
			_, err = f.Result()
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
}

// A future costs one allocation, and a context with a deadline one more
// (not a timer or AfterFunc per command); ErrNil costs nothing extra.
func TestFutureAllocations(t *testing.T) {
	c := NewClient(instantExec{protocol.Value{Kind: protocol.KindSimpleString, Str: "OK"}})
	val := strings.Repeat("v", 16)
	bg := context.Background()
	ctx, cancel := context.WithTimeout(bg, time.Hour)
	defer cancel()
	assert.Equal(t, 1.0, testing.AllocsPerRun(200, func() { c.Set(bg, "k", val).Result() }))
	assert.Equal(t, 2.0, testing.AllocsPerRun(200, func() { c.Set(ctx, "k", val).Result() }))
	miss := NewClient(instantExec{protocol.Value{Kind: protocol.KindNull}})
	assert.Equal(t, 1.0, testing.AllocsPerRun(200, func() {
		_, err := miss.Get(bg, "k").Result()
		if err != ErrNil {
			panic(err)
		}
	}))
}

// An executor retrying a command notes why (core.CauseNoter): when the
// command's context ends first, the future's error is the context's
// and says why it was still waiting — in Result, Done and Err alike.
func TestContextErrorSaysWhyTheCommandWaited(t *testing.T) {
	ex := newManualExec()
	c := NewClient(ex)
	cause := core.NotSent(errors.New("dial: connection refused"))
	for _, wait := range []string{"Result", "Done"} {
		t.Run(wait, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			f := c.Get(ctx, "k")
			<-ex.got
			ex.mu.Lock()
			core.NoteCause(ex.sinks[len(ex.sinks)-1], cause)
			ex.mu.Unlock()
			var err error
			if wait == "Result" {
				_, err = f.Result()
			} else {
				<-f.Done()
				err = f.Err()
			}
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorContains(t, err, "connection refused")
			var we *core.WaitingError
			require.ErrorAs(t, err, &we)
			assert.NotErrorIs(t, err, core.ErrNotSent, "where the command was is not known")
			assert.False(t, core.SafeToRetry(err))
		})
	}
	// With no cause noted, the context's error is as it is.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	f := c.Get(ctx, "k")
	<-ex.got
	assert.Equal(t, context.DeadlineExceeded, f.Err())
}

package managedpool_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol/resptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// named answers GET with the server's own name, so a test sees which
// address served a command.
func named(name string) func(*resptest.Conn) {
	return resptest.Handler(func(args []string) string {
		if strings.EqualFold(args[0], "GET") {
			return "$" + string(rune('0'+len(name))) + "\r\n" + name + "\r\n"
		}
		return ""
	})
}

func TestWaitsForAddressThenSends(t *testing.T) {
	checkLeaks(t)
	a := resptest.NewServer(t, named("a"))
	p := managedpool.New(managedpool.Config{})
	t.Cleanup(func() { p.Close() })
	c := async.NewClient(p)
	f := c.Get(context.Background(), "k")
	assert.Equal(t, 1, p.Stats().Waiting, "no address yet: the command waits")
	require.NoError(t, p.SetAddrs([]string{a.Addr}))
	v, err := f.Result()
	require.NoError(t, err)
	assert.Equal(t, "a", v)
}

func TestSwitchMovesTraffic(t *testing.T) {
	checkLeaks(t)
	a := resptest.NewServer(t, named("a"))
	b := resptest.NewServer(t, named("b"))
	var troubles atomic.Int32
	p := managedpool.New(managedpool.Config{OnTrouble: func(string, error) { troubles.Add(1) }})
	t.Cleanup(func() { p.Close() })
	c := async.NewClient(p)
	ctx := context.Background()
	require.NoError(t, p.SetAddrs([]string{a.Addr}))
	assert.Equal(t, "a", c.Get(ctx, "k").Val())
	require.NoError(t, p.SetAddrs([]string{b.Addr}))
	for i := 0; i < 10; i++ {
		assert.Equal(t, "b", c.Get(ctx, "k").Val(), "nothing goes to the replaced address")
	}
	require.NoError(t, p.SetAddrs([]string{a.Addr, b.Addr}))
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		key := fmt.Sprint("k", i)
		first := c.Get(ctx, key).Val()
		seen[first] = true
		for j := 0; j < 3; j++ {
			assert.Equal(t, first, c.Get(ctx, key).Val(), "one key, one address")
		}
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true}, seen, "keys spread over several addresses")
}

func TestFailFastFullLineAndClose(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	sentinel := errors.New("no master")
	ff := managedpool.New(managedpool.Config{FailFast: true, NotFound: func() error { return sentinel }})
	notFound := async.NewClient(ff).Ping(ctx).Err()
	assert.ErrorIs(t, notFound, sentinel)
	ff.Close()

	q := managedpool.New(managedpool.Config{QueueSize: 2})
	c := async.NewClient(q)
	f1, f2 := c.Ping(ctx), c.Ping(ctx)
	fullCtx, cancelFull := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelFull()
	full := c.Ping(fullCtx).Err() // waits for room until its deadline
	assert.ErrorIs(t, full, context.DeadlineExceeded)
	q.FailWaiting(sentinel)
	assert.ErrorIs(t, f1.Err(), sentinel)
	assert.ErrorIs(t, f2.Err(), sentinel)

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Ping(short).Err(), context.DeadlineExceeded, "a waiting command is bounded by its context")
	waiting := c.Ping(ctx)
	require.NoError(t, q.Close())
	assert.ErrorIs(t, waiting.Err(), managedpool.ErrClosed)
	afterClose := c.Ping(ctx).Err()
	assert.ErrorIs(t, afterClose, managedpool.ErrClosed)
	assert.ErrorIs(t, q.SetAddrs([]string{"x:1"}), managedpool.ErrClosed)

	// None of these commands was written: every failure says so, through
	// the one predicate and through ErrNotSent, and closed is one ErrClosed.
	for name, err := range map[string]error{
		"fail fast": notFound, "failed while waiting": f1.Err(),
		"closed while waiting": waiting.Err(), "after close": afterClose,
	} {
		assert.True(t, core.SafeToRetry(err), name)
		assert.ErrorIs(t, err, core.ErrNotSent, name)
		assert.ErrorIs(t, err, pool.ErrNotSent, name)
	}
	assert.ErrorIs(t, afterClose, pool.ErrClosed)
	assert.ErrorIs(t, afterClose, core.ErrClosed)
}

func TestNeverWrittenCommandsAreRequeued(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	dead := resptest.NewServer(t, named("dead"))
	deadAddr := dead.Addr
	dead.Close() // nothing listens: dials fail, nothing is written
	b := resptest.NewServer(t, named("b"))
	var troubled atomic.Int32
	p := managedpool.New(managedpool.Config{
		Pool:      pool.Config{DialTimeout: time.Second},
		OnTrouble: func(string, error) { troubled.Add(1) },
	})
	t.Cleanup(func() { p.Close() })
	require.NoError(t, p.SetAddrs([]string{deadAddr}))
	f := async.NewClient(p).Get(ctx, "k")
	require.Eventually(t, func() bool { return troubled.Load() > 0 && len(p.Addrs()) == 0 }, 5*time.Second, time.Millisecond,
		"the failing address is dropped and reported")
	require.NoError(t, p.SetAddrs([]string{b.Addr}))
	v, err := f.Result()
	require.NoError(t, err, "the never-written command ran on the new address")
	assert.Equal(t, "b", v)
}

// kv is a tiny in-memory SET/GET server.
func kv() func(*resptest.Conn) {
	var mu sync.Mutex
	data := map[string]string{}
	return resptest.Handler(func(args []string) string {
		mu.Lock()
		defer mu.Unlock()
		switch strings.ToUpper(args[0]) {
		case "SET":
			data[args[1]] = args[2]
			return "+OK\r\n"
		case "GET":
			v, ok := data[args[1]]
			if !ok {
				return "$-1\r\n"
			}
			return fmt.Sprintf("$%d\r\n%s\r\n", len(v), v)
		}
		return ""
	})
}

// Commands that waited for an address go before commands issued after
// them, even while SetAddrs is still handing the waiting ones over.
func TestWaitingCommandsKeepIssueOrder(t *testing.T) {
	checkLeaks(t)
	srv := resptest.NewServer(t, kv())
	p := managedpool.New(managedpool.Config{QueueSize: 16384})
	t.Cleanup(func() { p.Close() })
	c := async.NewClient(p)
	ctx := context.Background()
	for i := range 50 {
		p.Invalidate()
		sets := make([]*async.Future[string], 2000)
		for j := range sets {
			sets[j] = c.Set(ctx, "k", fmt.Sprint(i, ":", j)) // wait for an address
		}
		done := make(chan error, 1)
		go func() { done <- p.SetAddrs([]string{srv.Addr}) }()
		// GETs issued after every SET, while SetAddrs hands the SETs over.
		var gets []*async.Future[string]
	issue:
		for len(gets) < 10000 {
			select {
			case err := <-done:
				require.NoError(t, err)
				break issue
			default:
				gets = append(gets, c.Get(ctx, "k"))
			}
		}
		want := fmt.Sprint(i, ":", len(sets)-1)
		for _, g := range gets {
			v, err := g.Result()
			require.NoError(t, err)
			require.Equal(t, want, v, "round %d: a GET overtook a waiting SET", i)
		}
		for _, f := range sets {
			require.NoError(t, f.Err())
		}
	}
}

func TestHoldKeepsCommandsUntilResumeOrSwitch(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	a := resptest.NewServer(t, named("a"))
	b := resptest.NewServer(t, named("b"))
	p := managedpool.New(managedpool.Config{})
	t.Cleanup(func() { p.Close() })
	c := async.NewClient(p)
	require.NoError(t, p.SetAddrs([]string{a.Addr}))
	require.NoError(t, c.Ping(ctx).Err()) // connected

	p.Hold()
	held := []*async.Future[string]{c.Get(ctx, "k1"), c.Get(ctx, "k2")}
	assert.Equal(t, 2, p.Stats().Waiting, "held: commands wait")
	_, _, err := p.AcquireExecutor(ctx)
	assert.ErrorIs(t, err, managedpool.ErrNoAddress, "no dedicated connection to a held address")
	require.NoError(t, p.Resume())
	for _, f := range held {
		v, err := f.Result()
		require.NoError(t, err)
		assert.Equal(t, "a", v, "resumed on the same address")
	}

	p.Hold()
	f := c.Get(ctx, "k3")
	require.NoError(t, p.SetAddrs([]string{b.Addr}))
	v, err := f.Result()
	require.NoError(t, err)
	assert.Equal(t, "b", v, "a switch ends the hold")

	ff := managedpool.New(managedpool.Config{FailFast: true})
	t.Cleanup(func() { ff.Close() })
	require.NoError(t, ff.SetAddrs([]string{a.Addr}))
	ff.Hold()
	err = async.NewClient(ff).Ping(ctx).Err()
	assert.ErrorIs(t, err, managedpool.ErrNoAddress, "FailFast fails at once while held")
	assert.True(t, core.SafeToRetry(err))
}

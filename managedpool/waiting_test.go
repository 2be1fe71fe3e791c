package managedpool_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// While no address is known, the commands that wait are bounded in bytes
// as well as in count, and a command whose context ends leaves the line
// at once: 8 goroutines firing 64 KiB SETs with 100 ms deadlines, not
// awaited, keep the heap small, and nothing waits once they are done.
func TestWaitingCommandsBoundedInBytesAndExpire(t *testing.T) {
	checkLeaks(t)
	p := managedpool.New(managedpool.Config{})
	t.Cleanup(func() { p.Close() })
	c := async.NewClient(p)
	payload := make([]byte, 64<<10)
	runtime.GC()
	var peak atomic.Uint64
	stop := time.Now().Add(2 * time.Second)
	var late atomic.Int64
	var g errgroup.Group
	for range 8 {
		g.Go(func() error {
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				start := time.Now()
				c.Set(ctx, "big", payload) // not awaited
				if time.Since(start) > 100*time.Millisecond+time.Second+raceSlack {
					late.Add(1)
				}
				context.AfterFunc(ctx, cancel)
			}
			return nil
		})
	}
	g.Go(func() error {
		for time.Now().Before(stop) {
			// The live heap as of the last collection: what the process
			// keeps, not garbage awaiting the next one.
			sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(20 * time.Millisecond) // the sampling period
		}
		return nil
	})
	require.NoError(t, g.Wait())
	require.Eventually(t, func() bool { return p.Stats().Waiting == 0 }, time.Second, time.Millisecond,
		"commands whose context ended still waiting")
	t.Logf("peak live heap %d MiB", peak.Load()>>20)
	assert.Less(t, peak.Load(), uint64(32<<20), "peak live heap")
	assert.Zero(t, late.Load(), "calls that outlived their deadline by more than a second (a tail guard)")
}

// A command that finds the line of commands waiting for an address full
// waits for room, in order, bounded by its context, instead of failing:
// 500 goroutines, each with 4 unawaited INCRs and a GET on its own key,
// through a QueueSize of 16, all succeed once an address comes, in order.
// Under FailFast a command still fails at once.
func TestFullLineWaitsForRoom(t *testing.T) {
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := managedpool.New(managedpool.Config{QueueSize: 16})
	t.Cleanup(func() { p.Close() })
	c := async.NewClient(p)
	const n = 500
	var g errgroup.Group
	var started sync.WaitGroup
	started.Add(n)
	var wrong atomic.Int64
	for i := range n {
		g.Go(func() error {
			started.Done()
			key := fmt.Sprint("full:", i)
			for range 4 {
				c.Incr(ctx, key) // not awaited
			}
			v, err := c.Get(ctx, key).Result()
			if err != nil {
				return err
			}
			if v != "4" {
				wrong.Add(1)
			}
			return nil
		})
	}
	started.Wait()
	require.Eventually(t, func() bool { return p.Stats().Waiting == 16 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.SetAddrs([]string{r.Addr()}))
	require.NoError(t, g.Wait(), "no command fails for want of room")
	assert.Zero(t, wrong.Load(), "GETs that did not see their 4 INCRs")

	// A caller whose context ends while it waits for room fails with its
	// context's error, unsent.
	p.Invalidate()
	for range 16 {
		c.Incr(ctx, "fill")
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := c.Get(cctx, "k").Result()
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	ff := managedpool.New(managedpool.Config{QueueSize: 1, FailFast: true})
	t.Cleanup(func() { ff.Close() })
	_, err = async.NewClient(ff).Get(ctx, "k").Result()
	assert.True(t, errors.Is(err, managedpool.ErrNoAddress), "FailFast: %v", err)
}

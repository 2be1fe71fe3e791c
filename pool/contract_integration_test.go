package pool_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// Issue order: a SET that is not awaited, then a GET, must see the SET,
// with any number of shared connections.
func TestOrderSetThenGetUnawaited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	for _, size := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(size, " shared connections"), func(t *testing.T) {
			c := async.NewClient(newPool(t, pool.Config{Addr: r.Addr(), MinSize: size}))
			wrong := 0
			for i := range 1000 {
				key := fmt.Sprint("order:", size, ":", i%7)
				c.Set(ctx, key, i) // not awaited
				got, err := c.Get(ctx, key).Result()
				require.NoError(t, err)
				if got != strconv.Itoa(i) {
					wrong++
				}
			}
			assert.Zero(t, wrong, "GETs that did not see the SET issued before them")

			// The type change is seen too: SET a string, then INCR fails.
			c.Set(ctx, "order:s", "abc")
			_, err := c.Incr(ctx, "order:s").Result()
			assert.Error(t, err, "INCR ran after the SET of a string")
		})
	}
}

// Many goroutines, each issuing a burst of commands on its own keys
// without awaiting in between, with bounds small enough that every burst
// goes over them: every reply is the one its command should get.
func TestOrderBurstsOverEveryThreshold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	for _, tt := range []struct {
		name string
		cfg  pool.Config
	}{
		{"defaults", pool.Config{Addr: r.Addr()}},
		{"4 connections, tiny queues", pool.Config{Addr: r.Addr(), MinSize: 4, MaxPending: 64, MaxQueueBytes: 2 << 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := async.NewClient(newPool(t, tt.cfg))
			var wrong atomic.Int64
			var g errgroup.Group
			const workers, rounds = 2000, 5
			for w := range workers {
				g.Go(func() error {
					k := fmt.Sprintf("burst:%s:{%d}", tt.name, w)
					h := k + ":h"
					var sets []*async.Future[string]
					var gets []*async.Future[string]
					var incrs []*async.Future[int64]
					var mgets []*async.Future[[]async.NullString]
					var hsets []*async.Future[int64]
					for i := range rounds {
						sets = append(sets, c.Set(ctx, k, i*10))
						gets = append(gets, c.Get(ctx, k))
						incrs = append(incrs, c.Incr(ctx, k))
						hsets = append(hsets, c.HSet(ctx, h, "f", i))
						mgets = append(mgets, c.MGet(ctx, k, h+":none"))
					}
					for i := range rounds {
						if v, err := gets[i].Result(); err != nil || v != strconv.Itoa(i*10) {
							wrong.Add(1)
						}
						if v, err := incrs[i].Result(); err != nil || v != int64(i*10+1) {
							wrong.Add(1)
						}
						if v, err := mgets[i].Result(); err != nil || len(v) != 2 || v[0].String != strconv.Itoa(i*10+1) || v[1].Valid {
							wrong.Add(1)
						}
						if _, err := sets[i].Result(); err != nil {
							wrong.Add(1)
						}
						if _, err := hsets[i].Result(); err != nil {
							wrong.Add(1)
						}
					}
					return nil
				})
			}
			require.NoError(t, g.Wait())
			assert.Zero(t, wrong.Load(), "replies out of issue order")
		})
	}
}

// A pipeline runs in order with the single commands around it on its
// connection; a transaction is ordered with what the caller awaited.
func TestOrderPipelinesAndTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c := async.NewClient(newPool(t, pool.Config{Addr: r.Addr(), MinSize: 3}))
	for i := range 200 {
		k := fmt.Sprint("pl:", i)
		c.Set(ctx, k, 1)
		pl := c.Pipeline()
		incr := pl.Client().Incr(ctx, k)
		require.NoError(t, pl.Exec(ctx))
		get := c.Get(ctx, k)
		assert.Equal(t, int64(2), incr.Val())
		assert.Equal(t, "2", get.Val())

		tx := c.TxPipeline()
		tincr := tx.Client().Incr(ctx, k)
		require.NoError(t, tx.Exec(ctx))
		assert.Equal(t, int64(3), tincr.Val())
		assert.Equal(t, "3", c.Get(ctx, k).Val())
	}
}

// A pipeline several times larger than what the writer sends per write
// (and holding one value larger than that on its own) goes out in
// several writes, in order: every GET reads the SET just before it, and
// the connection serves the next command.
func TestOrderBatchLargerThanOneWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c := async.NewClient(newPool(t, pool.Config{Addr: r.Addr()}))
	const n = 600 // 600 × 3 KiB ≈ 1.8 MiB of commands
	pl := c.Pipeline()
	q := pl.Client()
	sets := make([]*async.Future[string], n)
	gets := make([]*async.Future[string], n)
	want := make([]string, n)
	for i := range n {
		want[i] = strings.Repeat(string(rune('a'+i%26)), 3<<10) + strconv.Itoa(i)
		if i == n/2 {
			want[i] = strings.Repeat("z", 1<<20) // a single command over a write's size
		}
		k := "big:" + strconv.Itoa(i%7) // keys reused: a reordering would show
		sets[i] = q.Set(ctx, k, want[i])
		gets[i] = q.Get(ctx, k)
	}
	require.NoError(t, pl.Exec(ctx))
	for i := range n {
		require.NoError(t, sets[i].Err(), "SET %d", i)
		v, err := gets[i].Result()
		require.NoError(t, err, "GET %d", i)
		require.Equal(t, len(want[i]), len(v), "GET %d", i)
		require.True(t, v == want[i], "GET %d read another command's value", i)
	}
	v, err := c.Get(ctx, "big:0").Result()
	require.NoError(t, err)
	assert.Equal(t, want[(n-1)-(n-1)%7], v, "the last SET of big:0")
}

// Commands that would shift a shared connection's replies or change its
// state are refused with a typed error that names the API to use; the
// connection stays in step for everyone.
func TestDoRefusesDesyncingCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprint("resp", proto), func(t *testing.T) {
			p := newPool(t, pool.Config{Addr: r.Addr(), Protocol: proto, MinSize: 2})
			c := async.NewClient(p)
			for i := range 4 {
				require.NoError(t, c.Set(ctx, fmt.Sprint("d", i), fmt.Sprint("v", i)).Err())
			}
			refused := [][]any{
				{},
				{"SUBSCRIBE", "ch"},
				{"unsubscribe"},
				{"PSUBSCRIBE", "c*"},
				{"SSUBSCRIBE", "ch"},
				{"CLIENT", "REPLY", "SKIP"},
				{"client", "reply", "off"},
				{"MULTI"},
				{"EXEC"},
				{"DISCARD"},
				{"WATCH", "d0"},
				{"UNWATCH"},
				{"SELECT", "3"},
				{"HELLO", "2"},
				{"AUTH", "x"},
				{"RESET"},
				{"QUIT"},
				{"MONITOR"},
				{"READONLY"},
				{"READWRITE"},
				{"CLIENT", "TRACKING", "on"},
				{"SYNC"},
				{"PSYNC", "?", "-1"},
			}
			for _, args := range refused {
				t.Run(fmt.Sprint(args), func(t *testing.T) {
					before := p.Stats().InFlight
					_, err := c.Do(ctx, args...).Result()
					var ce *async.CommandError
					require.ErrorAs(t, err, &ce)
					assert.ErrorIs(t, err, async.ErrUnsafeCommand)
					assert.NotEmpty(t, ce.Use)
					_, err = c.DoBlocking(ctx, args...).Result()
					assert.ErrorIs(t, err, async.ErrUnsafeCommand)
					assert.Equal(t, before, p.Stats().InFlight, "nothing was queued")
					// Every connection still pairs replies correctly.
					for i := range 4 {
						v, err := c.Get(ctx, fmt.Sprint("d", i)).Result()
						require.NoError(t, err)
						assert.Equal(t, fmt.Sprint("v", i), v)
					}
				})
			}
			// State-changing commands work on a dedicated connection.
			conn, err := p.Acquire(ctx)
			require.NoError(t, err)
			dc := async.NewClient(conn)
			require.NoError(t, dc.Do(ctx, "SELECT", "3").Err())
			require.NoError(t, dc.Do(ctx, "MULTI").Err())
			dc.Do(ctx, "SET", "indb3", "x")
			_, err = dc.Do(ctx, "EXEC").Result()
			require.NoError(t, err)
			_, err = dc.Do(ctx, "SUBSCRIBE", "x").Result()
			assert.ErrorIs(t, err, async.ErrUnsafeCommand, "never, even on a dedicated connection")
			conn.Close()
			p.Release(conn)
			_, err = c.Get(ctx, "indb3").Result()
			assert.ErrorIs(t, err, async.ErrNil, "the shared connections stayed on DB 0")
		})
	}
}

// A server that stops reading: with the write deadline, the watchdog and
// the bounded queue, every future resolves by its deadline and memory
// stays bounded while callers keep submitting.
func TestStoppedServerBoundsTimeAndMemory(t *testing.T) {
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	const readTimeout = 2 * time.Second
	conn, err := pool.Dial(ctx, pool.Config{Addr: r.Addr(), ReadTimeout: readTimeout, WriteTimeout: readTimeout})
	require.NoError(t, err)
	defer conn.Close()
	c := async.NewClient(conn)
	require.NoError(t, c.Ping(ctx).Err())
	require.NoError(t, r.Pause(ctx))
	defer r.Unpause(ctx)

	// 200 000 commands without deadlines: each resolves (with an error)
	// within ReadTimeout of its submission, plus a second (a tail guard).
	const n = 200_000
	sinks := make([]*timedSink, n)
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := range sinks {
		s := &timedSink{issued: time.Now(), wg: &wg}
		sinks[i] = s
		cmd := core.NewCommand()
		cmd.Buf, _ = protocol.AppendCommand(cmd.Buf, "GET", "k")
		conn.Exec(ctx, cmd, s)
	}
	wg.Wait()
	var late int
	var worst time.Duration
	for _, s := range sinks {
		took := s.at.Sub(s.issued)
		worst = max(worst, took)
		if took > readTimeout+time.Second+raceSlack {
			late++
		}
		assert.Error(t, s.err)
	}
	t.Logf("%d commands resolved in %v, slowest after %v", n, time.Since(start), worst)
	assert.Zero(t, late, "futures that outlived ReadTimeout + 1 s (a tail guard)")
	assert.Error(t, conn.Err(), "the connection was declared dead")

	// Callers keep submitting through a pool for 20 s while the server
	// stays stopped: each command still resolves within ReadTimeout of its
	// submission (dials to the frozen server fail after DialTimeout), and
	// the heap stays bounded.
	sinks = nil // the first phase's bookkeeping is not the client's memory
	runtime.GC()
	p := newPool(t, pool.Config{Addr: r.Addr(), ReadTimeout: readTimeout, WriteTimeout: readTimeout, DialTimeout: time.Second})
	pc := async.NewClient(p)
	stop := make(chan struct{})
	var slow, calls atomic.Int64
	var g errgroup.Group
	for range 8 {
		g.Go(func() error {
			pace := time.NewTicker(10 * time.Millisecond) // bounded load: at most 100 batches a second
			defer pace.Stop()
			for {
				select {
				case <-stop:
					return nil
				case <-pace.C:
				}
				issued := time.Now()
				fs := make([]*async.Future[string], 64)
				for i := range fs {
					fs[i] = pc.Get(ctx, "k") // no deadline
				}
				for _, f := range fs {
					<-f.Done()
					calls.Add(1)
				}
				if time.Since(issued) > readTimeout+time.Second+raceSlack {
					slow.Add(1)
				}
			}
		})
	}
	var peak uint64
	tick := time.NewTicker(250 * time.Millisecond)
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		<-tick.C
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	tick.Stop()
	close(stop)
	require.NoError(t, g.Wait())
	t.Logf("pool phase: %d commands resolved, peak heap %d MiB", calls.Load(), peak>>20)
	assert.Zero(t, slow.Load(), "batches that outlived ReadTimeout + 1 s (a tail guard)")
	assert.Less(t, peak, uint64(64<<20))
}

// timedSink notes when it completed.
type timedSink struct {
	issued, at time.Time
	err        error
	wg         *sync.WaitGroup
}

func (s *timedSink) Complete(_ protocol.Value, err error) {
	s.at, s.err = time.Now(), err
	s.wg.Done()
}

// A server that accepts but never reads, callers submitting 64 KiB SETs
// with 100 ms deadlines for 20 s: heap stays under 64 MiB, and a GET
// without a deadline resolves within ReadTimeout + 1 s (a tail guard).
func TestNeverReadingServerBoundsHeap(t *testing.T) {
	ctx := context.Background()
	srv := newSilentServer(t)
	const readTimeout = 2 * time.Second
	p := newPool(t, pool.Config{Addr: srv, ReadTimeout: readTimeout, WriteTimeout: readTimeout, HealthCheckInterval: -1})
	c := async.NewClient(p)
	payload := make([]byte, 64<<10)

	stop := make(chan struct{})
	var late, submitted atomic.Int64
	var g errgroup.Group
	for range 32 {
		g.Go(func() error {
			for {
				select {
				case <-stop:
					return nil
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				start := time.Now()
				_ = c.Set(cctx, "big", payload).Err()
				if time.Since(start) > 100*time.Millisecond+time.Second+raceSlack {
					late.Add(1)
				}
				submitted.Add(1)
				cancel()
			}
		})
	}
	var peak uint64
	var gets []time.Duration
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	for time.Now().Before(deadline) {
		<-tick.C
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
		if len(gets) < 3 && time.Until(deadline) < 12*time.Second {
			start := time.Now()
			_ = c.Get(ctx, "k").Err() // no deadline
			gets = append(gets, time.Since(start))
		}
	}
	tick.Stop()
	close(stop)
	require.NoError(t, g.Wait())
	t.Logf("%d SETs submitted; peak heap %d MiB; GETs without deadline took %v", submitted.Load(), peak>>20, gets)
	assert.Less(t, peak, uint64(64<<20), "heap while the server does not read")
	assert.Zero(t, late.Load(), "SETs that outlived their 100 ms deadline by more than a second")
	for _, d := range gets {
		assert.LessOrEqual(t, d, readTimeout+time.Second+raceSlack)
	}
}

// newSilentServer accepts connections and answers the handshake, then
// never reads again, so the client's writes fill the socket buffers.
func newSilentServer(t *testing.T) string {
	return newStubServer(t, func(nc net.Conn) {
		// HELLO 3 gets an error (so the client speaks RESP2 without
		// further questions); nothing more is ever read.
		buf := make([]byte, 512)
		if _, err := nc.Read(buf); err == nil {
			nc.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
		}
	})
}

package pool_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
)

func newPool(t *testing.T, cfg pool.Config) *pool.Pool {
	t.Helper()
	p, err := pool.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolConnectionKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{Password: "s3cret", Username: "alice", UserPassword: "wonder", TLS: true, UnixSocket: true})

	tests := []struct {
		name string
		cfg  pool.Config
		user string
	}{
		{"tcp default user", pool.Config{Addr: r.Addr(), Password: "s3cret"}, "default"},
		{"tcp acl user", pool.Config{Addr: r.Addr(), Username: "alice", Password: "wonder"}, "alice"},
		{"tls", pool.Config{Addr: r.TLSAddr, TLS: r.TLSConfig, Username: "alice", Password: "wonder"}, "alice"},
		{"unix socket", pool.Config{Addr: r.SocketPath, Username: "alice", Password: "wonder"}, "alice"},
		{"resp2 with db and name", pool.Config{Addr: r.Addr(), Username: "alice", Password: "wonder", Protocol: 2, DB: 2, ClientName: "asyncredis-test"}, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := async.NewClient(newPool(t, tt.cfg))
			who, err := async.Cmd(ctx, c, async.ToString, "ACL", "WHOAMI").Result()
			require.NoError(t, err)
			assert.Equal(t, tt.user, who)
			require.NoError(t, c.Set(ctx, "kind:"+tt.name, "v").Err())
			v, err := c.Get(ctx, "kind:"+tt.name).Result()
			require.NoError(t, err)
			assert.Equal(t, "v", v)
		})
	}

	t.Run("db and client name applied", func(t *testing.T) {
		c := async.NewClient(newPool(t, pool.Config{Addr: r.Addr(), Password: "s3cret", DB: 2, ClientName: "named"}))
		name, err := c.ClientGetName(ctx).Result()
		require.NoError(t, err)
		assert.Equal(t, "named", name)
		info, err := c.Info(ctx, "keyspace").Result()
		require.NoError(t, err)
		assert.Contains(t, info["keyspace"], "db2", "the resp2 subtest wrote into db 2")
	})

	t.Run("wrong password is a typed auth error", func(t *testing.T) {
		for _, proto := range []int{2, 3} {
			p := newPool(t, pool.Config{Addr: r.Addr(), Username: "alice", Password: "wrong-pw", Protocol: proto})
			err := async.NewClient(p).Ping(ctx).Err()
			assert.ErrorIs(t, err, protocol.ErrAuth, "protocol %d", proto)
			assert.ErrorIs(t, err, pool.ErrNotSent)
			var de *pool.DialError
			require.ErrorAs(t, err, &de)
			assert.NotContains(t, err.Error(), "wrong-pw")
		}
	})
	t.Run("no password is a typed auth error", func(t *testing.T) {
		err := async.NewClient(newPool(t, pool.Config{Addr: r.Addr()})).Ping(ctx).Err()
		assert.ErrorIs(t, err, protocol.ErrAuth)
	})
}

// countingExec checks the Executor contract: Complete exactly once per Exec.
type countingExec struct {
	ex    core.Executor
	execs atomic.Int64
	twice atomic.Int64
	calls atomic.Int64
}

type countingSink struct {
	core.Sink
	e    *countingExec
	seen atomic.Bool
}

func (s *countingSink) Complete(v protocol.Value, err error) {
	s.e.calls.Add(1)
	if s.seen.Swap(true) {
		s.e.twice.Add(1)
	}
	s.Sink.Complete(v, err)
}

func (e *countingExec) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	e.execs.Add(1)
	e.ex.Exec(ctx, cmd, &countingSink{Sink: sink, e: e})
}

func TestPoolManyGoroutinesRandomCancellation(t *testing.T) {
	t.Parallel()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := newPool(t, pool.Config{Addr: r.Addr(), MaxSize: 4})
	ce := &countingExec{ex: p}
	c := async.NewClient(ce)
	ctx := context.Background()

	const goroutines, perG = 1000, 10
	var wrong, cancelled, ok atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				key := fmt.Sprintf("k:%d:%d", g, i)
				cctx, cancel := context.WithCancel(ctx)
				var f *async.Future[string]
				if i%2 == 0 {
					f = c.SetWith(cctx, key, key, async.SetArgs{Get: false})
				} else {
					f = async.Cmd(cctx, c, async.ToString, "ECHO", key)
				}
				if rand.IntN(3) == 0 {
					cancel() // at a random moment: before, during or after the write
				}
				v, err := f.Result()
				cancel()
				switch {
				case errors.Is(err, context.Canceled):
					cancelled.Add(1)
				case err != nil:
					wrong.Add(1)
					t.Errorf("%s: %v", key, err)
				case (i%2 == 0 && v != "OK") || (i%2 == 1 && v != key):
					wrong.Add(1)
					t.Errorf("%s: got %q", key, v)
				default:
					ok.Add(1)
				}
				select {
				case <-f.Done():
				default:
					t.Errorf("%s: Done not closed after Result", key)
				}
			}
		}()
	}
	wg.Wait()
	total := int64(goroutines * perG)
	assert.Equal(t, total, ok.Load()+cancelled.Load()+wrong.Load())
	assert.Zero(t, wrong.Load())
	assert.Positive(t, cancelled.Load())
	assert.Positive(t, ok.Load())
	t.Logf("%d ok, %d cancelled", ok.Load(), cancelled.Load())

	// Each command handed to the executor completes exactly once; wait
	// for the replies of commands abandoned by their callers.
	require.Eventually(t, func() bool { return ce.calls.Load() == ce.execs.Load() }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, ce.twice.Load())

	// The connections stayed in sync and usable.
	for i := 0; i < 20; i++ {
		key := fmt.Sprintf("after:%d", i)
		require.NoError(t, c.Set(ctx, key, key).Err())
		v, err := c.Get(ctx, key).Result()
		require.NoError(t, err)
		require.Equal(t, key, v)
	}
	st := p.Stats()
	assert.LessOrEqual(t, st.Conns, 4)
	assert.GreaterOrEqual(t, st.Conns, 1)
}

func TestPoolServerKilledMidLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := newPool(t, pool.Config{Addr: r.Addr(), MaxSize: 4, DialTimeout: time.Second})
	c := async.NewClient(p)
	require.NoError(t, c.Ping(ctx).Err())

	stop := make(chan struct{})
	var sent, failed, late atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				start := time.Now()
				err := c.Set(cctx, fmt.Sprintf("load:%d:%d", g, i), i).Err()
				cancel()
				sent.Add(1)
				if time.Since(start) > 3*time.Second {
					late.Add(1)
				}
				if err != nil {
					failed.Add(1)
					var connErr *pool.ConnError
					var dialErr *pool.DialError
					if !errors.As(err, &connErr) && !errors.As(err, &dialErr) && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("untyped error: %v", err)
					}
				}
			}
		}()
	}
	// Let load build up: wait until a good number of writes succeeded.
	require.Eventually(t, func() bool { return sent.Load() > 2000 }, 10*time.Second, time.Millisecond)
	require.NoError(t, r.Kill(ctx))
	require.Eventually(t, func() bool { return failed.Load() > 0 }, 5*time.Second, time.Millisecond, "commands fail once the server is gone")
	require.NoError(t, r.Start(ctx))
	// The pool reconnects on its own, within its bounded backoff.
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Ping(cctx).Err() == nil
	}, 15*time.Second, 10*time.Millisecond)
	before := sent.Load()
	require.Eventually(t, func() bool { return sent.Load() > before+500 }, 10*time.Second, time.Millisecond)
	close(stop)
	wg.Wait()
	assert.Zero(t, late.Load(), "no future outlived its deadline by more than 50ms")
	assert.GreaterOrEqual(t, p.Stats().Conns, 1)
	t.Logf("%d commands, %d failed around the kill", sent.Load(), failed.Load())
}

func TestPoolBlockingCommandsUseDedicatedConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := newPool(t, pool.Config{Addr: r.Addr(), MaxSize: 2})
	c := async.NewClient(p)

	pop := c.BLPop(ctx, 0, "queue")
	// Shared traffic is not stuck behind the blocked pop.
	for i := 0; i < 10; i++ {
		require.NoError(t, c.Ping(ctx).Err())
	}
	require.NoError(t, c.RPush(ctx, "queue", "job").Err())
	kv, err := pop.Result()
	require.NoError(t, err)
	assert.Equal(t, async.KeyValue{Key: "queue", Value: "job"}, kv)

	_, err = c.BRPop(ctx, 100*time.Millisecond, "empty").Result()
	assert.ErrorIs(t, err, async.ErrNil, "time-out is a nil reply")

	// A blocking command abandoned by its context frees the server-side
	// block by closing its connection; the next one works.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = c.BLPop(cctx, 0, "never").Result()
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// The server notices the closed connection on its own time; until then
	// it could still hand it an element, which would be lost.
	require.Eventually(t, func() bool {
		info, err := c.Info(ctx, "clients").Result()
		return err == nil && info.Get("blocked_clients") == "0"
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, c.RPush(ctx, "never", "x").Err())
	v, err := c.LPop(ctx, "never").Result()
	require.NoError(t, err)
	assert.Equal(t, "x", v, "the abandoned BLPOP did not steal the element")
}

func TestPoolCloseFailsEverything(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p, err := pool.New(pool.Config{Addr: r.Addr()})
	require.NoError(t, err)
	c := async.NewClient(p)
	require.NoError(t, c.Ping(ctx).Err())
	blocked := c.BLPop(ctx, 0, "nothing")
	conn, err := p.Acquire(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	assert.True(t, p.Closed())
	assert.Error(t, blocked.Err())
	assert.ErrorIs(t, c.Ping(ctx).Err(), pool.ErrClosed)
	p.Release(conn)
	_, err = p.Acquire(ctx)
	assert.ErrorIs(t, err, pool.ErrClosed)
}

// The pool keeps MinSize shared connections open while idle, a burst of
// blocking commands opens dedicated ones without touching the shared
// count, and those close again after IdleTimeout — counted by the server.
func TestPoolSizesMinSizeAndIdleTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	admin := async.NewClient(newPool(t, pool.Config{Addr: r.Addr()}))
	named := func() int {
		list, err := async.Cmd(ctx, admin, async.ToString, "CLIENT", "LIST").Result()
		require.NoError(t, err)
		return strings.Count(list, "name=sized ")
	}
	p := newPool(t, pool.Config{Addr: r.Addr(), ClientName: "sized", MinSize: 3, MaxSize: 8, IdleTimeout: 300 * time.Millisecond})
	c := async.NewClient(p)
	require.NoError(t, c.Ping(ctx).Err())
	require.Eventually(t, func() bool { return p.Stats().Conns == 3 && named() == 3 }, 10*time.Second, 5*time.Millisecond,
		"MinSize 3: three shared connections open while idle")

	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.BLPop(ctx, 300*time.Millisecond, fmt.Sprintf("burst:%d", i)).Result()
			assert.ErrorIs(t, err, async.ErrNil)
		}()
	}
	wg.Wait()
	st := p.Stats()
	assert.Equal(t, 3, st.Conns, "a burst does not add shared connections")
	assert.Equal(t, 6, st.Dedicated, "six blocking commands at once: six dedicated connections")
	assert.Equal(t, 9, named())
	require.Eventually(t, func() bool { return p.Stats().Dedicated == 0 && named() == 3 }, 10*time.Second, 5*time.Millisecond,
		"dedicated connections close after IdleTimeout; the shared ones stay")
}

// hookLog records what hooks hear.
type hookLog struct {
	mu    sync.Mutex
	cmds  []core.CommandInfo
	ends  []core.CommandResult
	conns []core.ConnEvent
}

func (l *hookLog) hooks() *core.Hooks {
	return &core.Hooks{
		Command: func(ctx context.Context, info core.CommandInfo) func(core.CommandResult) {
			l.mu.Lock()
			i := len(l.cmds)
			l.cmds = append(l.cmds, info)
			l.ends = append(l.ends, core.CommandResult{Duration: -1})
			l.mu.Unlock()
			return func(r core.CommandResult) {
				l.mu.Lock()
				l.ends[i] = r
				l.mu.Unlock()
			}
		},
		Conn: func(e core.ConnEvent) {
			l.mu.Lock()
			l.conns = append(l.conns, e)
			l.mu.Unlock()
		},
	}
}

// Hooks see every command with its server, size and outcome (sent or
// not), pipelines as one batch, and connections opening and closing.
func TestPoolHooksSeeCommandsAndConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	var a, b hookLog
	p, err := pool.New(pool.Config{Addr: r.Addr(), DB: 1, Hooks: core.JoinHooks(a.hooks(), nil, b.hooks())})
	require.NoError(t, err)
	c := async.NewClient(p)
	require.NoError(t, c.Set(ctx, "h", "1").Err())
	require.NoError(t, c.MGet(ctx, "h", "x", "y").Err())
	require.Error(t, c.Do(ctx, "INCR", "h", "extra").Err()) // an error reply
	pl := c.Pipeline()
	pl.Client().Get(ctx, "h")
	pl.Client().Get(ctx, "h")
	require.NoError(t, pl.Exec(ctx))
	_, err = c.BLPop(ctx, 10*time.Millisecond, "empty").Result()
	require.ErrorIs(t, err, async.ErrNil)
	require.NoError(t, p.Close())
	closedErr := c.Get(ctx, "h").Err()
	require.ErrorIs(t, closedErr, core.ErrNotSent)

	for _, l := range []*hookLog{&a, &b} {
		l.mu.Lock()
		var names []string
		for i, info := range l.cmds {
			names = append(names, info.Name)
			assert.Equal(t, r.Addr(), info.Addr)
			assert.Equal(t, 1, info.DB)
			assert.GreaterOrEqual(t, l.ends[i].Duration, time.Duration(0), "%s ended once", info.Name)
		}
		assert.Equal(t, []string{"SET", "MGET", "INCR", "GET", "GET", "BLPOP", "GET"}, names)
		assert.Equal(t, core.CommandInfo{Name: "MGET", Args: 3, Keys: 3, Addr: r.Addr(), DB: 1, Pipeline: 1}, l.cmds[1])
		assert.Equal(t, 2, l.cmds[3].Pipeline)
		assert.NoError(t, l.ends[0].Err)
		assert.True(t, l.ends[0].Sent)
		var re *protocol.RedisError
		assert.ErrorAs(t, l.ends[2].Err, &re)
		assert.True(t, l.ends[2].Sent)
		assert.ErrorIs(t, l.ends[6].Err, core.ErrNotSent)
		assert.False(t, l.ends[6].Sent)
		kinds := map[string]int{}
		for _, e := range l.conns {
			assert.Equal(t, r.Addr(), e.Addr)
			kinds[fmt.Sprint(e.Kind, " dedicated=", e.Dedicated)]++
		}
		assert.Equal(t, map[string]int{"dialled dedicated=false": 1, "closed dedicated=false": 1, "dialled dedicated=true": 1, "closed dedicated=true": 1}, kinds)
		l.mu.Unlock()
	}
}

// A caller that issues commands one at a time reads its own replies, so
// nobody reads the connection between them. A command issued after the
// server has closed the connection (a failover's CLIENT KILL, a restart)
// must not fail in doubt: the connection asks the socket before writing,
// and the command fails unsent (safe to send again) or goes to a new
// connection.
func TestPoolConnectionClosedBetweenCommandsIsNotInDoubt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c := async.NewClient(newPool(t, pool.Config{Addr: r.Addr(), HealthCheckInterval: time.Hour}))
	admin := async.NewClient(newPool(t, pool.Config{Addr: r.Addr()}))
	var killed, unsent int
	for i := 0; i < 20; i++ {
		require.NoError(t, c.Set(ctx, "k", i).Err())
		v, err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes").Result()
		require.NoError(t, err)
		killed += int(v.Int)
		err = c.Get(ctx, "k").Err()
		if err != nil {
			unsent++
			assert.True(t, core.SafeToRetry(err), "a command written after the server closed the connection failed in doubt: %v", err)
		}
	}
	assert.GreaterOrEqual(t, killed, 20, "every round closed the connection")
	t.Logf("%d kills, %d commands failed unsent", killed, unsent)
}

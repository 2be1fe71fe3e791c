package async_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipelinesAndTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c, p := newClient(t, pool.Config{Addr: r.Addr(), MinSize: 1, MaxSize: 1})

	t.Run("pipeline", func(t *testing.T) {
		pl := c.Pipeline()
		q := pl.Client()
		set := q.Set(ctx, "p1", "a")
		incr := q.Incr(ctx, "p2")
		get := q.Get(ctx, "p1")
		missing := q.Get(ctx, "none")
		assert.Equal(t, 4, pl.Len())
		assert.False(t, set.IsResolved(), "nothing is sent before Exec")
		err := pl.Exec(ctx)
		assert.ErrorIs(t, err, async.ErrNil, "Exec reports the first failed command")
		assert.Equal(t, "OK", must(t, set))
		assert.EqualValues(t, 1, must(t, incr))
		assert.Equal(t, "a", must(t, get))
		assert.ErrorIs(t, missing.Err(), async.ErrNil)
		assert.Error(t, pl.Client().Ping(ctx).Err(), "a pipeline is sent once")
	})

	t.Run("script in a pipeline falls back to EVAL", func(t *testing.T) {
		must(t, c.Do(ctx, "SCRIPT", "FLUSH"))
		s := async.NewScript("return ARGV[1]")
		pl := c.Pipeline()
		f := s.Run(ctx, pl.Client(), nil, "piped")
		g := pl.Client().Ping(ctx)
		require.NoError(t, pl.Exec(ctx))
		assert.Equal(t, "piped", must(t, f).Str)
		assert.Equal(t, "PONG", must(t, g))
	})

	t.Run("transaction", func(t *testing.T) {
		tx := c.TxPipeline()
		q := tx.Client()
		a := q.IncrBy(ctx, "t", 5)
		b := q.Get(ctx, "t")
		wrong := q.LPush(ctx, "p1", "x") // runs, fails at EXEC time
		require.Error(t, tx.Exec(ctx))
		assert.EqualValues(t, 5, must(t, a))
		assert.Equal(t, "5", must(t, b))
		assert.ErrorIs(t, wrong.Err(), protocol.ErrWrongType)
	})

	t.Run("EXECABORT", func(t *testing.T) {
		tx := c.TxPipeline()
		q := tx.Client()
		ok := q.Set(ctx, "aborted", 1)
		bad := q.Do(ctx, "NOSUCHCOMMAND")
		err := tx.Exec(ctx)
		assert.ErrorIs(t, err, protocol.ErrExecAbort)
		assert.ErrorIs(t, ok.Err(), protocol.ErrExecAbort)
		var re *protocol.RedisError
		require.ErrorAs(t, bad.Err(), &re)
		assert.Equal(t, "ERR", re.Prefix, "the command that made EXEC abort keeps its own error")
		assert.Zero(t, must(t, c.Exists(ctx, "aborted")))
	})

	t.Run("watch conflict is retried, then succeeds", func(t *testing.T) {
		must(t, c.Set(ctx, "balance", 100))
		attempts := 0
		err := c.WatchRetry(ctx, 5, func(tx *async.Tx) error {
			attempts++
			bal, err := tx.Get(ctx, "balance").Result()
			if err != nil {
				return err
			}
			if attempts == 1 { // someone else writes between our read and EXEC
				must(t, c.Set(ctx, "balance", 200))
			}
			tx.Queue().Set(ctx, "balance", bal+"0")
			return nil
		}, "balance")
		require.NoError(t, err)
		assert.Equal(t, 2, attempts)
		assert.Equal(t, "2000", must(t, c.Get(ctx, "balance")))

		err = c.Watch(ctx, func(tx *async.Tx) error {
			must(t, c.Set(ctx, "balance", 1))
			tx.Queue().Set(ctx, "balance", 2)
			return nil
		}, "balance")
		assert.ErrorIs(t, err, async.ErrTxFailed)
		assert.Equal(t, "1", must(t, c.Get(ctx, "balance")))

		boom := errors.New("boom")
		assert.ErrorIs(t, c.Watch(ctx, func(*async.Tx) error { return boom }, "balance"), boom)
		assert.Panics(t, func() {
			_ = c.Watch(ctx, func(*async.Tx) error { panic("in the middle") }, "balance")
		})
		assert.Zero(t, p.Stats().Lent, "no connection stays lent out")
		// A transaction after the aborted ones is unaffected by stale WATCHes.
		require.NoError(t, c.Watch(ctx, func(tx *async.Tx) error {
			tx.Queue().Set(ctx, "balance", 3)
			return nil
		}, "balance"))
		assert.Equal(t, "3", must(t, c.Get(ctx, "balance")))
	})

	t.Run("concurrent transactions", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, c.WatchRetry(ctx, 50, func(tx *async.Tx) error {
					n, err := async.Cmd(ctx, tx.Client, async.ToInt64, "GET", "shared").Result()
					if err != nil && !errors.Is(err, async.ErrNil) {
						return err
					}
					tx.Queue().Set(ctx, "shared", n+1)
					return nil
				}, "shared"))
			}()
		}
		wg.Wait()
		assert.Equal(t, "20", must(t, c.Get(ctx, "shared")))
	})

	t.Run("connection killed mid-pipeline", func(t *testing.T) {
		id := must(t, c.ClientID(ctx)) // MaxSize 1: the pipeline uses this connection
		pl := c.Pipeline()
		q := pl.Client()
		before := q.Set(ctx, "mid", 1)
		kill := q.Do(ctx, "CLIENT", "KILL", "ID", id, "SKIPME", "no")
		var after []*async.Future[string]
		for i := 0; i < 100; i++ {
			after = append(after, q.Get(ctx, "mid"))
		}
		require.Error(t, pl.Exec(ctx))
		assert.Equal(t, "OK", must(t, before))
		_ = kill.Err() // 1, or the lost connection, depending on timing
		for _, f := range after {
			err := f.Err()
			require.Error(t, err)
			assert.ErrorIs(t, err, pool.ErrInFlight)
		}
		assert.Equal(t, "1", must(t, c.Get(ctx, "mid")), "the pool reconnected")
	})
}

package pool_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// A cancelled BLPOP loses nothing: an element pushed right after the
// cancellation is either still in the list or put back.
func TestCancelledBlockingCommandLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := newPool(t, pool.Config{Addr: r.Addr()})
	c := async.NewClient(p)
	for run := range 5 {
		const n = 300
		keys := make([]any, n)
		for i := range n {
			key := fmt.Sprint("bq:", run, ":", i)
			keys[i] = key
			cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			_, err := c.BLPop(cctx, 0, key).Result()
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.NoError(t, c.LPush(ctx, key, i).Err())
		}
		// Put-backs happen on the pool's time: wait until no dedicated
		// connection is lent, then every element must be in its list.
		require.Eventually(t, func() bool { return p.Stats().Lent == 0 }, 10*time.Second, time.Millisecond)
		exist, err := async.Cmd(ctx, c, async.ToInt64, append([]any{"EXISTS"}, keys...)...).Result()
		require.NoError(t, err)
		assert.EqualValues(t, n, exist, "run %d: lists that lost their element", run)
	}

	// BRPOP, BLMOVE, BZPOPMIN and BLMPOP put back what they took, too.
	const m = 50
	for i := range m {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
		k := fmt.Sprint("{b", i, "}")
		fs := []async.Awaitable{
			c.BRPop(cctx, 0, k+"br"),
			c.BLMove(cctx, k+"src", k+"dst", "LEFT", "RIGHT", 0),
			c.DoBlocking(cctx, "BZPOPMIN", k+"bz", 0),
			c.DoBlocking(cctx, "BLMPOP", 0, 1, k+"lm", "LEFT", "COUNT", 2),
		}
		<-cctx.Done()
		require.Error(t, async.WaitAll(ctx, fs...))
		cancel()
		c.RPush(ctx, k+"br", i)
		c.RPush(ctx, k+"src", i)
		c.ZAdd(ctx, k+"bz", async.ZAddArgs{}, async.Z{Score: float64(i) + 0.5, Member: strconv.Itoa(i)})
		c.RPush(ctx, k+"lm", "a", "b", "c")
	}
	require.Eventually(t, func() bool { return p.Stats().Lent == 0 }, 10*time.Second, time.Millisecond)
	for i := range m {
		k := fmt.Sprint("{b", i, "}")
		assert.EqualValues(t, 1, c.LLen(ctx, k+"br").Val(), k+"br")
		assert.EqualValues(t, 1, c.LLen(ctx, k+"src").Val()+c.LLen(ctx, k+"dst").Val(), k+"src/dst")
		assert.Equal(t, float64(i)+0.5, c.ZScore(ctx, k+"bz", strconv.Itoa(i)).Val(), k+"bz")
		assert.Equal(t, []string{"a", "b", "c"}, c.LRange(ctx, k+"lm", 0, -1).Val(), k+"lm")
	}
}

// onceSink counts completions.
type onceSink struct {
	n    atomic.Int32
	done chan struct{}
}

func (s *onceSink) Complete(protocol.Value, error) {
	if s.n.Add(1) == 1 {
		close(s.done)
	}
}

// A cancelled blocking command completes its sink exactly once, and in a
// managed pool does not report trouble (which would start a rediscovery).
func TestCancelledBlockingCommandCompletesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := newPool(t, pool.Config{Addr: r.Addr()})
	for range 5 {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		cmd := core.NewCommand()
		cmd.Buf, _ = protocol.AppendCommand(cmd.Buf, "BLPOP", "once", 0)
		cmd.Blocking = true
		s := &onceSink{done: make(chan struct{})}
		p.Exec(cctx, cmd, s)
		<-s.done
		cancel()
		require.Eventually(t, func() bool { return p.Stats().Lent == 0 }, 5*time.Second, time.Millisecond)
		assert.EqualValues(t, 1, s.n.Load())
	}

	var troubles atomic.Int32
	var troubleMu sync.Mutex
	var troubleErrs []error
	mp := managedpool.New(managedpool.Config{Pool: pool.Config{}, OnTrouble: func(_ string, err error) {
		troubles.Add(1)
		troubleMu.Lock()
		troubleErrs = append(troubleErrs, err)
		troubleMu.Unlock()
	}})
	defer mp.Close()
	require.NoError(t, mp.SetAddrs([]string{r.Addr()}))
	mc := async.NewClient(mp)
	for range 5 {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		_, err := mc.BLPop(cctx, 0, "once").Result()
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.Eventually(t, func() bool { return mp.Stats().Lent == 0 }, 5*time.Second, time.Millisecond)
	// Bounded: with no controller here, an address the managed pool
	// dropped (after trouble) would make the Ping wait forever.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	troubleMu.Lock()
	seen := slices.Clone(troubleErrs)
	troubleMu.Unlock()
	require.NoError(t, mc.Ping(pctx).Err(), "addresses %v, troubles %v", mp.Addrs(), seen)
	assert.Zero(t, troubles.Load(), "cancelled BLPOPs reported trouble: %v", seen)
}

// A reliable queue: consumers BLMOVE from src to dst with deadlines of
// 0-20 ms while producers push. Every element pushed must end up either
// returned to exactly one BLMOVE caller (and then it sits in dst) or,
// delivered to nobody, back in src: a cancelled BLMOVE's put-back moves
// exactly the element it moved, never one another caller received.
func TestCancelledBLMoveDeliversEachElementOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	p := newPool(t, pool.Config{Addr: r.Addr(), MaxSize: 32})
	c := async.NewClient(p)
	for _, brpoplpush := range []bool{false, true} {
		src, dst := fmt.Sprint("{q", brpoplpush, "}src"), fmt.Sprint("{q", brpoplpush, "}dst")
		var mu sync.Mutex
		delivered := map[string]int{}
		var pushed [2]int
		stop := make(chan struct{})
		g, gctx := errgroup.WithContext(ctx)
		for w := range 2 {
			g.Go(func() error {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return nil
					default:
					}
					if err := c.LPush(gctx, src, fmt.Sprint(w, ":", i)).Err(); err != nil {
						return err
					}
					pushed[w] = i + 1
					if i%8 == 0 {
						time.Sleep(time.Millisecond) // pacing, so that consumers often block
					}
				}
			})
		}
		for range 8 {
			g.Go(func() error {
				for {
					select {
					case <-stop:
						return nil
					default:
					}
					cctx, cancel := context.WithTimeout(gctx, time.Duration(rand.IntN(21))*time.Millisecond)
					var v string
					var err error
					if brpoplpush {
						var rv protocol.Value
						rv, err = c.DoBlocking(cctx, "BRPOPLPUSH", src, dst, 0).Result()
						v = rv.Str
					} else {
						v, err = c.BLMove(cctx, src, dst, "RIGHT", "LEFT", 0).Result()
					}
					cancel()
					if err == nil {
						mu.Lock()
						delivered[v]++
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(3 * time.Second) // the length of the run, not synchronisation
		close(stop)
		require.NoError(t, g.Wait())
		require.Eventually(t, func() bool { return p.Stats().Lent == 0 }, 10*time.Second, time.Millisecond)

		inSrc, err := c.LRange(ctx, src, 0, -1).Result()
		require.NoError(t, err)
		inDst, err := c.LRange(ctx, dst, 0, -1).Result()
		require.NoError(t, err)
		where := map[string]int{}
		for _, e := range inSrc {
			where[e] += 1
		}
		for _, e := range inDst {
			where[e] += 100
		}
		twice, stranded, lost, wrong, ndelivered := 0, 0, 0, 0, 0
		for w := range 2 {
			for i := range pushed[w] {
				e := fmt.Sprint(w, ":", i)
				n := delivered[e]
				ndelivered += n
				switch {
				case n > 1:
					twice++
				case n == 1 && where[e] != 100:
					wrong++
				case n == 0 && where[e] == 100:
					stranded++
				case n == 0 && where[e] == 0:
					lost++
				case n == 0 && where[e] != 1:
					wrong++
				}
			}
		}
		t.Logf("brpoplpush=%v: %d pushed, %d deliveries, %d in src, %d in dst", brpoplpush, pushed[0]+pushed[1], ndelivered, len(inSrc), len(inDst))
		assert.Zero(t, twice, "elements delivered to two callers")
		assert.Zero(t, stranded, "elements delivered to nobody but left in dst")
		assert.Zero(t, wrong, "elements in the wrong list or in two places")
		assert.Zero(t, lost, "elements neither delivered nor in a list")
		assert.Equal(t, pushed[0]+pushed[1], len(inSrc)+ndelivered, "pushed = in src + delivered")
	}
}

package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectCluster returns a client of rc, closed when the test ends.
func connectCluster(t *testing.T, rc *integration.RedisCluster, cfg cluster.Config) *cluster.Cluster {
	t.Helper()
	cfg.Seeds = rc.Seeds()[:1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cluster.New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterFeatures runs every feature of the cluster client against
// one real cluster of 3 masters with a replica each.
func TestClusterFeatures(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("topology", func(t *testing.T) {
		topo := c.Topology()
		require.Len(t, topo.Shards, 3)
		for _, s := range topo.Shards {
			assert.Len(t, s.Replicas, 1, "each master has its replica")
		}
		info, err := c.Info(ctx).Result()
		require.NoError(t, err)
		assert.Equal(t, "ok", info["cluster_state"])
		slot, err := c.KeySlot(ctx, "{user1}:name").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(cluster.Slot("{user1}:name")), slot, "the client hashes as the server does")
		shards, err := c.Shards(ctx)
		require.NoError(t, err)
		assert.Len(t, shards.Shards, 3)
		nodes, err := c.Nodes(ctx).Result()
		require.NoError(t, err)
		assert.Contains(t, nodes, "master")
	})

	t.Run("routing", func(t *testing.T) {
		for i := range 500 {
			require.NoError(t, cl.Set(ctx, fmt.Sprint("route:", i), i).Err())
		}
		for i := range 500 {
			v, err := cl.Get(ctx, fmt.Sprint("route:", i)).Result()
			require.NoError(t, err)
			require.Equal(t, strconv.Itoa(i), v)
		}
		n, err := c.CountKeysInSlot(ctx, cluster.Slot("route:1")).Result()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, n, int64(1))
		st := c.Stats()
		assert.Zero(t, st.Moved+st.Ask, "a fresh map needs no redirect")
		served := 0
		for _, ns := range st.Nodes {
			if !ns.Replica && ns.Pool.Conns > 0 {
				served++
			}
		}
		assert.Equal(t, 3, served, "every master served its slots")
	})

	t.Run("multi-key", func(t *testing.T) {
		keys := []string{"mk:a", "mk:b", "mk:c", "mk:d", "mk:e", "mk:missing"}
		var pairs []any
		for _, k := range keys[:5] {
			pairs = append(pairs, k, "v-"+k)
		}
		require.NoError(t, cl.MSet(ctx, pairs...).Err(), "MSET is split by slot")
		vals, err := cl.MGet(ctx, keys...).Result()
		require.NoError(t, err)
		for i, k := range keys[:5] {
			assert.Equal(t, "v-"+k, vals[i].String)
		}
		assert.False(t, vals[5].Valid)
		n, err := cl.Exists(ctx, keys...).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(5), n)
		n, err = cl.Del(ctx, keys...).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(5), n)

		err = async.Cmd(ctx, cl, async.ToInt64, "SUNIONSTORE", "mk:dst", "mk:a", "mk:b").Err()
		require.ErrorIs(t, err, cluster.ErrCrossSlot)
		require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "SUNIONSTORE", "{mk}dst", "{mk}a", "{mk}b").Err())
		require.ErrorIs(t, async.Cmd(ctx, cl, async.ToValue, "KEYS", "*").Err(), cluster.ErrWholeCluster)
	})

	t.Run("pipeline", func(t *testing.T) {
		p := cl.Pipeline()
		var futs []*async.Future[int64]
		for i := range 300 {
			futs = append(futs, p.Client().Incr(ctx, fmt.Sprint("pipe:", i%30)))
		}
		require.NoError(t, p.Exec(ctx))
		for i, f := range futs {
			v, err := f.Result()
			require.NoError(t, err)
			assert.Equal(t, int64(i/30+1), v, "results in issue order")
		}
	})

	t.Run("transactions", func(t *testing.T) {
		tx := cl.TxPipeline()
		a := tx.Client().Incr(ctx, "{acct}:a")
		b := tx.Client().IncrBy(ctx, "{acct}:b", 5)
		require.NoError(t, tx.Exec(ctx))
		assert.Equal(t, int64(1), a.Val())
		assert.Equal(t, int64(5), b.Val())

		tx = cl.TxPipeline()
		tx.Client().Incr(ctx, "tx:a")
		tx.Client().Incr(ctx, "tx:b")
		require.ErrorIs(t, tx.Exec(ctx), cluster.ErrCrossSlot)

		err := cl.WatchRetry(ctx, 5, func(tx *async.Tx) error {
			v, err := tx.Get(ctx, "{acct}:a").Result()
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(v)
			tx.Queue().Set(ctx, "{acct}:a", n*10)
			return nil
		}, "{acct}:a")
		require.NoError(t, err)
		v, err := cl.Get(ctx, "{acct}:a").Result()
		require.NoError(t, err)
		assert.Equal(t, "10", v)
	})

	t.Run("scripts", func(t *testing.T) {
		s := async.NewScript("return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])")
		v, err := s.Run(ctx, cl, []string{"{sc}x", "{sc}y"}, 2).Result()
		require.NoError(t, err)
		assert.Equal(t, int64(4), v.Int)
		err = s.Run(ctx, cl, []string{"sc:x", "sc:y"}, 2).Err()
		require.ErrorIs(t, err, cluster.ErrCrossSlot)
	})

	t.Run("scan", func(t *testing.T) {
		want := map[string]bool{}
		for i := range 200 {
			k := fmt.Sprint("scan:", i)
			want[k] = true
			require.NoError(t, cl.Set(ctx, k, 1).Err())
		}
		got := map[string]bool{}
		for k, err := range c.Scan(ctx, async.ScanArgs{Match: "scan:*", Count: 50}) {
			require.NoError(t, err)
			got[k] = true
		}
		assert.Equal(t, want, got, "every master was scanned")
		var masters atomic.Int64
		require.NoError(t, c.ForEachMaster(ctx, func(ctx context.Context, addr string, mc *async.Client) error {
			masters.Add(1)
			return mc.Ping(ctx).Err()
		}))
		assert.Equal(t, int64(3), masters.Load())
		var mu sync.Mutex
		roles := map[string]int{}
		require.NoError(t, c.ForEachNode(ctx, func(ctx context.Context, addr string, nc *async.Client) error {
			v, err := async.Cmd(ctx, nc, async.ToValue, "ROLE").Result()
			if err != nil {
				return err
			}
			mu.Lock()
			roles[v.Elems[0].Str]++
			mu.Unlock()
			return nil
		}))
		assert.Equal(t, map[string]int{"master": 3, "slave": 3}, roles)
	})

	t.Run("blocking", func(t *testing.T) {
		got := make(chan error, 1)
		go func() {
			_, err := cl.BLPop(ctx, 5*time.Second, "blk:list").Result()
			got <- err
		}()
		require.Eventually(t, func() bool {
			return cl.LPush(ctx, "blk:list", "x").Err() == nil && len(got) == 1
		}, 5*time.Second, 20*time.Millisecond)
		require.NoError(t, <-got)

		// A cancelled BLPOP never loses an element: what it took after
		// its caller left goes back to the list.
		const pushes = 40
		taken := 0
		for i := range pushes {
			cctx, ccancel := context.WithTimeout(ctx, time.Duration(i%4)*time.Millisecond)
			f := cl.BLPop(cctx, time.Second, "blk:lossless")
			require.NoError(t, cl.RPush(ctx, "blk:lossless", i).Err())
			if _, err := f.Result(); err == nil {
				taken++
			}
			ccancel()
		}
		left, err := cl.LLen(ctx, "blk:lossless").Result()
		require.NoError(t, err)
		assert.Equal(t, int64(pushes), int64(taken)+left, "every element was taken by a caller or is still there")
	})

	t.Run("pubsub", func(t *testing.T) {
		ps, err := cl.PubSub(async.PubSubConfig{})
		require.NoError(t, err)
		defer ps.Close()
		require.NoError(t, ps.Subscribe(ctx, "news"))
		// shard:a, shard:d and shard:e hash to three slots of one master:
		// a node takes one SSUBSCRIBE per slot (CROSSSLOT otherwise).
		channels := []string{"shard:a", "shard:b", "shard:c", "shard:d", "shard:e"}
		require.NoError(t, ps.SSubscribe(ctx, channels...))
		require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "PUBLISH", "news", "hello").Err())
		want := map[string]string{"news": "hello"}
		for _, ch := range channels {
			require.NoError(t, async.Cmd(ctx, cl, async.ToInt64, "SPUBLISH", ch, "to "+ch).Err())
			want[ch] = "to " + ch
		}
		got := map[string]string{}
		for len(got) < len(want) {
			select {
			case m := <-ps.Messages():
				got[m.Channel] = m.Payload
			case <-ctx.Done():
				t.Fatalf("got %v of %v", got, want)
			}
		}
		assert.Equal(t, want, got)
	})
}

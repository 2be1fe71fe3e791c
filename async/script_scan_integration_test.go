package async_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScriptsAndScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c, _ := newClient(t, pool.Config{Addr: r.Addr()})

	t.Run("script with NOSCRIPT fallback", func(t *testing.T) {
		s := async.NewScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
		must(t, c.Do(ctx, "SCRIPT", "FLUSH"))
		assert.False(t, must(t, s.Exists(ctx, c)))
		v := must(t, s.Run(ctx, c, []string{"counter"}, 5)) // NOSCRIPT, then EVAL
		assert.EqualValues(t, 5, v.Int)
		assert.True(t, must(t, s.Exists(ctx, c)), "EVAL cached it")
		v = must(t, s.Run(ctx, c, []string{"counter"}, 2)) // EVALSHA now
		assert.EqualValues(t, 7, v.Int)
		assert.Equal(t, s.Hash(), must(t, s.Load(ctx, c)))
		ro := async.NewScript("return redis.call('GET', KEYS[1])")
		v = must(t, ro.RunRO(ctx, c, []string{"counter"}))
		assert.Equal(t, "7", v.Str)
		_, err := async.NewScript("return redis.call('NOPE')").Run(ctx, c, nil).Result()
		require.Error(t, err)
		_, err = c.Do(ctx, "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('hello', function() return 'hi' end)").Result()
		require.NoError(t, err)
		v = must(t, c.Do(ctx, "FCALL", "hello", 0))
		assert.Equal(t, "hi", v.Str)
	})

	t.Run("scan iterators", func(t *testing.T) {
		for i := 0; i < 250; i++ {
			must(t, c.Set(ctx, fmt.Sprintf("scan:%03d", i), i))
			must(t, c.SAdd(ctx, "scan-set", i))
			must(t, c.HSet(ctx, "scan-hash", fmt.Sprintf("f%d", i), i))
			must(t, c.ZAdd(ctx, "scan-zset", async.ZAddArgs{}, async.Z{Member: fmt.Sprintf("m%d", i), Score: float64(i)}))
		}
		seen := map[string]bool{}
		for k, err := range c.Scan(ctx, async.ScanArgs{Match: "scan:*", Count: 20, Type: "string"}) {
			require.NoError(t, err)
			seen[k] = true
		}
		assert.Len(t, seen, 250)

		n := 0
		for _, err := range c.Scan(ctx, async.ScanArgs{Match: "scan:*", Count: 10}) {
			require.NoError(t, err)
			if n++; n == 15 {
				break // stops fetching
			}
		}
		assert.Equal(t, 15, n)

		var members []string
		for m, err := range c.SScan(ctx, "scan-set", async.ScanArgs{}) {
			require.NoError(t, err)
			members = append(members, m)
		}
		assert.Len(t, members, 250)
		fields := map[string]string{}
		for kv, err := range c.HScan(ctx, "scan-hash", async.ScanArgs{Match: "f1*"}) {
			require.NoError(t, err)
			fields[kv[0]] = kv[1]
		}
		assert.Equal(t, "12", fields["f12"])
		var scores []float64
		for z, err := range c.ZScan(ctx, "scan-zset", async.ScanArgs{Count: 50}) {
			require.NoError(t, err)
			scores = append(scores, z.Score)
		}
		sort.Float64s(scores)
		require.Len(t, scores, 250)
		assert.EqualValues(t, 249, scores[249])

		page := must(t, c.ScanPage(ctx, "0", async.ScanArgs{Count: 5}))
		assert.NotEmpty(t, page.Items)
		// The page methods, followed by hand to the end.
		pages := func(next func(cursor string) async.Page) (items []string) {
			for cursor := "0"; ; {
				p := next(cursor)
				items = append(items, p.Items...)
				if cursor = p.Cursor; cursor == "0" {
					return items
				}
			}
		}
		got := pages(func(cur string) async.Page {
			return must(t, c.SScanPage(ctx, "scan-set", cur, async.ScanArgs{Count: 20}))
		})
		assert.Len(t, got, 250, "SSCAN: every member once")
		got = pages(func(cur string) async.Page {
			return must(t, c.HScanPage(ctx, "scan-hash", cur, async.ScanArgs{Match: "f1?"}))
		})
		require.Len(t, got, 20, "HSCAN: f10..f19 with their values")
		hm := map[string]string{}
		for i := 0; i < len(got); i += 2 {
			hm[got[i]] = got[i+1]
		}
		assert.Equal(t, "15", hm["f15"])
		got = pages(func(cur string) async.Page {
			return must(t, c.ZScanPage(ctx, "scan-zset", cur, async.ScanArgs{Count: 50}))
		})
		require.Len(t, got, 500, "ZSCAN: members and scores")

		for _, err := range c.SScan(ctx, "scan:001", async.ScanArgs{}) { // wrong type
			assert.True(t, errors.Is(err, errWrongType()), "got %v", err)
		}
	})
}

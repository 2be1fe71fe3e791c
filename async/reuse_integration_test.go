package async_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reply's element array is reused for later replies only after a
// future has copied the elements out (MGet, LRange, HGetAll): a caller
// that keeps the reply itself (ToValue) keeps it intact however many
// replies follow.
func TestReplyArraysAreReusedOnlyWhenCopiedOut(t *testing.T) {
	t.Parallel()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	c, _ := newClient(t, pool.Config{Addr: r.Addr()})
	ctx := context.Background()
	kept, copied := make([]string, 10), make([]string, 10)
	var pairs []any
	for i := range kept {
		kept[i], copied[i] = "kept:"+strconv.Itoa(i), "copied:"+strconv.Itoa(i)
		pairs = append(pairs, kept[i], "K"+strconv.Itoa(i), copied[i], "C"+strconv.Itoa(i))
	}
	must(t, c.MSet(ctx, pairs...))
	must(t, c.RPush(ctx, "list", "L0", "L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8", "L9"))
	must(t, c.HSet(ctx, "hash", "f0", "H0", "f1", "H1", "f2", "H2"))
	keptArgs := append([]any{"MGET"}, func() (a []any) {
		for _, k := range kept {
			a = append(a, k)
		}
		return a
	}()...)

	const goroutines, each = 16, 200
	var mu sync.Mutex
	var values []protocol.Value // replies kept whole, one per goroutine per 20 MGETs
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if i%20 == 0 {
					v, err := async.Cmd(ctx, c, async.ToValue, keptArgs...).Result()
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					values = append(values, v)
					mu.Unlock()
				}
				got, err := c.MGet(ctx, copied...).Result()
				if err != nil {
					errs <- err
					return
				}
				for j, s := range got {
					if !s.Valid || s.String != "C"+strconv.Itoa(j) {
						errs <- assert.AnError
						return
					}
				}
				list, err := c.LRange(ctx, "list", 0, -1).Result()
				if err != nil {
					errs <- err
					return
				}
				for j, s := range list {
					if s != "L"+strconv.Itoa(j) {
						errs <- assert.AnError
						return
					}
				}
				hash, err := c.HGetAll(ctx, "hash").Result()
				if err != nil {
					errs <- err
					return
				}
				if len(hash) != 3 || hash["f0"] != "H0" || hash["f2"] != "H2" {
					errs <- assert.AnError
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "a reply was read wrong")
	}
	require.Len(t, values, goroutines*each/20)
	for _, v := range values {
		require.Len(t, v.Elems, 10)
		for j, e := range v.Elems {
			assert.Equal(t, "K"+strconv.Itoa(j), e.Str, "a reply kept whole was overwritten")
		}
	}
}

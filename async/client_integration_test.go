package async_test

import (
	"context"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newClient returns a client over a pool to cfg.Addr, closed with the test.
func newClient(t *testing.T, cfg pool.Config) (*async.Client, *pool.Pool) {
	t.Helper()
	p, err := pool.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return async.NewClient(p), p
}

func must[T any](t *testing.T, f *async.Future[T]) T {
	t.Helper()
	v, err := f.Result()
	require.NoError(t, err)
	return v
}

// TestCommands runs every typed command against a real server, over RESP3
// and RESP2, so that both reply shapes are parsed.
func TestCommands(t *testing.T) {
	t.Parallel()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	for _, proto := range []int{3, 2} {
		t.Run("resp"+string(rune('0'+proto)), func(t *testing.T) {
			c, _ := newClient(t, pool.Config{Addr: r.Addr(), Protocol: proto, DB: proto})
			runCommands(t, c)
		})
	}
}

func runCommands(t *testing.T, c *async.Client) {
	ctx := context.Background()
	must(t, c.FlushDB(ctx))

	t.Run("more", func(t *testing.T) { runMoreCommands(t, c) })
	t.Run("admin", func(t *testing.T) { runAdminCommands(t, c) })
	must(t, c.FlushDB(ctx))
	t.Run("connection", func(t *testing.T) {
		assert.Equal(t, "PONG", must(t, c.Ping(ctx)))
		assert.Equal(t, "hi", must(t, c.Echo(ctx, "hi")))
		assert.Positive(t, must(t, c.ClientID(ctx)))
		info := must(t, c.Info(ctx, "server", "replication"))
		assert.Equal(t, "master", info["replication"]["role"])
		assert.NotEmpty(t, info.Get("redis_version"))
		role := must(t, c.Role(ctx))
		assert.Equal(t, "master", role.Role)
		assert.WithinDuration(t, time.Now(), must(t, c.Time(ctx)), time.Minute)
		assert.Zero(t, must(t, c.DBSize(ctx)))
		assert.Zero(t, must(t, c.Publish(ctx, "nobody", "x")))
		v := must(t, c.Do(ctx, "HELLO"))
		assert.True(t, v.IsAggregate())

		// Keyless commands share the pool's first connection: the name
		// set is the one read.
		assert.Equal(t, "OK", must(t, c.ClientSetName(ctx, "worker-7")))
		assert.Equal(t, "worker-7", must(t, c.ClientGetName(ctx)))
	})

	t.Run("strings", func(t *testing.T) {
		assert.Equal(t, "OK", must(t, c.Set(ctx, "s", "v1")))
		_, err := c.SetWith(ctx, "s", "v2", async.SetArgs{NX: true}).Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.Equal(t, "v1", must(t, c.SetWith(ctx, "s", "v2", async.SetArgs{XX: true, Get: true, PX: time.Minute})))
		assert.InDelta(t, time.Minute.Seconds(), must(t, c.PTTL(ctx, "s")).Seconds(), 2)
		must(t, c.SetWith(ctx, "s", "v3", async.SetArgs{KeepTTL: true}))
		assert.Positive(t, must(t, c.TTL(ctx, "s")))
		must(t, c.SetWith(ctx, "e", "x", async.SetArgs{EXAT: time.Now().Add(time.Hour)}))
		assert.WithinDuration(t, time.Now().Add(time.Hour), must(t, c.ExpireTime(ctx, "e")), 2*time.Second)
		assert.Equal(t, []byte("v3"), must(t, c.GetBytes(ctx, "s")))
		assert.True(t, must(t, c.SetNX(ctx, "nx", []byte("b"))))
		assert.False(t, must(t, c.SetNX(ctx, "nx", "c")))
		must(t, c.SetEX(ctx, "ex", "v", 10*time.Second))
		assert.Equal(t, "v", must(t, c.GetEx(ctx, "ex", async.GetExArgs{Persist: true})))
		assert.Equal(t, async.NoExpiry, must(t, c.TTL(ctx, "ex")))
		assert.Equal(t, "v", must(t, c.GetDel(ctx, "ex")))
		_, err = c.Get(ctx, "ex").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		must(t, c.MSet(ctx, "m1", "a", "m2", 2))
		assert.Equal(t, []async.NullString{{String: "a", Valid: true}, {}, {String: "2", Valid: true}}, must(t, c.MGet(ctx, "m1", "none", "m2")))
		assert.False(t, must(t, c.MSetNX(ctx, "m1", "z", "m3", "z")))
		assert.EqualValues(t, 1, must(t, c.Incr(ctx, "n")))
		assert.EqualValues(t, 11, must(t, c.IncrBy(ctx, "n", 10)))
		assert.EqualValues(t, 10, must(t, c.Decr(ctx, "n")))
		assert.EqualValues(t, 5, must(t, c.DecrBy(ctx, "n", 5)))
		assert.InDelta(t, 5.5, must(t, c.IncrByFloat(ctx, "n", 0.5)), 1e-9)
		assert.EqualValues(t, 5, must(t, c.Append(ctx, "ap", "hello")))
		assert.EqualValues(t, 5, must(t, c.StrLen(ctx, "ap")))
		assert.Equal(t, "ell", must(t, c.GetRange(ctx, "ap", 1, 3)))
		assert.EqualValues(t, 5, must(t, c.SetRange(ctx, "ap", 0, "J")))
		assert.Equal(t, "Jello", must(t, c.Get(ctx, "ap")))
		n, err := async.Cmd(ctx, c, async.ToInt64, "GET", "m2").Result()
		require.NoError(t, err)
		assert.EqualValues(t, 2, n)
		_, err = c.Incr(ctx, "ap").Result()
		var re *protocol.RedisError
		assert.ErrorAs(t, err, &re)
	})

	t.Run("keys", func(t *testing.T) {
		must(t, c.MSet(ctx, "k1", "1", "k2", "2"))
		assert.EqualValues(t, 2, must(t, c.Exists(ctx, "k1", "k2", "k3")))
		assert.False(t, must(t, c.Expire(ctx, "k1", time.Minute, async.ExpireIfSome)), "k1 has no expiry yet")
		assert.True(t, must(t, c.Expire(ctx, "k1", time.Minute, async.ExpireAlways)))
		assert.False(t, must(t, c.Expire(ctx, "k1", time.Hour, async.ExpireIfNone)))
		assert.False(t, must(t, c.Expire(ctx, "k1", time.Hour, async.ExpireIfSooner)))
		assert.True(t, must(t, c.PExpire(ctx, "k1", time.Hour, async.ExpireIfLater)))
		assert.True(t, must(t, c.Expire(ctx, "k1", 2*time.Minute, async.ExpireIfSooner)))
		assert.True(t, must(t, c.Expire(ctx, "k1", 3*time.Minute, async.ExpireIfSome)))
		assert.True(t, must(t, c.ExpireAt(ctx, "k2", time.Now().Add(time.Hour), "")))
		assert.True(t, must(t, c.PExpireAt(ctx, "k2", time.Now().Add(2*time.Hour), "")))
		assert.True(t, must(t, c.Persist(ctx, "k2")))
		_, err := c.TTL(ctx, "nope").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.Equal(t, "string", must(t, c.Type(ctx, "k1")))
		assert.Equal(t, "none", must(t, c.Type(ctx, "nope")))
		must(t, c.Rename(ctx, "k1", "k1b"))
		assert.False(t, must(t, c.RenameNX(ctx, "k1b", "k2")))
		assert.ElementsMatch(t, []string{"k1b"}, must(t, c.Keys(ctx, "k1*")))
		assert.NotEmpty(t, must(t, c.RandomKey(ctx)))
		assert.True(t, must(t, c.Copy(ctx, "k2", "k2c", false)))
		assert.True(t, must(t, c.Copy(ctx, "k1b", "k2c", true)))
		dump := must(t, c.Dump(ctx, "k2c"))
		must(t, c.Restore(ctx, "restored", 0, dump, false))
		assert.Equal(t, "1", must(t, c.Get(ctx, "restored")))
		assert.EqualValues(t, 2, must(t, c.Del(ctx, "k1b", "k2", "missing")))
		assert.EqualValues(t, 1, must(t, c.Unlink(ctx, "k2c")))
	})

	t.Run("hashes", func(t *testing.T) {
		assert.EqualValues(t, 2, must(t, c.HSet(ctx, "h", "a", "1", "b", 2)))
		assert.Equal(t, "1", must(t, c.HGet(ctx, "h", "a")))
		_, err := c.HGet(ctx, "h", "zz").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.Equal(t, map[string]string{"a": "1", "b": "2"}, must(t, c.HGetAll(ctx, "h")))
		assert.Empty(t, must(t, c.HGetAll(ctx, "nohash")))
		assert.Equal(t, []async.NullString{{String: "2", Valid: true}, {}}, must(t, c.HMGet(ctx, "h", "b", "x")))
		assert.True(t, must(t, c.HExists(ctx, "h", "a")))
		assert.EqualValues(t, 2, must(t, c.HLen(ctx, "h")))
		assert.ElementsMatch(t, []string{"a", "b"}, must(t, c.HKeys(ctx, "h")))
		assert.ElementsMatch(t, []string{"1", "2"}, must(t, c.HVals(ctx, "h")))
		assert.EqualValues(t, 5, must(t, c.HIncrBy(ctx, "h", "a", 4)))
		assert.InDelta(t, 2.25, must(t, c.HIncrByFloat(ctx, "h", "b", 0.25)), 1e-9)
		assert.False(t, must(t, c.HSetNX(ctx, "h", "a", "x")))
		assert.Len(t, must(t, c.HRandField(ctx, "h", 2)), 2)
		assert.EqualValues(t, 1, must(t, c.HDel(ctx, "h", "a", "nope")))
		_, err = c.HGet(ctx, "s", "f").Result()
		assert.ErrorIs(t, err, protocol.ErrWrongType)
	})

	t.Run("lists", func(t *testing.T) {
		assert.EqualValues(t, 2, must(t, c.RPush(ctx, "l", "b", "c")))
		assert.EqualValues(t, 3, must(t, c.LPush(ctx, "l", "a")))
		assert.Equal(t, []string{"a", "b", "c"}, must(t, c.LRange(ctx, "l", 0, -1)))
		assert.EqualValues(t, 3, must(t, c.LLen(ctx, "l")))
		assert.Equal(t, "b", must(t, c.LIndex(ctx, "l", 1)))
		must(t, c.LSet(ctx, "l", 1, "B"))
		assert.EqualValues(t, 4, must(t, c.LInsert(ctx, "l", true, "B", "x")))
		assert.EqualValues(t, 1, must(t, c.LPos(ctx, "l", "x", async.LPosArgs{})))
		_, err := c.LPos(ctx, "l", "zz", async.LPosArgs{Rank: 1}).Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.EqualValues(t, 1, must(t, c.LRem(ctx, "l", 0, "x")))
		assert.Equal(t, "c", must(t, c.LMove(ctx, "l", "l2", "RIGHT", "LEFT")))
		assert.Equal(t, "a", must(t, c.LPop(ctx, "l")))
		assert.Equal(t, "B", must(t, c.RPop(ctx, "l")))
		_, err = c.LPop(ctx, "l").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		must(t, c.RPush(ctx, "l", 1, 2, 3, 4, 5))
		must(t, c.LTrim(ctx, "l", 0, 3))
		assert.Equal(t, []string{"1", "2"}, must(t, c.LPopCount(ctx, "l", 2)))
		assert.Equal(t, []string{"4", "3"}, must(t, c.RPopCount(ctx, "l", 5)))
		assert.Equal(t, "c", must(t, c.BLMove(ctx, "l2", "l3", "LEFT", "LEFT", time.Second)))
	})

	t.Run("sets", func(t *testing.T) {
		assert.EqualValues(t, 3, must(t, c.SAdd(ctx, "s1", "a", "b", "c")))
		must(t, c.SAdd(ctx, "s2", "b", "c", "d"))
		assert.ElementsMatch(t, []string{"a", "b", "c"}, must(t, c.SMembers(ctx, "s1")))
		assert.True(t, must(t, c.SIsMember(ctx, "s1", "a")))
		assert.Equal(t, []bool{true, false}, must(t, c.SMIsMember(ctx, "s1", "a", "z")))
		assert.EqualValues(t, 3, must(t, c.SCard(ctx, "s1")))
		assert.ElementsMatch(t, []string{"b", "c"}, must(t, c.SInter(ctx, "s1", "s2")))
		assert.ElementsMatch(t, []string{"a", "b", "c", "d"}, must(t, c.SUnion(ctx, "s1", "s2")))
		assert.ElementsMatch(t, []string{"a"}, must(t, c.SDiff(ctx, "s1", "s2")))
		assert.EqualValues(t, 2, must(t, c.SInterStore(ctx, "si", "s1", "s2")))
		assert.EqualValues(t, 4, must(t, c.SUnionStore(ctx, "su", "s1", "s2")))
		assert.EqualValues(t, 1, must(t, c.SDiffStore(ctx, "sd", "s1", "s2")))
		assert.Len(t, must(t, c.SRandMember(ctx, "s1", 2)), 2)
		assert.Len(t, must(t, c.SPop(ctx, "su", 3)), 3)
		assert.EqualValues(t, 1, must(t, c.SRem(ctx, "s1", "a", "z")))
	})

	t.Run("sorted sets", func(t *testing.T) {
		assert.EqualValues(t, 3, must(t, c.ZAdd(ctx, "z", async.ZAddArgs{}, async.Z{Member: "a", Score: 1}, async.Z{Member: "b", Score: 2}, async.Z{Member: "c", Score: 3})))
		assert.EqualValues(t, 1, must(t, c.ZAdd(ctx, "z", async.ZAddArgs{XX: true, CH: true}, async.Z{Member: "c", Score: 30})))
		assert.InDelta(t, 30, must(t, c.ZScore(ctx, "z", "c")), 1e-9)
		_, err := c.ZScore(ctx, "z", "none").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.Equal(t, []async.NullFloat{{Float: 1, Valid: true}, {}}, must(t, c.ZMScore(ctx, "z", "a", "none")))
		assert.InDelta(t, 3, must(t, c.ZIncrBy(ctx, "z", 2, "a")), 1e-9)
		assert.EqualValues(t, 3, must(t, c.ZCard(ctx, "z")))
		assert.EqualValues(t, 2, must(t, c.ZCount(ctx, "z", "-inf", "(30")))
		assert.Equal(t, []string{"b", "a", "c"}, must(t, c.ZRange(ctx, "z", async.ZRangeArgs{Start: "0", Stop: "-1"})))
		assert.Equal(t, []string{"c", "a"}, must(t, c.ZRange(ctx, "z", async.ZRangeArgs{Start: "+inf", Stop: "2.5", ByScore: true, Rev: true})))
		assert.Equal(t, []async.Z{{Member: "a", Score: 3}}, must(t, c.ZRangeWithScores(ctx, "z", async.ZRangeArgs{Start: "-inf", Stop: "+inf", ByScore: true, Offset: 1, Count: 1})))
		assert.EqualValues(t, 0, must(t, c.ZRank(ctx, "z", "b")))
		assert.EqualValues(t, 0, must(t, c.ZRevRank(ctx, "z", "c")))
		_, err = c.ZRank(ctx, "z", "none").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.Equal(t, []async.Z{{Member: "b", Score: 2}}, must(t, c.ZPopMin(ctx, "z", 1)))
		assert.Equal(t, []async.Z{{Member: "c", Score: 30}}, must(t, c.ZPopMax(ctx, "z", 1)))
		must(t, c.ZAdd(ctx, "zl", async.ZAddArgs{}, async.Z{Member: "a"}, async.Z{Member: "b"}, async.Z{Member: "c"}, async.Z{Member: "d"}))
		assert.Equal(t, []string{"b", "c"}, must(t, c.ZRange(ctx, "zl", async.ZRangeArgs{Start: "[b", Stop: "[c", ByLex: true})))
		assert.EqualValues(t, 1, must(t, c.ZRemRangeByLex(ctx, "zl", "[a", "[a")))
		assert.EqualValues(t, 1, must(t, c.ZRemRangeByRank(ctx, "zl", 0, 0)))
		assert.EqualValues(t, 2, must(t, c.ZRemRangeByScore(ctx, "zl", "-inf", "+inf")))
		assert.EqualValues(t, 1, must(t, c.ZRem(ctx, "z", "a")))
	})
}

func errWrongType() error { return protocol.ErrWrongType }

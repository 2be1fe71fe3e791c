package async_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// celsius is a value with an encoding of its own.
type celsius float64

func (c celsius) MarshalBinary() ([]byte, error) { return fmt.Appendf(nil, "%gC", float64(c)), nil }

// runMoreCommands covers bitmaps, HyperLogLog, geo, the set, list and
// sorted-set additions, keys, strings, streams, functions and server
// commands; runCommands calls it over RESP3 and RESP2.
func runMoreCommands(t *testing.T, c *async.Client) {
	ctx := context.Background()
	t.Run("bitmaps", func(t *testing.T) {
		assert.Zero(t, must(t, c.SetBit(ctx, "bm", 7, 1)))
		assert.EqualValues(t, 1, must(t, c.SetBit(ctx, "bm", 7, 0)))
		must(t, c.SetBit(ctx, "bm", 9, 1))
		assert.EqualValues(t, 1, must(t, c.GetBit(ctx, "bm", 9)))
		must(t, c.Set(ctx, "bits", "foobar"))
		assert.EqualValues(t, 26, must(t, c.BitCount(ctx, "bits", nil)))
		assert.EqualValues(t, 6, must(t, c.BitCount(ctx, "bits", &async.BitRange{Start: 1, End: 1})))
		assert.EqualValues(t, 17, must(t, c.BitCount(ctx, "bits", &async.BitRange{Start: 5, End: 30, Bits: true})))
		assert.EqualValues(t, 1, must(t, c.BitPos(ctx, "bits", 1, nil)))
		assert.EqualValues(t, 1, must(t, c.BitPos(ctx, "bits", 0, &async.BitRange{Start: 1, End: -1}))/8, "in the second byte")
		must(t, c.Set(ctx, "b1", "\xff\x0f"))
		must(t, c.Set(ctx, "b2", "\x0f\xff"))
		assert.EqualValues(t, 2, must(t, c.BitOp(ctx, "AND", "band", "b1", "b2")))
		assert.Equal(t, "\x0f\x0f", must(t, c.Get(ctx, "band")))
		vals := must(t, c.BitField(ctx, "bf", "SET", "u8", 0, 200, "INCRBY", "u8", 0, 100, "GET", "u8", 0, "OVERFLOW", "FAIL", "INCRBY", "u8", 0, 250))
		require.Len(t, vals, 4)
		assert.Equal(t, async.NullInt{Int: 0, Valid: true}, vals[0])
		assert.EqualValues(t, 44, vals[1].Int, "wraps by default")
		assert.EqualValues(t, 44, vals[2].Int)
		assert.False(t, vals[3].Valid, "OVERFLOW FAIL gives a null")
		ro := must(t, c.BitFieldRO(ctx, "bf", "GET", "u8", 0))
		assert.Equal(t, []async.NullInt{{Int: 44, Valid: true}}, ro)
	})
	t.Run("hyperloglog", func(t *testing.T) {
		assert.True(t, must(t, c.PFAdd(ctx, "hll1", "a", "b", "c")))
		assert.False(t, must(t, c.PFAdd(ctx, "hll1", "a")))
		must(t, c.PFAdd(ctx, "hll2", "c", "d"))
		assert.EqualValues(t, 3, must(t, c.PFCount(ctx, "hll1")))
		assert.EqualValues(t, 4, must(t, c.PFCount(ctx, "hll1", "hll2")))
		assert.Equal(t, "OK", must(t, c.PFMerge(ctx, "hll3", "hll1", "hll2")))
		assert.EqualValues(t, 4, must(t, c.PFCount(ctx, "hll3")))
	})
	t.Run("geo", func(t *testing.T) {
		assert.EqualValues(t, 2, must(t, c.GeoAdd(ctx, "sicily",
			async.GeoLocation{Member: "Palermo", Longitude: 13.361389, Latitude: 38.115556},
			async.GeoLocation{Member: "Catania", Longitude: 15.087269, Latitude: 37.502669})))
		assert.InDelta(t, 166.2742, must(t, c.GeoDist(ctx, "sicily", "Palermo", "Catania", "km")), 0.01)
		_, err := c.GeoDist(ctx, "sicily", "Palermo", "Rome", "km").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		pos := must(t, c.GeoPos(ctx, "sicily", "Palermo", "Rome"))
		require.Len(t, pos, 2)
		require.NotNil(t, pos[0])
		assert.InDelta(t, 13.361389, pos[0].Longitude, 0.0001)
		assert.Nil(t, pos[1])
		hashes := must(t, c.GeoHash(ctx, "sicily", "Palermo"))
		assert.Equal(t, "sqc8b49rny0", hashes[0].String)
		near := must(t, c.GeoSearch(ctx, "sicily", async.GeoSearchArgs{Longitude: 15, Latitude: 37, Radius: 200, Unit: "km"}))
		assert.Equal(t, []string{"Catania", "Palermo"}, near)
		far := must(t, c.GeoSearch(ctx, "sicily", async.GeoSearchArgs{Member: "Palermo", Width: 400, Height: 400, Unit: "km", Desc: true, Count: 1}))
		assert.Equal(t, []string{"Catania"}, far)
		assert.EqualValues(t, 1, must(t, c.GeoSearchStore(ctx, "{sicily}near", "sicily", async.GeoSearchArgs{Member: "Catania", Radius: 10, Unit: "km"})))
	})
	t.Run("sets and lists", func(t *testing.T) {
		must(t, c.SAdd(ctx, "sm1", "a", "b"))
		assert.True(t, must(t, c.SMove(ctx, "sm1", "sm2", "a")))
		assert.False(t, must(t, c.SMove(ctx, "sm1", "sm2", "z")))
		must(t, c.SAdd(ctx, "sm2", "b", "c"))
		must(t, c.SAdd(ctx, "sm1", "c"))
		assert.EqualValues(t, 2, must(t, c.SInterCard(ctx, 0, "sm1", "sm2")))
		assert.EqualValues(t, 1, must(t, c.SInterCard(ctx, 1, "sm1", "sm2")))
		must(t, c.RPush(ctx, "lm2", "x", "y", "z"))
		kv := must(t, c.LMPop(ctx, "LEFT", 2, "lm1", "lm2"))
		assert.Equal(t, async.KeyValues{Key: "lm2", Values: []string{"x", "y"}}, kv)
		_, err := c.LMPop(ctx, "RIGHT", 1, "lm-none").Result()
		assert.ErrorIs(t, err, async.ErrNil)
		assert.Zero(t, must(t, c.LPushX(ctx, "lm-none", "a")))
		assert.EqualValues(t, 2, must(t, c.LPushX(ctx, "lm2", "w")))
		assert.EqualValues(t, 3, must(t, c.RPushX(ctx, "lm2", "end")))
		assert.Equal(t, []string{"w", "z", "end"}, must(t, c.LRange(ctx, "lm2", 0, -1)))
	})
	t.Run("sorted sets", func(t *testing.T) {
		must(t, c.ZAdd(ctx, "za", async.ZAddArgs{}, async.Z{Member: "a", Score: 1}, async.Z{Member: "b", Score: 2}))
		must(t, c.ZAdd(ctx, "zb", async.ZAddArgs{}, async.Z{Member: "b", Score: 3}, async.Z{Member: "c", Score: 4}))
		assert.Equal(t, []async.Z{{"a", 1}, {"c", 4}, {"b", 5}}, must(t, c.ZUnion(ctx, async.ZSetOp{Keys: []string{"za", "zb"}})))
		assert.Equal(t, []async.Z{{"b", 3}}, must(t, c.ZInter(ctx, async.ZSetOp{Keys: []string{"za", "zb"}, Aggregate: "MAX"})))
		assert.Equal(t, []async.Z{{"b", 8}}, must(t, c.ZInter(ctx, async.ZSetOp{Keys: []string{"za", "zb"}, Weights: []float64{1, 2}})))
		assert.Equal(t, []async.Z{{"a", 1}}, must(t, c.ZDiff(ctx, "za", "zb")))
		assert.EqualValues(t, 3, must(t, c.ZUnionStore(ctx, "zu", async.ZSetOp{Keys: []string{"za", "zb"}})))
		assert.EqualValues(t, 1, must(t, c.ZInterStore(ctx, "zi", async.ZSetOp{Keys: []string{"za", "zb"}})))
		assert.EqualValues(t, 1, must(t, c.ZDiffStore(ctx, "zd", "za", "zb")))
		assert.EqualValues(t, 1, must(t, c.ZInterCard(ctx, 0, "za", "zb")))
		assert.EqualValues(t, 2, must(t, c.ZRangeStore(ctx, "zr", "zu", async.ZRangeArgs{Start: "0", Stop: "1"})))
		assert.Equal(t, []string{"a", "c"}, must(t, c.ZRange(ctx, "zr", async.ZRangeArgs{Start: "0", Stop: "-1"})))
		rnd := must(t, c.ZRandMember(ctx, "zu", 2))
		assert.Len(t, rnd, 2)
		assert.NotEqual(t, rnd[0].Member, rnd[1].Member)
		must(t, c.ZAdd(ctx, "zl", async.ZAddArgs{}, async.Z{Member: "a"}, async.Z{Member: "b"}, async.Z{Member: "c"}))
		assert.EqualValues(t, 2, must(t, c.ZLexCount(ctx, "zl", "[b", "+")))
	})
	t.Run("keys and strings", func(t *testing.T) {
		must(t, c.Set(ctx, "obj", "12345"))
		assert.EqualValues(t, 1, must(t, c.Touch(ctx, "obj", "nope")))
		_, err := c.PExpireTime(ctx, "obj").Result()
		assert.ErrorIs(t, err, async.ErrNil, "no expiry")
		must(t, c.PExpire(ctx, "obj", time.Hour, async.ExpireAlways))
		assert.WithinDuration(t, time.Now().Add(time.Hour), must(t, c.PExpireTime(ctx, "obj")), time.Minute)
		assert.Equal(t, "int", must(t, c.ObjectEncoding(ctx, "obj")))
		assert.Positive(t, must(t, c.ObjectRefCount(ctx, "obj")))
		assert.Less(t, must(t, c.ObjectIdleTime(ctx, "obj")), time.Minute)
		_, err = c.ObjectFreq(ctx, "obj").Result() // needs an LFU policy
		assert.Error(t, err)
		must(t, c.RPush(ctx, "sortme", 3, 1, 2))
		assert.Equal(t, []async.NullString{{"1", true}, {"2", true}, {"3", true}}, must(t, c.Sort(ctx, "sortme", async.SortArgs{})))
		assert.Equal(t, []async.NullString{{"3", true}, {"2", true}}, must(t, c.SortRO(ctx, "sortme", async.SortArgs{Desc: true, Count: 2})))
		assert.EqualValues(t, 3, must(t, c.SortStore(ctx, "sortme", "{sortme}sorted", async.SortArgs{Alpha: true})))
		assert.Equal(t, "OK", must(t, c.PSetEX(ctx, "px", "v", 90*time.Second)))
		assert.InDelta(t, 90, must(t, c.PTTL(ctx, "px")).Seconds(), 2)
		must(t, c.Set(ctx, "lcs1", "ohmytext"))
		must(t, c.Set(ctx, "lcs2", "mynewtext"))
		assert.Equal(t, "mytext", must(t, c.LCS(ctx, "lcs1", "lcs2")))
		// A value that says how it is encoded goes out so.
		must(t, c.Set(ctx, "marshaled", celsius(21.5)))
		assert.Equal(t, "21.5C", must(t, c.Get(ctx, "marshaled")))
		must(t, c.HSet(ctx, "hs", "f", "hello"))
		assert.EqualValues(t, 5, must(t, c.HStrLen(ctx, "hs", "f")))
		assert.Positive(t, must(t, c.MemoryUsage(ctx, "hs")))
	})
	t.Run("streams", func(t *testing.T) { runStreams(t, c) })
	t.Run("functions and server", func(t *testing.T) {
		lib := "#!lua name=testlib\nredis.register_function{function_name='echo1', callback=function(keys, args) return args[1] end, flags={'no-writes'}}\n"
		assert.Equal(t, "testlib", must(t, c.FunctionLoad(ctx, lib, true)))
		assert.Equal(t, "hi", must(t, c.FCall(ctx, "echo1", nil, "hi")).Str)
		assert.Equal(t, "ro", must(t, c.FCallRO(ctx, "echo1", []string{"k"}, "ro")).Str)
		libs := must(t, c.FunctionList(ctx, "test*"))
		require.Len(t, libs, 1)
		assert.Equal(t, async.FunctionLibrary{Name: "testlib", Engine: "LUA", Functions: []string{"echo1"}}, libs[0])
		assert.Equal(t, "OK", must(t, c.FunctionDelete(ctx, "testlib")))
		must(t, c.FunctionLoad(ctx, lib, false))
		assert.Equal(t, "OK", must(t, c.FunctionFlush(ctx)))
		assert.Empty(t, must(t, c.FunctionList(ctx, "")))

		assert.Zero(t, must(t, c.Wait(ctx, 0, 100*time.Millisecond)), "no replicas")
		assert.Zero(t, must(t, c.SPublish(ctx, "nobody", "x")))
		cfg := must(t, c.ConfigGet(ctx, "maxmemory-policy", "hz"))
		assert.Equal(t, "noeviction", cfg["maxmemory-policy"])
		assert.Equal(t, "OK", must(t, c.ConfigSet(ctx, "hz", cfg["hz"])))
		info := must(t, c.ClientInfo(ctx))
		assert.NotEmpty(t, info["id"])
		list := must(t, c.ClientList(ctx))
		found := false
		for _, cl := range list {
			found = found || cl["id"] == info["id"]
		}
		assert.True(t, found, "CLIENT LIST lists this connection")
		assert.Zero(t, must(t, c.ClientKill(ctx, "ID", 999999999)))
		assert.WithinDuration(t, time.Now(), must(t, c.LastSave(ctx)), 24*time.Hour)
	})
}

func runStreams(t *testing.T, c *async.Client) {
	ctx := context.Background()
	id1 := must(t, c.XAdd(ctx, "st", async.XAddArgs{}, "f", "1"))
	id2 := must(t, c.XAdd(ctx, "st", async.XAddArgs{}, "f", "2", "g", "x"))
	must(t, c.XAdd(ctx, "st", async.XAddArgs{ID: "9999999999999-0"}, "f", "3"))
	_, err := c.XAdd(ctx, "st-none", async.XAddArgs{NoMkStream: true}, "f", "1").Result()
	assert.ErrorIs(t, err, async.ErrNil)
	assert.EqualValues(t, 3, must(t, c.XLen(ctx, "st")))
	all := must(t, c.XRange(ctx, "st", "-", "+", 0))
	require.Len(t, all, 3)
	assert.Equal(t, async.XMessage{ID: id2, Values: map[string]string{"f": "2", "g": "x"}}, all[1])
	rev := must(t, c.XRevRange(ctx, "st", "+", "-", 1))
	assert.Equal(t, "9999999999999-0", rev[0].ID)
	assert.EqualValues(t, 1, must(t, c.XDel(ctx, "st", "9999999999999-0", "1-1")))
	must(t, c.XAdd(ctx, "st", async.XAddArgs{MaxLen: 5}, "f", "4"))

	// XREAD, and a blocking one that an entry added meanwhile wakes.
	read := must(t, c.XRead(ctx, async.XReadArgs{Streams: map[string]string{"st": "0"}, Count: 2}))
	require.Len(t, read, 1)
	assert.Equal(t, "st", read[0].Stream)
	assert.Equal(t, id1, read[0].Messages[0].ID)
	_, err = c.XRead(ctx, async.XReadArgs{Streams: map[string]string{"st": "$"}, Block: 50 * time.Millisecond}).Result()
	assert.ErrorIs(t, err, async.ErrNil, "timed out")
	blocked := c.XRead(ctx, async.XReadArgs{Streams: map[string]string{"st-wake": "$"}, Block: 5 * time.Second})
	require.Eventually(t, func() bool {
		ids := must(t, c.ClientList(ctx))
		for _, cl := range ids {
			if cl["cmd"] == "xread" && cl["flags"] == "b" {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond, "the XREAD is blocked on the server")
	woke := must(t, c.XAdd(ctx, "st-wake", async.XAddArgs{}, "w", "1"))
	got, err := blocked.Result()
	require.NoError(t, err)
	assert.Equal(t, woke, got[0].Messages[0].ID)

	// Consumer groups.
	assert.Equal(t, "OK", must(t, c.XGroupCreate(ctx, "st", "g1", "0", false)))
	assert.Equal(t, "OK", must(t, c.XGroupCreate(ctx, "st-new", "g1", "$", true)))
	assert.True(t, must(t, c.XGroupCreateConsumer(ctx, "st", "g1", "alice")))
	got = must(t, c.XReadGroup(ctx, "g1", "alice", async.XReadArgs{Streams: map[string]string{"st": ">"}, Count: 2}, false))
	require.Len(t, got[0].Messages, 2)
	sum := must(t, c.XPending(ctx, "st", "g1"))
	assert.EqualValues(t, 2, sum.Count)
	assert.Equal(t, id1, sum.Lowest)
	assert.Equal(t, map[string]int64{"alice": 2}, sum.Consumers)
	pend := must(t, c.XPendingRange(ctx, "st", "g1", 0, "-", "+", 10, "alice"))
	require.Len(t, pend, 2)
	assert.Equal(t, "alice", pend[0].Consumer)
	assert.EqualValues(t, 1, pend[0].Deliveries)
	claimed := must(t, c.XClaim(ctx, "st", "g1", "bob", 0, id1))
	require.Len(t, claimed, 1)
	assert.Equal(t, id1, claimed[0].ID)
	auto := must(t, c.XAutoClaim(ctx, "st", "g1", "carol", 0, "0-0", 10))
	assert.Len(t, auto.Messages, 2)
	assert.Equal(t, "0-0", auto.Next)
	assert.EqualValues(t, 2, must(t, c.XAck(ctx, "st", "g1", id1, id2)))
	sinfo := must(t, c.XInfoStream(ctx, "st"))
	assert.EqualValues(t, 3, sinfo.Length)
	assert.EqualValues(t, 1, sinfo.Groups)
	require.NotNil(t, sinfo.FirstEntry)
	assert.Equal(t, id1, sinfo.FirstEntry.ID)
	groups := must(t, c.XInfoGroups(ctx, "st"))
	require.Len(t, groups, 1)
	assert.Equal(t, "g1", groups[0].Name)
	assert.EqualValues(t, 3, groups[0].Consumers)
	consumers := must(t, c.XInfoConsumers(ctx, "st", "g1"))
	assert.Len(t, consumers, 3)
	assert.Zero(t, must(t, c.XGroupDelConsumer(ctx, "st", "g1", "alice")), "bob and carol claimed hers")
	assert.Equal(t, "OK", must(t, c.XGroupSetID(ctx, "st", "g1", "$")))
	assert.EqualValues(t, 2, must(t, c.XTrim(ctx, "st", 1, "", false)))
	assert.True(t, must(t, c.XGroupDestroy(ctx, "st", "g1")))
	_, err = c.XPending(ctx, "st", "g1").Result()
	assert.True(t, err != nil && !errors.Is(err, async.ErrNil), "the group is gone: %v", err)
}

// runAdminCommands covers the pops, scripts, pub/sub introspection,
// server, connection and ACL commands.
func runAdminCommands(t *testing.T, c *async.Client) {
	ctx := context.Background()
	must(t, c.RPush(ctx, "pl", "a", "b"))
	assert.Equal(t, "b", must(t, c.RPopLPush(ctx, "pl", "pl2")))
	kv := must(t, c.BLMPop(ctx, time.Second, "RIGHT", 5, "pl-none", "pl"))
	assert.Equal(t, async.KeyValues{Key: "pl", Values: []string{"a"}}, kv)
	_, err := c.BLMPop(ctx, 50*time.Millisecond, "LEFT", 1, "pl-none").Result()
	assert.ErrorIs(t, err, async.ErrNil, "timed out")
	must(t, c.ZAdd(ctx, "zp", async.ZAddArgs{}, async.Z{Member: "a", Score: 1}, async.Z{Member: "b", Score: 2}, async.Z{Member: "c", Score: 3}))
	assert.Equal(t, async.KeyZs{Key: "zp", Members: []async.Z{{"c", 3}}}, must(t, c.ZMPop(ctx, "MAX", 1, "zp-none", "zp")))
	_, err = c.ZMPop(ctx, "MIN", 1, "zp-none").Result()
	assert.ErrorIs(t, err, async.ErrNil)
	assert.Equal(t, async.KeyZ{Key: "zp", Z: async.Z{Member: "a", Score: 1}}, must(t, c.BZPopMin(ctx, time.Second, "zp")))
	assert.Equal(t, async.KeyZ{Key: "zp", Z: async.Z{Member: "b", Score: 2}}, must(t, c.BZPopMax(ctx, time.Second, "zp")))

	must(t, c.Set(ctx, "mv", "1"))
	assert.True(t, must(t, c.Move(ctx, "mv", 9)))
	assert.False(t, must(t, c.Move(ctx, "mv", 9)), "no longer here")
	_, err = c.GetSet(ctx, "gs", "1").Result()
	assert.ErrorIs(t, err, async.ErrNil)
	assert.Equal(t, "1", must(t, c.GetSet(ctx, "gs", "2")))
	must(t, c.XAdd(ctx, "xs", async.XAddArgs{ID: "5-0"}, "f", "v"))
	assert.Equal(t, "OK", must(t, c.XSetID(ctx, "xs", "10-0")))
	assert.Equal(t, "10-0", must(t, c.XInfoStream(ctx, "xs")).LastGeneratedID)

	sha := must(t, c.ScriptLoad(ctx, "return 1"))
	assert.Equal(t, []bool{true, false}, must(t, c.ScriptExists(ctx, sha, "0000000000000000000000000000000000000000")))
	assert.Equal(t, "OK", must(t, c.ScriptFlush(ctx)))
	assert.Equal(t, []bool{false}, must(t, c.ScriptExists(ctx, sha)))

	assert.Empty(t, must(t, c.PubSubChannels(ctx, "")))
	assert.Empty(t, must(t, c.PubSubShardChannels(ctx, "x*")))
	assert.Equal(t, map[string]int64{"a": 0, "b": 0}, must(t, c.PubSubNumSub(ctx, "a", "b")))
	assert.Equal(t, map[string]int64{"s": 0}, must(t, c.PubSubShardNumSub(ctx, "s")))
	assert.Zero(t, must(t, c.PubSubNumPat(ctx)))

	assert.Equal(t, "OK", must(t, c.ClientPause(ctx, 10*time.Millisecond, true)))
	assert.Equal(t, "OK", must(t, c.ClientUnpause(ctx)))
	assert.Equal(t, "OK", must(t, c.ClientNoEvict(ctx, true)))
	assert.Equal(t, "OK", must(t, c.ClientNoEvict(ctx, false)))
	assert.False(t, must(t, c.ClientUnblock(ctx, 999999999, false)))
	assert.Greater(t, must(t, c.CommandCount(ctx)), int64(200))
	assert.Contains(t, must(t, c.CommandList(ctx)), "get")
	assert.Equal(t, []string{"a", "c"}, must(t, c.CommandGetKeys(ctx, "MSET", "a", "b", "c", "d")))
	assert.Equal(t, "OK", must(t, c.ConfigResetStat(ctx)))
	// CONFIG REWRITE needs the file the server was started with.
	if must(t, c.Info(ctx, "server")).Get("config_file") == "" {
		_, err = c.ConfigRewrite(ctx).Result()
		assert.Error(t, err, "no configuration file to rewrite")
	} else {
		assert.Equal(t, "OK", must(t, c.ConfigRewrite(ctx)))
	}
	must(t, c.ConfigSet(ctx, "slowlog-log-slower-than", "0"))
	must(t, c.Ping(ctx))
	assert.Positive(t, must(t, c.SlowLogLen(ctx)))
	entries := must(t, c.SlowLogGet(ctx, 1))
	require.Len(t, entries, 1)
	assert.NotEmpty(t, entries[0].Args)
	assert.WithinDuration(t, time.Now(), entries[0].At, time.Hour)
	assert.Equal(t, "OK", must(t, c.SlowLogReset(ctx)))
	must(t, c.ConfigSet(ctx, "slowlog-log-slower-than", "10000"))
	assert.Equal(t, "OK", must(t, c.SwapDB(ctx, 8, 9)))
	// FLUSHALL empties every database, this one and db 8 (which holds
	// the moved key since the swap).
	must(t, c.Set(ctx, "fa", "1"))
	assert.Equal(t, "OK", must(t, c.FlushAll(ctx)))
	assert.Zero(t, must(t, c.DBSize(ctx)))
	must(t, c.Set(ctx, "mv", "1"))
	assert.True(t, must(t, c.Move(ctx, "mv", 8)), "db 8 no longer holds mv")
	assert.Equal(t, "OK", must(t, c.Save(ctx)))
	// Started, or refused because one of the two runs already.
	bg, err := c.BgSave(ctx).Result()
	assert.True(t, strings.Contains(bg, "saving") || (err != nil && (strings.Contains(err.Error(), "progress") || strings.Contains(err.Error(), "child process"))), "BGSAVE: %q %v", bg, err)
	rw, err := c.BgRewriteAOF(ctx).Result()
	assert.True(t, strings.Contains(rw, "rewriting") || (err != nil && strings.Contains(err.Error(), "progress")), "BGREWRITEAOF: %q %v", rw, err)
	assert.NotEmpty(t, must(t, c.MemoryDoctor(ctx)))
	assert.Equal(t, "OK", must(t, c.MemoryPurge(ctx)))
	assert.NotEmpty(t, must(t, c.LatencyDoctor(ctx)))
	assert.GreaterOrEqual(t, must(t, c.LatencyReset(ctx)), int64(0))

	assert.Equal(t, "default", must(t, c.AclWhoAmI(ctx)))
	assert.Equal(t, "OK", must(t, c.AclSetUser(ctx, "reader", "on", ">pw", "~*", "+@read")))
	assert.Contains(t, must(t, c.AclUsers(ctx)), "reader")
	assert.Len(t, must(t, c.AclList(ctx)), 2)
	assert.Contains(t, must(t, c.AclCat(ctx, "")), "read")
	assert.Contains(t, must(t, c.AclCat(ctx, "string")), "get")
	assert.EqualValues(t, 1, must(t, c.AclDelUser(ctx, "reader", "nobody")))
	assert.Len(t, must(t, c.AclGenPass(ctx, 0)), 64)
	assert.Len(t, must(t, c.AclGenPass(ctx, 32)), 8)
}

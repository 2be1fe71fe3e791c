package async

import (
	"context"
	"strconv"
	"time"
)

// ---- hashes ----

// HSet sets alternating fields and values in hash key and returns how
// many fields were added.
func (c *Client) HSet(ctx context.Context, key string, pairs ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"HSET", key}, pairs...)...)
}

// HGet returns a field of hash key; ErrNil if missing.
func (c *Client) HGet(ctx context.Context, key, field string) *Future[string] {
	return Cmd(ctx, c, ToString, "HGET", key, field)
}

// HGetAll returns hash key as a map (empty when it does not exist).
func (c *Client) HGetAll(ctx context.Context, key string) *Future[map[string]string] {
	return copyCmd(ctx, c, ToStringMap, "HGETALL", key)
}

// HMGet returns the given fields of hash key; missing ones are not Valid.
func (c *Client) HMGet(ctx context.Context, key string, fields ...string) *Future[[]NullString] {
	return Cmd(ctx, c, ToNullStrings, withKeys("HMGET", fields, key)...)
}

// HDel deletes fields and returns how many existed.
func (c *Client) HDel(ctx context.Context, key string, fields ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("HDEL", fields, key)...)
}

// HExists reports whether field exists in hash key.
func (c *Client) HExists(ctx context.Context, key, field string) *Future[bool] {
	return Cmd(ctx, c, ToBool, "HEXISTS", key, field)
}

// HLen returns the number of fields in hash key.
func (c *Client) HLen(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "HLEN", key)
}

// HKeys returns the field names of hash key.
func (c *Client) HKeys(ctx context.Context, key string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "HKEYS", key)
}

// HVals returns the values of hash key.
func (c *Client) HVals(ctx context.Context, key string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "HVALS", key)
}

// HIncrBy adds n to a field.
func (c *Client) HIncrBy(ctx context.Context, key, field string, n int64) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "HINCRBY", key, field, n)
}

// HIncrByFloat adds f to a field.
func (c *Client) HIncrByFloat(ctx context.Context, key, field string, f float64) *Future[float64] {
	return Cmd(ctx, c, ToFloat64, "HINCRBYFLOAT", key, field, f)
}

// HSetNX sets a field only if it does not exist.
func (c *Client) HSetNX(ctx context.Context, key, field string, value any) *Future[bool] {
	return Cmd(ctx, c, ToBool, "HSETNX", key, field, value)
}

// HRandField returns up to count random field names (count < 0 allows
// repeats).
func (c *Client) HRandField(ctx context.Context, key string, count int64) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "HRANDFIELD", key, count)
}

// ---- lists ----

// LPush prepends values and returns the new length.
func (c *Client) LPush(ctx context.Context, key string, values ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"LPUSH", key}, values...)...)
}

// RPush appends values and returns the new length.
func (c *Client) RPush(ctx context.Context, key string, values ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"RPUSH", key}, values...)...)
}

// LPop removes and returns the first element; ErrNil when empty.
func (c *Client) LPop(ctx context.Context, key string) *Future[string] {
	return Cmd(ctx, c, ToString, "LPOP", key)
}

// RPop removes and returns the last element; ErrNil when empty.
func (c *Client) RPop(ctx context.Context, key string) *Future[string] {
	return Cmd(ctx, c, ToString, "RPOP", key)
}

// LPopCount removes and returns up to count elements from the head.
func (c *Client) LPopCount(ctx context.Context, key string, count int64) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "LPOP", key, count)
}

// RPopCount removes and returns up to count elements from the tail.
func (c *Client) RPopCount(ctx context.Context, key string, count int64) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "RPOP", key, count)
}

// LRange returns elements start..stop, inclusive; negatives count from
// the end.
func (c *Client) LRange(ctx context.Context, key string, start, stop int64) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "LRANGE", key, start, stop)
}

// LLen returns the list's length.
func (c *Client) LLen(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "LLEN", key)
}

// LIndex returns the element at index; ErrNil when out of range.
func (c *Client) LIndex(ctx context.Context, key string, index int64) *Future[string] {
	return Cmd(ctx, c, ToString, "LINDEX", key, index)
}

// LSet sets the element at index.
func (c *Client) LSet(ctx context.Context, key string, index int64, value any) *Future[string] {
	return Cmd(ctx, c, ToStatus, "LSET", key, index, value)
}

// LRem removes count occurrences of value (see LREM) and returns how many.
func (c *Client) LRem(ctx context.Context, key string, count int64, value any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "LREM", key, count, value)
}

// LTrim keeps only elements start..stop.
func (c *Client) LTrim(ctx context.Context, key string, start, stop int64) *Future[string] {
	return Cmd(ctx, c, ToStatus, "LTRIM", key, start, stop)
}

// LInsert inserts value before (or after) pivot; returns the new length,
// -1 when pivot is missing.
func (c *Client) LInsert(ctx context.Context, key string, before bool, pivot, value any) *Future[int64] {
	where := "AFTER"
	if before {
		where = "BEFORE"
	}
	return Cmd(ctx, c, ToInt64, "LINSERT", key, where, pivot, value)
}

// LPosArgs are LPOS's options; zero fields are left out.
type LPosArgs struct {
	Rank   int64
	MaxLen int64
}

// LPos returns the index of value in the list; ErrNil when absent.
func (c *Client) LPos(ctx context.Context, key string, value any, a LPosArgs) *Future[int64] {
	args := []any{"LPOS", key, value}
	if a.Rank != 0 {
		args = append(args, "RANK", a.Rank)
	}
	if a.MaxLen != 0 {
		args = append(args, "MAXLEN", a.MaxLen)
	}
	return Cmd(ctx, c, ToInt64, args...)
}

// LMove pops from one end of src and pushes to one end of dst ("LEFT" or
// "RIGHT"); ErrNil when src is empty.
func (c *Client) LMove(ctx context.Context, src, dst, from, to string) *Future[string] {
	return Cmd(ctx, c, ToString, "LMOVE", src, dst, from, to)
}

// timeoutArg renders a blocking timeout in seconds; 0 blocks forever.
func timeoutArg(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// BLPop pops the first element of the first non-empty list, waiting up to
// timeout (0: forever, bounded by ctx). ErrNil on time-out. It runs on a
// dedicated connection. Cancelled by ctx, it resolves with ctx.Err() at
// once and loses nothing: an element that reached it anyway is pushed
// back onto the head of its list (see UndoBlocking).
func (c *Client) BLPop(ctx context.Context, timeout time.Duration, keys ...string) *Future[KeyValue] {
	return command(c, ctx, toKeyValue, true, append(withKeys("BLPOP", keys), timeoutArg(timeout))...)
}

// BRPop is BLPop from the tail; cancelled, it pushes a late element back
// onto the tail.
func (c *Client) BRPop(ctx context.Context, timeout time.Duration, keys ...string) *Future[KeyValue] {
	return command(c, ctx, toKeyValue, true, append(withKeys("BRPOP", keys), timeoutArg(timeout))...)
}

// BLMove is LMove that waits up to timeout for src to have an element.
// Cancelled by ctx, it resolves with ctx.Err() at once; an element it
// moved anyway is moved back from dst's to end to src's from end (see
// UndoBlocking).
func (c *Client) BLMove(ctx context.Context, src, dst, from, to string, timeout time.Duration) *Future[string] {
	return command(c, ctx, ToString, true, "BLMOVE", src, dst, from, to, timeoutArg(timeout))
}

// ---- sets ----

// SAdd adds members and returns how many were new.
func (c *Client) SAdd(ctx context.Context, key string, members ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"SADD", key}, members...)...)
}

// SRem removes members and returns how many were there.
func (c *Client) SRem(ctx context.Context, key string, members ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"SREM", key}, members...)...)
}

// SMembers returns every member.
func (c *Client) SMembers(ctx context.Context, key string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "SMEMBERS", key)
}

// SIsMember reports whether member is in the set.
func (c *Client) SIsMember(ctx context.Context, key string, member any) *Future[bool] {
	return Cmd(ctx, c, ToBool, "SISMEMBER", key, member)
}

// SMIsMember reports, for each member, whether it is in the set.
func (c *Client) SMIsMember(ctx context.Context, key string, members ...any) *Future[[]bool] {
	return copyCmd(ctx, c, ToBools, append([]any{"SMISMEMBER", key}, members...)...)
}

// SCard returns the set's size.
func (c *Client) SCard(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "SCARD", key)
}

// SPop removes and returns up to count random members.
func (c *Client) SPop(ctx context.Context, key string, count int64) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "SPOP", key, count)
}

// SRandMember returns up to count random members (count < 0 allows
// repeats).
func (c *Client) SRandMember(ctx context.Context, key string, count int64) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "SRANDMEMBER", key, count)
}

// SInter returns the intersection of the sets.
func (c *Client) SInter(ctx context.Context, keys ...string) *Future[[]string] {
	return keyCommand(c, ctx, ToStrings, "SINTER", keys)
}

// SUnion returns the union of the sets.
func (c *Client) SUnion(ctx context.Context, keys ...string) *Future[[]string] {
	return keyCommand(c, ctx, ToStrings, "SUNION", keys)
}

// SDiff returns the members of the first set not in the others.
func (c *Client) SDiff(ctx context.Context, keys ...string) *Future[[]string] {
	return keyCommand(c, ctx, ToStrings, "SDIFF", keys)
}

// SInterStore stores the intersection in dst and returns its size.
func (c *Client) SInterStore(ctx context.Context, dst string, keys ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("SINTERSTORE", keys, dst)...)
}

// SUnionStore stores the union in dst and returns its size.
func (c *Client) SUnionStore(ctx context.Context, dst string, keys ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("SUNIONSTORE", keys, dst)...)
}

// SDiffStore stores the difference in dst and returns its size.
func (c *Client) SDiffStore(ctx context.Context, dst string, keys ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("SDIFFSTORE", keys, dst)...)
}

// ---- sorted sets ----

// ZAddArgs are ZADD's flags.
type ZAddArgs struct {
	NX, XX, GT, LT bool
	CH             bool // count changed members, not only added ones
}

// ZAdd adds or updates members and returns how many were added (changed,
// with CH).
func (c *Client) ZAdd(ctx context.Context, key string, a ZAddArgs, members ...Z) *Future[int64] {
	args := []any{"ZADD", key}
	for _, f := range []struct {
		on   bool
		name string
	}{{a.NX, "NX"}, {a.XX, "XX"}, {a.GT, "GT"}, {a.LT, "LT"}, {a.CH, "CH"}} {
		if f.on {
			args = append(args, f.name)
		}
	}
	for _, m := range members {
		args = append(args, m.Score, m.Member)
	}
	return Cmd(ctx, c, ToInt64, args...)
}

// ZRem removes members and returns how many were there.
func (c *Client) ZRem(ctx context.Context, key string, members ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"ZREM", key}, members...)...)
}

// ZScore returns member's score; ErrNil when absent.
func (c *Client) ZScore(ctx context.Context, key string, member any) *Future[float64] {
	return Cmd(ctx, c, ToFloat64, "ZSCORE", key, member)
}

// ZMScore returns the scores of members; absent ones are not Valid.
func (c *Client) ZMScore(ctx context.Context, key string, members ...any) *Future[[]NullFloat] {
	return copyCmd(ctx, c, ToNullFloats, append([]any{"ZMSCORE", key}, members...)...)
}

// ZIncrBy adds incr to member's score and returns the new score.
func (c *Client) ZIncrBy(ctx context.Context, key string, incr float64, member any) *Future[float64] {
	return Cmd(ctx, c, ToFloat64, "ZINCRBY", key, incr, member)
}

// ZCard returns the sorted set's size.
func (c *Client) ZCard(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZCARD", key)
}

// ZCount counts members with scores between min and max ("-inf", "(1",
// ...).
func (c *Client) ZCount(ctx context.Context, key, min, max string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZCOUNT", key, min, max)
}

// ZRangeArgs are ZRANGE's arguments. Start and Stop are indexes, scores
// ("(1.5", "-inf") with ByScore, or lex bounds ("[a", "-") with ByLex.
type ZRangeArgs struct {
	Start, Stop string
	ByScore     bool
	ByLex       bool
	Rev         bool
	// Offset and Count apply a LIMIT when Count is non-zero (ByScore and
	// ByLex only); Count < 0 means all from Offset.
	Offset, Count int64
}

func (a ZRangeArgs) args(key string, withScores bool) []any {
	args := []any{"ZRANGE", key, a.Start, a.Stop}
	if a.ByScore {
		args = append(args, "BYSCORE")
	} else if a.ByLex {
		args = append(args, "BYLEX")
	}
	if a.Rev {
		args = append(args, "REV")
	}
	if a.Count != 0 {
		args = append(args, "LIMIT", a.Offset, a.Count)
	}
	if withScores {
		args = append(args, "WITHSCORES")
	}
	return args
}

// ZRange returns members in the range.
func (c *Client) ZRange(ctx context.Context, key string, a ZRangeArgs) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, a.args(key, false)...)
}

// ZRangeWithScores returns members in the range with their scores.
func (c *Client) ZRangeWithScores(ctx context.Context, key string, a ZRangeArgs) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, a.args(key, true)...)
}

// ZRank returns member's rank, lowest score first; ErrNil when absent.
func (c *Client) ZRank(ctx context.Context, key string, member any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZRANK", key, member)
}

// ZRevRank returns member's rank, highest score first; ErrNil when absent.
func (c *Client) ZRevRank(ctx context.Context, key string, member any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZREVRANK", key, member)
}

// ZPopMin removes and returns up to count lowest-scored members.
func (c *Client) ZPopMin(ctx context.Context, key string, count int64) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, "ZPOPMIN", key, count)
}

// ZPopMax removes and returns up to count highest-scored members.
func (c *Client) ZPopMax(ctx context.Context, key string, count int64) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, "ZPOPMAX", key, count)
}

// ZRemRangeByRank removes members ranked start..stop.
func (c *Client) ZRemRangeByRank(ctx context.Context, key string, start, stop int64) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZREMRANGEBYRANK", key, start, stop)
}

// ZRemRangeByScore removes members scored between min and max.
func (c *Client) ZRemRangeByScore(ctx context.Context, key, min, max string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZREMRANGEBYSCORE", key, min, max)
}

// ZRemRangeByLex removes members between lex bounds min and max.
func (c *Client) ZRemRangeByLex(ctx context.Context, key, min, max string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZREMRANGEBYLEX", key, min, max)
}

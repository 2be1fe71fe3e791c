package async

import (
	"context"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// ---- bitmaps ----

// SetBit sets the bit at offset to value (0 or 1) and returns its old value.
func (c *Client) SetBit(ctx context.Context, key string, offset int64, value int) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "SETBIT", key, offset, value)
}

// GetBit returns the bit at offset.
func (c *Client) GetBit(ctx context.Context, key string, offset int64) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "GETBIT", key, offset)
}

// BitRange restricts BITCOUNT and BITPOS to bytes Start..End (or bits,
// with Bits; Redis 7).
type BitRange struct {
	Start, End int64
	Bits       bool
}

func (r *BitRange) args(args []any) []any {
	if r == nil {
		return args
	}
	args = append(args, r.Start, r.End)
	if r.Bits {
		args = append(args, "BIT")
	}
	return args
}

// BitCount counts the set bits of key, in r when it is not nil.
func (c *Client) BitCount(ctx context.Context, key string, r *BitRange) *Future[int64] {
	return Cmd(ctx, c, ToInt64, r.args([]any{"BITCOUNT", key})...)
}

// BitPos returns the position of the first bit set to bit (0 or 1), in r
// when it is not nil; -1 when there is none.
func (c *Client) BitPos(ctx context.Context, key string, bit int, r *BitRange) *Future[int64] {
	return Cmd(ctx, c, ToInt64, r.args([]any{"BITPOS", key, bit})...)
}

// BitOp stores op ("AND", "OR", "XOR", "NOT") of the keys in dest and
// returns its length in bytes.
func (c *Client) BitOp(ctx context.Context, op, dest string, keys ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("BITOP", keys, op, dest)...)
}

// BitField runs BITFIELD with its operations as arguments (GET u8 0,
// INCRBY i5 100 1, OVERFLOW SAT, ...) and returns one value per GET, SET
// and INCRBY; an INCRBY that overflowed under OVERFLOW FAIL is not Valid.
func (c *Client) BitField(ctx context.Context, key string, ops ...any) *Future[[]NullInt] {
	return Cmd(ctx, c, ToNullInts, append([]any{"BITFIELD", key}, ops...)...)
}

// BitFieldRO is BITFIELD_RO: GET operations only, served by replicas too.
func (c *Client) BitFieldRO(ctx context.Context, key string, ops ...any) *Future[[]NullInt] {
	return Cmd(ctx, c, ToNullInts, append([]any{"BITFIELD_RO", key}, ops...)...)
}

// NullInt is an integer that may be null.
type NullInt struct {
	Int   int64
	Valid bool // false for a null
}

// ToNullInts reads an array of integers and nulls.
func ToNullInts(v protocol.Value) ([]NullInt, error) {
	es, err := elems("[]NullInt", v)
	if err != nil {
		return nil, err
	}
	out := make([]NullInt, len(es))
	for i, e := range es {
		if e.Kind == protocol.KindNull {
			continue
		}
		n, err := ToInt64(e)
		if err != nil {
			return nil, err
		}
		out[i] = NullInt{Int: n, Valid: true}
	}
	return out, nil
}

// ---- HyperLogLog ----

// PFAdd adds elements to the HyperLogLog key; reports whether its
// estimate changed.
func (c *Client) PFAdd(ctx context.Context, key string, elements ...any) *Future[bool] {
	return Cmd(ctx, c, ToBool, append([]any{"PFADD", key}, elements...)...)
}

// PFCount estimates the number of distinct elements in the union of keys.
func (c *Client) PFCount(ctx context.Context, keys ...string) *Future[int64] {
	return keyCommand(c, ctx, ToInt64, "PFCOUNT", keys)
}

// PFMerge stores the union of the source HyperLogLogs in dest.
func (c *Client) PFMerge(ctx context.Context, dest string, sources ...string) *Future[string] {
	return Cmd(ctx, c, ToStatus, withKeys("PFMERGE", append([]string{dest}, sources...))...)
}

// ---- sets, lists ----

// SMove moves member from set src to set dest; reports whether it was in src.
func (c *Client) SMove(ctx context.Context, src, dest string, member any) *Future[bool] {
	return Cmd(ctx, c, ToBool, "SMOVE", src, dest, member)
}

// SInterCard returns the size of the intersection of keys, counting at
// most limit members (0: no limit).
func (c *Client) SInterCard(ctx context.Context, limit int64, keys ...string) *Future[int64] {
	args := withKeys("SINTERCARD", keys, len(keys))
	if limit > 0 {
		args = append(args, "LIMIT", limit)
	}
	return Cmd(ctx, c, ToInt64, args...)
}

// KeyValues is the reply of LMPOP and ZMPOP-like commands: the key popped
// from and its elements.
type KeyValues struct {
	Key    string
	Values []string
}

// LMPop pops up to count elements from the first non-empty list of keys,
// from the "LEFT" or "RIGHT"; ErrNil when every list is empty.
func (c *Client) LMPop(ctx context.Context, direction string, count int64, keys ...string) *Future[KeyValues] {
	args := withKeys("LMPOP", keys, len(keys))
	args = append(args, direction, "COUNT", count)
	return Cmd(ctx, c, toKeyValues, args...)
}

func toKeyValues(v protocol.Value) (KeyValues, error) {
	if v.Kind == protocol.KindNull {
		return KeyValues{}, ErrNil
	}
	es, err := elems("KeyValues", v)
	if err != nil || len(es) != 2 {
		return KeyValues{}, typeErr("KeyValues", v)
	}
	k, err := ToString(es[0])
	if err != nil {
		return KeyValues{}, err
	}
	vals, err := ToStrings(es[1])
	return KeyValues{Key: k, Values: vals}, err
}

// LPushX prepends values to an existing list; returns its length (0 when
// the list does not exist).
func (c *Client) LPushX(ctx context.Context, key string, values ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"LPUSHX", key}, values...)...)
}

// RPushX appends values to an existing list; returns its length.
func (c *Client) RPushX(ctx context.Context, key string, values ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"RPUSHX", key}, values...)...)
}

// ---- sorted sets ----

// ZSetOp names the sets of ZUNION, ZINTER and their STORE forms, with
// optional weights and an aggregate ("SUM", "MIN", "MAX").
type ZSetOp struct {
	Keys      []string
	Weights   []float64
	Aggregate string
}

func (o ZSetOp) args(name string, dest ...string) []any {
	args := []any{name}
	for _, d := range dest {
		args = append(args, d)
	}
	args = append(args, len(o.Keys))
	for _, k := range o.Keys {
		args = append(args, k)
	}
	if len(o.Weights) > 0 {
		args = append(args, "WEIGHTS")
		for _, w := range o.Weights {
			args = append(args, w)
		}
	}
	if o.Aggregate != "" {
		args = append(args, "AGGREGATE", o.Aggregate)
	}
	return args
}

// ZUnion returns the union of the sets with scores.
func (c *Client) ZUnion(ctx context.Context, o ZSetOp) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, append(o.args("ZUNION"), "WITHSCORES")...)
}

// ZInter returns the intersection of the sets with scores.
func (c *Client) ZInter(ctx context.Context, o ZSetOp) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, append(o.args("ZINTER"), "WITHSCORES")...)
}

// ZDiff returns the members of the first set not in the others, with
// scores (weights and aggregate do not apply).
func (c *Client) ZDiff(ctx context.Context, keys ...string) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, append(ZSetOp{Keys: keys}.args("ZDIFF"), "WITHSCORES")...)
}

// ZUnionStore stores the union in dest and returns its size.
func (c *Client) ZUnionStore(ctx context.Context, dest string, o ZSetOp) *Future[int64] {
	return Cmd(ctx, c, ToInt64, o.args("ZUNIONSTORE", dest)...)
}

// ZInterStore stores the intersection in dest and returns its size.
func (c *Client) ZInterStore(ctx context.Context, dest string, o ZSetOp) *Future[int64] {
	return Cmd(ctx, c, ToInt64, o.args("ZINTERSTORE", dest)...)
}

// ZDiffStore stores the difference in dest and returns its size.
func (c *Client) ZDiffStore(ctx context.Context, dest string, keys ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, ZSetOp{Keys: keys}.args("ZDIFFSTORE", dest)...)
}

// ZInterCard returns the size of the intersection, counting at most
// limit members (0: no limit).
func (c *Client) ZInterCard(ctx context.Context, limit int64, keys ...string) *Future[int64] {
	args := withKeys("ZINTERCARD", keys, len(keys))
	if limit > 0 {
		args = append(args, "LIMIT", limit)
	}
	return Cmd(ctx, c, ToInt64, args...)
}

// ZRangeStore stores ZRANGE's selection of src in dest and returns its size.
func (c *Client) ZRangeStore(ctx context.Context, dest, src string, a ZRangeArgs) *Future[int64] {
	args := a.args(src, false)
	args[0] = "ZRANGESTORE"
	args = append([]any{args[0], dest}, args[1:]...)
	return Cmd(ctx, c, ToInt64, args...)
}

// ZRandMember returns up to count distinct random members with scores
// (count < 0: |count| members, repeats allowed).
func (c *Client) ZRandMember(ctx context.Context, key string, count int64) *Future[[]Z] {
	return copyCmd(ctx, c, ToZs, "ZRANDMEMBER", key, count, "WITHSCORES")
}

// ZLexCount counts the members between min and max ("[a", "(b", "-", "+").
func (c *Client) ZLexCount(ctx context.Context, key, min, max string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "ZLEXCOUNT", key, min, max)
}

// ---- keys ----

// Touch updates the keys' last access time; returns how many exist.
func (c *Client) Touch(ctx context.Context, keys ...string) *Future[int64] {
	return keyCommand(c, ctx, ToInt64, "TOUCH", keys)
}

// PExpireTime returns when key expires, to the millisecond; ErrNil when it
// has no expiry or does not exist.
func (c *Client) PExpireTime(ctx context.Context, key string) *Future[time.Time] {
	return Cmd(ctx, c, func(v protocol.Value) (time.Time, error) {
		n, err := ToInt64(v)
		if err != nil || n < 0 {
			return time.Time{}, orNil(err)
		}
		return time.UnixMilli(n), nil
	}, "PEXPIRETIME", key)
}

func orNil(err error) error {
	if err == nil {
		return ErrNil
	}
	return err
}

// ObjectEncoding returns the internal encoding of key's value
// ("listpack", "hashtable", "int", "embstr", ...); ErrNil when missing.
func (c *Client) ObjectEncoding(ctx context.Context, key string) *Future[string] {
	return Cmd(ctx, c, ToString, "OBJECT", "ENCODING", key)
}

// ObjectRefCount returns the reference count of key's value.
func (c *Client) ObjectRefCount(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "OBJECT", "REFCOUNT", key)
}

// ObjectIdleTime returns how long key has not been accessed (with an LRU
// eviction policy; a whole number of seconds).
func (c *Client) ObjectIdleTime(ctx context.Context, key string) *Future[time.Duration] {
	return Cmd(ctx, c, func(v protocol.Value) (time.Duration, error) {
		n, err := ToInt64(v)
		return time.Duration(n) * time.Second, err
	}, "OBJECT", "IDLETIME", key)
}

// ObjectFreq returns key's access frequency counter (with an LFU policy).
func (c *Client) ObjectFreq(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "OBJECT", "FREQ", key)
}

// SortArgs are SORT's options. Get patterns ("#", "weight_*", "h_*->f")
// give several strings per element.
type SortArgs struct {
	By            string
	Offset, Count int64 // LIMIT when Count is non-zero
	Get           []string
	Desc, Alpha   bool
}

func (a SortArgs) args(name, key string) []any {
	args := []any{name, key}
	if a.By != "" {
		args = append(args, "BY", a.By)
	}
	if a.Count != 0 {
		args = append(args, "LIMIT", a.Offset, a.Count)
	}
	for _, g := range a.Get {
		args = append(args, "GET", g)
	}
	if a.Desc {
		args = append(args, "DESC")
	}
	if a.Alpha {
		args = append(args, "ALPHA")
	}
	return args
}

// Sort returns the elements of the list, set or sorted set key, sorted.
func (c *Client) Sort(ctx context.Context, key string, a SortArgs) *Future[[]NullString] {
	return Cmd(ctx, c, ToNullStrings, a.args("SORT", key)...)
}

// SortRO is SORT_RO: Sort that replicas may serve.
func (c *Client) SortRO(ctx context.Context, key string, a SortArgs) *Future[[]NullString] {
	return Cmd(ctx, c, ToNullStrings, a.args("SORT_RO", key)...)
}

// SortStore stores the sorted elements in dest and returns how many.
func (c *Client) SortStore(ctx context.Context, key, dest string, a SortArgs) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append(a.args("SORT", key), "STORE", dest)...)
}

// ---- strings, hashes ----

// PSetEX sets key to value with an expiry in milliseconds.
func (c *Client) PSetEX(ctx context.Context, key string, value any, ttl time.Duration) *Future[string] {
	return Cmd(ctx, c, ToStatus, "PSETEX", key, ttl.Milliseconds(), value)
}

// LCS returns the longest common subsequence of the strings at two keys.
func (c *Client) LCS(ctx context.Context, key1, key2 string) *Future[string] {
	return Cmd(ctx, c, ToString, "LCS", key1, key2)
}

// HStrLen returns the length of a hash field's value (0 when missing).
func (c *Client) HStrLen(ctx context.Context, key, field string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "HSTRLEN", key, field)
}

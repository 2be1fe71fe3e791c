package async

import (
	"context"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// ---- keys ----

// Del deletes keys and returns how many existed.
func (c *Client) Del(ctx context.Context, keys ...string) *Future[int64] {
	return keyCommand(c, ctx, ToInt64, "DEL", keys)
}

// Unlink deletes keys in the background and returns how many existed.
func (c *Client) Unlink(ctx context.Context, keys ...string) *Future[int64] {
	return keyCommand(c, ctx, ToInt64, "UNLINK", keys)
}

// Exists returns how many of keys exist.
func (c *Client) Exists(ctx context.Context, keys ...string) *Future[int64] {
	return keyCommand(c, ctx, ToInt64, "EXISTS", keys)
}

// ExpireCond is the optional condition of EXPIRE and its kin (Redis 7).
type ExpireCond string

// The conditions.
const (
	ExpireAlways   ExpireCond = ""   // set the expiry whatever it is
	ExpireIfNone   ExpireCond = "NX" // only if the key has no expiry
	ExpireIfSome   ExpireCond = "XX" // only if the key has an expiry
	ExpireIfLater  ExpireCond = "GT" // only if the new expiry is later than the current one
	ExpireIfSooner ExpireCond = "LT" // only if the new expiry is sooner than the current one
)

func expireArgs(name, key string, n int64, cond ExpireCond) []any {
	if cond == "" {
		return []any{name, key, n}
	}
	return []any{name, key, n, string(cond)}
}

// Expire sets key's expiry in whole seconds; reports whether it was set.
func (c *Client) Expire(ctx context.Context, key string, ttl time.Duration, cond ExpireCond) *Future[bool] {
	return Cmd(ctx, c, ToBool, expireArgs("EXPIRE", key, int64(ttl/time.Second), cond)...)
}

// PExpire sets key's expiry in milliseconds.
func (c *Client) PExpire(ctx context.Context, key string, ttl time.Duration, cond ExpireCond) *Future[bool] {
	return Cmd(ctx, c, ToBool, expireArgs("PEXPIRE", key, ttl.Milliseconds(), cond)...)
}

// ExpireAt sets key to expire at t (whole seconds).
func (c *Client) ExpireAt(ctx context.Context, key string, t time.Time, cond ExpireCond) *Future[bool] {
	return Cmd(ctx, c, ToBool, expireArgs("EXPIREAT", key, t.Unix(), cond)...)
}

// PExpireAt sets key to expire at t (milliseconds).
func (c *Client) PExpireAt(ctx context.Context, key string, t time.Time, cond ExpireCond) *Future[bool] {
	return Cmd(ctx, c, ToBool, expireArgs("PEXPIREAT", key, t.UnixMilli(), cond)...)
}

// ExpireTime returns when key expires: the zero time when it has no
// expiry, ErrNil when it does not exist.
func (c *Client) ExpireTime(ctx context.Context, key string) *Future[time.Time] {
	return Cmd(ctx, c, func(v protocol.Value) (time.Time, error) {
		n, err := ToInt64(v)
		switch {
		case err != nil:
			return time.Time{}, err
		case n == -2:
			return time.Time{}, ErrNil
		case n == -1:
			return time.Time{}, nil
		}
		return time.Unix(n, 0), nil
	}, "EXPIRETIME", key)
}

// TTL returns key's remaining time to live (whole seconds); NoExpiry when
// it has none, ErrNil when it does not exist.
func (c *Client) TTL(ctx context.Context, key string) *Future[time.Duration] {
	return Cmd(ctx, c, toTTL(time.Second), "TTL", key)
}

// PTTL is TTL in milliseconds.
func (c *Client) PTTL(ctx context.Context, key string) *Future[time.Duration] {
	return Cmd(ctx, c, toTTL(time.Millisecond), "PTTL", key)
}

// Persist removes key's expiry; reports whether it had one.
func (c *Client) Persist(ctx context.Context, key string) *Future[bool] {
	return Cmd(ctx, c, ToBool, "PERSIST", key)
}

// Type returns the type of key's value ("string", "list", ... or "none").
func (c *Client) Type(ctx context.Context, key string) *Future[string] {
	return Cmd(ctx, c, ToStatus, "TYPE", key)
}

// Rename renames key to newkey.
func (c *Client) Rename(ctx context.Context, key, newkey string) *Future[string] {
	return Cmd(ctx, c, ToStatus, "RENAME", key, newkey)
}

// RenameNX renames key only if newkey does not exist.
func (c *Client) RenameNX(ctx context.Context, key, newkey string) *Future[bool] {
	return Cmd(ctx, c, ToBool, "RENAMENX", key, newkey)
}

// Keys returns the keys matching pattern. Prefer Scan on large databases.
func (c *Client) Keys(ctx context.Context, pattern string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "KEYS", pattern)
}

// RandomKey returns a random key; ErrNil when the database is empty.
func (c *Client) RandomKey(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToString, "RANDOMKEY")
}

// Copy copies src to dst; reports whether it did.
func (c *Client) Copy(ctx context.Context, src, dst string, replace bool) *Future[bool] {
	if replace {
		return Cmd(ctx, c, ToBool, "COPY", src, dst, "REPLACE")
	}
	return Cmd(ctx, c, ToBool, "COPY", src, dst)
}

// Dump serializes key's value; ErrNil when it does not exist.
func (c *Client) Dump(ctx context.Context, key string) *Future[string] {
	return Cmd(ctx, c, ToString, "DUMP", key)
}

// Restore creates key from a Dump; ttl 0 means no expiry.
func (c *Client) Restore(ctx context.Context, key string, ttl time.Duration, serialized string, replace bool) *Future[string] {
	args := []any{"RESTORE", key, ttl.Milliseconds(), serialized}
	if replace {
		args = append(args, "REPLACE")
	}
	return Cmd(ctx, c, ToStatus, args...)
}

package async

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// keyCommand sends name followed by keys, encoded straight into the
// command's buffer (no []any, no boxing): MGET, DEL and the like. conv
// must copy what it keeps out of the reply: the connection reuses the
// reply's element array once the future has it (core.Consumer).
func keyCommand[T any](c *Client, ctx context.Context, conv func(protocol.Value) (T, error), name string, keys []string) *Future[T] {
	f := newFuture(conv)
	f.consumes = true // every conv given here copies the elements out
	cmd := core.NewCommand()
	b := protocol.AppendArrayHeader(cmd.Buf, 1+len(keys))
	b = protocol.AppendString(b, name)
	for _, k := range keys {
		b = protocol.AppendString(b, k)
	}
	cmd.Buf = b
	return send(c, ctx, cmd, f)
}

// withKeys builds [name, extra-before..., keys...].
func withKeys(name string, keys []string, before ...any) []any {
	out := make([]any, 0, 1+len(before)+len(keys))
	out = append(out, name)
	out = append(out, before...)
	for _, k := range keys {
		out = append(out, k)
	}
	return out
}

// ---- connection ----

// Ping resolves "PONG".
func (c *Client) Ping(ctx context.Context) *Future[string] { return Cmd(ctx, c, ToStatus, "PING") }

// Echo resolves msg as the server echoes it.
func (c *Client) Echo(ctx context.Context, msg string) *Future[string] {
	return Cmd(ctx, c, ToString, "ECHO", msg)
}

// ClientSetName names the connection the command runs on. With a pool,
// prefer the pool's ClientName, which names every connection.
func (c *Client) ClientSetName(ctx context.Context, name string) *Future[string] {
	return Cmd(ctx, c, ToStatus, "CLIENT", "SETNAME", name)
}

// ClientGetName returns the name of the connection the command runs on;
// ErrNil if it has none.
func (c *Client) ClientGetName(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToString, "CLIENT", "GETNAME")
}

// ClientID returns the ID of the connection the command runs on.
func (c *Client) ClientID(ctx context.Context) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "CLIENT", "ID")
}

// Info is INFO's reply: section name (lower case) -> field -> value.
type Info map[string]map[string]string

// Get returns a field from any section, or "".
func (i Info) Get(field string) string {
	for _, sec := range i {
		if v, ok := sec[field]; ok {
			return v
		}
	}
	return ""
}

// ParseInfo parses INFO text into sections.
func ParseInfo(text string) Info {
	info := Info{}
	sec := map[string]string{}
	info[""] = sec
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			sec = map[string]string{}
			info[strings.ToLower(strings.TrimPrefix(line, "# "))] = sec
		default:
			if k, v, ok := strings.Cut(line, ":"); ok {
				sec[k] = v
			}
		}
	}
	if len(info[""]) == 0 {
		delete(info, "")
	}
	return info
}

// Info runs INFO with optional sections and parses the reply.
func (c *Client) Info(ctx context.Context, sections ...string) *Future[Info] {
	args := []any{"INFO"}
	for _, s := range sections {
		args = append(args, s)
	}
	return Cmd(ctx, c, func(v protocol.Value) (Info, error) {
		s, err := ToString(v)
		if err != nil {
			return nil, err
		}
		return ParseInfo(s), nil
	}, args...)
}

// Role is ROLE's reply, parsed.
type Role struct {
	// Role is "master", "slave" or "sentinel".
	Role string
	// ReplOffset is the master's replication offset (master) or the
	// offset the replica has processed (slave).
	ReplOffset int64
	// Replicas lists a master's connected replicas.
	Replicas []RoleReplica
	// MasterHost, MasterPort and State describe a replica's master link;
	// State is "connect", "connecting", "sync" or "connected".
	MasterHost string
	MasterPort int
	State      string
	// MasterNames lists the masters a sentinel monitors.
	MasterNames []string
}

// RoleReplica is one replica in a master's ROLE reply.
type RoleReplica struct {
	Host   string
	Port   int
	Offset int64
}

// ParseRole parses a ROLE reply.
func ParseRole(v protocol.Value) (Role, error) {
	es, err := elems("Role", v)
	if err != nil {
		return Role{}, err
	}
	if len(es) == 0 {
		return Role{}, typeErr("Role", v)
	}
	r := Role{}
	if r.Role, err = ToString(es[0]); err != nil {
		return Role{}, err
	}
	bad := &TypeError{Want: "Role", Got: v.Kind, Text: v.String()}
	switch r.Role {
	case "master":
		if len(es) < 3 {
			return Role{}, bad
		}
		r.ReplOffset, _ = ToInt64(es[1])
		for _, e := range es[2].Elems {
			ss, err := ToStrings(e)
			if err != nil || len(ss) < 3 {
				return Role{}, bad
			}
			port, _ := strconv.Atoi(ss[1])
			off, _ := strconv.ParseInt(ss[2], 10, 64)
			r.Replicas = append(r.Replicas, RoleReplica{Host: ss[0], Port: port, Offset: off})
		}
	case "slave", "replica":
		if len(es) < 5 {
			return Role{}, bad
		}
		r.Role = "slave"
		r.MasterHost, _ = ToString(es[1])
		port, _ := ToInt64(es[2])
		r.MasterPort = int(port)
		r.State, _ = ToString(es[3])
		r.ReplOffset, _ = ToInt64(es[4])
	case "sentinel":
		if len(es) >= 2 {
			r.MasterNames, _ = ToStrings(es[1])
		}
	}
	return r, nil
}

// Role runs ROLE and parses the reply.
func (c *Client) Role(ctx context.Context) *Future[Role] { return Cmd(ctx, c, ParseRole, "ROLE") }

// DBSize returns the number of keys in the selected database.
func (c *Client) DBSize(ctx context.Context) *Future[int64] { return Cmd(ctx, c, ToInt64, "DBSIZE") }

// FlushDB deletes every key of the selected database.
func (c *Client) FlushDB(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "FLUSHDB")
}

// Time returns the server's clock.
func (c *Client) Time(ctx context.Context) *Future[time.Time] {
	return Cmd(ctx, c, func(v protocol.Value) (time.Time, error) {
		ss, err := ToStrings(v)
		if err != nil {
			return time.Time{}, err
		}
		if len(ss) != 2 {
			return time.Time{}, typeErr("time", v)
		}
		sec, err1 := strconv.ParseInt(ss[0], 10, 64)
		usec, err2 := strconv.ParseInt(ss[1], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return time.Time{}, &TypeError{Want: "time", Got: v.Kind, Text: strings.Join(ss, " ")}
		}
		return time.Unix(sec, usec*1000), nil
	}, "TIME")
}

// Publish posts msg on channel and returns how many subscribers got it.
func (c *Client) Publish(ctx context.Context, channel string, msg any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "PUBLISH", channel, msg)
}

// ---- strings ----

// expiryArgs appends the first expiry option that is set.
func expiryArgs(args []any, ex, px time.Duration, exat, pxat time.Time) []any {
	switch {
	case ex > 0:
		return append(args, "EX", int64(ex/time.Second))
	case px > 0:
		return append(args, "PX", px.Milliseconds())
	case !exat.IsZero():
		return append(args, "EXAT", exat.Unix())
	case !pxat.IsZero():
		return append(args, "PXAT", pxat.UnixMilli())
	}
	return args
}

// SetArgs are SET's options; the zero value sets unconditionally with no
// expiry. At most one of EX, PX, EXAT, PXAT and KeepTTL may be set.
type SetArgs struct {
	EX      time.Duration // expire after, in whole seconds
	PX      time.Duration // expire after, in milliseconds
	EXAT    time.Time     // expire at, in seconds
	PXAT    time.Time     // expire at, in milliseconds
	KeepTTL bool          // keep the key's current expiry
	NX      bool          // only if the key does not exist
	XX      bool          // only if the key exists
	Get     bool          // return the old value
}

// SetWith runs SET with options. It resolves "OK", or the old value when
// Get is set; ErrNil when NX/XX prevented the write (or, with Get, when
// there was no old value).
func (c *Client) SetWith(ctx context.Context, key string, value any, a SetArgs) *Future[string] {
	args := expiryArgs([]any{"SET", key, value}, a.EX, a.PX, a.EXAT, a.PXAT)
	if a.KeepTTL && len(args) == 3 {
		args = append(args, "KEEPTTL")
	}
	if a.NX {
		args = append(args, "NX")
	}
	if a.XX {
		args = append(args, "XX")
	}
	if a.Get {
		args = append(args, "GET")
	}
	return Cmd(ctx, c, ToString, args...)
}

// SetNX sets key only if it does not exist; reports whether it did.
func (c *Client) SetNX(ctx context.Context, key string, value any) *Future[bool] {
	return Cmd(ctx, c, ToBool, "SETNX", key, value)
}

// SetEX sets key with an expiry in whole seconds.
func (c *Client) SetEX(ctx context.Context, key string, value any, ttl time.Duration) *Future[string] {
	return Cmd(ctx, c, ToStatus, "SETEX", key, int64(ttl/time.Second), value)
}

// GetDel returns key's value and deletes it; ErrNil if it did not exist.
func (c *Client) GetDel(ctx context.Context, key string) *Future[string] {
	return Cmd(ctx, c, ToString, "GETDEL", key)
}

// GetExArgs are GETEX's options: at most one field set; Persist removes
// the expiry.
type GetExArgs struct {
	EX      time.Duration
	PX      time.Duration
	EXAT    time.Time
	PXAT    time.Time
	Persist bool
}

// GetEx returns key's value and changes its expiry.
func (c *Client) GetEx(ctx context.Context, key string, a GetExArgs) *Future[string] {
	args := expiryArgs([]any{"GETEX", key}, a.EX, a.PX, a.EXAT, a.PXAT)
	if a.Persist && len(args) == 2 {
		args = append(args, "PERSIST")
	}
	return Cmd(ctx, c, ToString, args...)
}

// MGet returns the values of keys; a missing key's element is not Valid.
func (c *Client) MGet(ctx context.Context, keys ...string) *Future[[]NullString] {
	return keyCommand(c, ctx, ToNullStrings, "MGET", keys)
}

// MSet sets alternating keys and values.
func (c *Client) MSet(ctx context.Context, pairs ...any) *Future[string] {
	return Cmd(ctx, c, ToStatus, append([]any{"MSET"}, pairs...)...)
}

// MSetNX sets alternating keys and values only if none exists.
func (c *Client) MSetNX(ctx context.Context, pairs ...any) *Future[bool] {
	return Cmd(ctx, c, ToBool, append([]any{"MSETNX"}, pairs...)...)
}

// Incr adds one to key.
func (c *Client) Incr(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "INCR", key)
}

// IncrBy adds n to key.
func (c *Client) IncrBy(ctx context.Context, key string, n int64) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "INCRBY", key, n)
}

// IncrByFloat adds f to key.
func (c *Client) IncrByFloat(ctx context.Context, key string, f float64) *Future[float64] {
	return Cmd(ctx, c, ToFloat64, "INCRBYFLOAT", key, f)
}

// Decr subtracts one from key.
func (c *Client) Decr(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "DECR", key)
}

// DecrBy subtracts n from key.
func (c *Client) DecrBy(ctx context.Context, key string, n int64) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "DECRBY", key, n)
}

// Append appends value to key and returns the new length.
func (c *Client) Append(ctx context.Context, key string, value any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "APPEND", key, value)
}

// StrLen returns the length of key's value.
func (c *Client) StrLen(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "STRLEN", key)
}

// GetRange returns the substring from start to end, inclusive.
func (c *Client) GetRange(ctx context.Context, key string, start, end int64) *Future[string] {
	return Cmd(ctx, c, ToString, "GETRANGE", key, start, end)
}

// SetRange overwrites part of key's value from offset and returns the new
// length.
func (c *Client) SetRange(ctx context.Context, key string, offset int64, value any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "SETRANGE", key, offset, value)
}

package async

import (
	"context"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// ---- lists and sorted sets: pops ----

// RPopLPush moves the last element of src to the head of dest and
// returns it; ErrNil when src is empty.
func (c *Client) RPopLPush(ctx context.Context, src, dest string) *Future[string] {
	return Cmd(ctx, c, ToString, "RPOPLPUSH", src, dest)
}

// BLMPop is LMPop that waits up to timeout (0: for ever) for an element;
// cancelled after the server popped, it pushes the elements back where
// they came from.
func (c *Client) BLMPop(ctx context.Context, timeout time.Duration, direction string, count int64, keys ...string) *Future[KeyValues] {
	args := []any{"BLMPOP", timeoutArg(timeout), len(keys)}
	for _, k := range keys {
		args = append(args, k)
	}
	return command(c, ctx, toKeyValues, true, append(args, direction, "COUNT", count)...)
}

// ZMPop pops up to count members with the lowest ("MIN") or highest
// ("MAX") scores from the first non-empty sorted set of keys; ErrNil when
// all are empty.
func (c *Client) ZMPop(ctx context.Context, which string, count int64, keys ...string) *Future[KeyZs] {
	args := withKeys("ZMPOP", keys, len(keys))
	return Cmd(ctx, c, toKeyZs, append(args, which, "COUNT", count)...)
}

// KeyZs is ZMPOP's reply: the key popped from and its members.
type KeyZs struct {
	Key     string
	Members []Z
}

func toKeyZs(v protocol.Value) (KeyZs, error) {
	if v.Kind == protocol.KindNull {
		return KeyZs{}, ErrNil
	}
	es, err := elems("KeyZs", v)
	if err != nil || len(es) != 2 {
		return KeyZs{}, typeErr("KeyZs", v)
	}
	k, err := ToString(es[0])
	if err != nil {
		return KeyZs{}, err
	}
	zs, err := ToZs(es[1])
	return KeyZs{Key: k, Members: zs}, err
}

// BZPopMin waits up to timeout (0: for ever) for a member of the first
// non-empty sorted set of keys and pops the one with the lowest score;
// cancelled after the server popped, it adds the member back.
func (c *Client) BZPopMin(ctx context.Context, timeout time.Duration, keys ...string) *Future[KeyZ] {
	return command(c, ctx, toKeyZ, true, append(withKeys("BZPOPMIN", keys), timeoutArg(timeout))...)
}

// BZPopMax is BZPopMin for the highest score.
func (c *Client) BZPopMax(ctx context.Context, timeout time.Duration, keys ...string) *Future[KeyZ] {
	return command(c, ctx, toKeyZ, true, append(withKeys("BZPOPMAX", keys), timeoutArg(timeout))...)
}

// KeyZ is a member popped with its key.
type KeyZ struct {
	Key string
	Z
}

func toKeyZ(v protocol.Value) (KeyZ, error) {
	if v.Kind == protocol.KindNull {
		return KeyZ{}, ErrNil
	}
	es, err := elems("KeyZ", v)
	if err != nil || len(es) != 3 {
		return KeyZ{}, typeErr("KeyZ", v)
	}
	k, err1 := ToString(es[0])
	m, err2 := ToString(es[1])
	s, err3 := ToFloat64(es[2])
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return KeyZ{}, err
		}
	}
	return KeyZ{Key: k, Z: Z{Member: m, Score: s}}, nil
}

// ---- keys, strings, streams ----

// Move moves key to database db; reports whether it moved.
func (c *Client) Move(ctx context.Context, key string, db int) *Future[bool] {
	return Cmd(ctx, c, ToBool, "MOVE", key, db)
}

// GetSet sets key to value and returns the old value (ErrNil when there
// was none). Redis deprecates it for SET ... GET (SetWith).
func (c *Client) GetSet(ctx context.Context, key string, value any) *Future[string] {
	return Cmd(ctx, c, ToString, "GETSET", key, value)
}

// XSetID sets stream key's last ID.
func (c *Client) XSetID(ctx context.Context, key, id string) *Future[string] {
	return Cmd(ctx, c, ToStatus, "XSETID", key, id)
}

// ---- scripts ----

// ScriptLoad loads a Lua script into the script cache and returns its SHA1.
func (c *Client) ScriptLoad(ctx context.Context, script string) *Future[string] {
	return Cmd(ctx, c, ToString, "SCRIPT", "LOAD", script)
}

// ScriptExists reports, for each SHA1, whether the script is cached.
func (c *Client) ScriptExists(ctx context.Context, sha1s ...string) *Future[[]bool] {
	return Cmd(ctx, c, ToBools, withKeys("SCRIPT", sha1s, "EXISTS")...)
}

// ScriptFlush empties the script cache.
func (c *Client) ScriptFlush(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "SCRIPT", "FLUSH")
}

// ---- pub/sub introspection ----

// PubSubChannels lists the channels with subscribers matching pattern
// ("": all).
func (c *Client) PubSubChannels(ctx context.Context, pattern string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, optional([]any{"PUBSUB", "CHANNELS"}, pattern)...)
}

// PubSubShardChannels lists the sharded channels with subscribers
// matching pattern ("": all).
func (c *Client) PubSubShardChannels(ctx context.Context, pattern string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, optional([]any{"PUBSUB", "SHARDCHANNELS"}, pattern)...)
}

func optional(args []any, s string) []any {
	if s != "" {
		args = append(args, s)
	}
	return args
}

// PubSubNumSub returns the number of subscribers of each channel.
func (c *Client) PubSubNumSub(ctx context.Context, channels ...string) *Future[map[string]int64] {
	return Cmd(ctx, c, toCounts, withKeys("PUBSUB", channels, "NUMSUB")...)
}

// PubSubShardNumSub returns the number of subscribers of each sharded
// channel.
func (c *Client) PubSubShardNumSub(ctx context.Context, channels ...string) *Future[map[string]int64] {
	return Cmd(ctx, c, toCounts, withKeys("PUBSUB", channels, "SHARDNUMSUB")...)
}

// PubSubNumPat returns the number of pattern subscriptions.
func (c *Client) PubSubNumPat(ctx context.Context) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "PUBSUB", "NUMPAT")
}

func toCounts(v protocol.Value) (map[string]int64, error) {
	f, err := fields("map[string]int64", v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(f))
	for k := range f {
		out[k] = num(f, k)
	}
	return out, nil
}

// ---- server and connections ----

// ClientPause suspends the server's clients for d: every command, or
// with writesOnly only those that may write.
func (c *Client) ClientPause(ctx context.Context, d time.Duration, writesOnly bool) *Future[string] {
	args := []any{"CLIENT", "PAUSE", d.Milliseconds()}
	if writesOnly {
		args = append(args, "WRITE")
	}
	return Cmd(ctx, c, ToStatus, args...)
}

// ClientUnpause ends a ClientPause.
func (c *Client) ClientUnpause(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "CLIENT", "UNPAUSE")
}

// ClientNoEvict exempts the connection the command runs on from client
// eviction (on) or not.
func (c *Client) ClientNoEvict(ctx context.Context, on bool) *Future[string] {
	return Cmd(ctx, c, ToStatus, "CLIENT", "NO-EVICT", onOff(on))
}

func onOff(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

// ClientUnblock wakes the connection id blocked in a blocking command, as
// if its timeout had passed (or with an error, withError); reports
// whether one was blocked.
func (c *Client) ClientUnblock(ctx context.Context, id int64, withError bool) *Future[bool] {
	args := []any{"CLIENT", "UNBLOCK", id}
	if withError {
		args = append(args, "ERROR")
	}
	return Cmd(ctx, c, ToBool, args...)
}

// CommandCount returns the number of commands the server knows.
func (c *Client) CommandCount(ctx context.Context) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "COMMAND", "COUNT")
}

// CommandList returns the names of the commands the server knows.
func (c *Client) CommandList(ctx context.Context) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "COMMAND", "LIST")
}

// CommandGetKeys returns the keys of a command, as the server reads them.
func (c *Client) CommandGetKeys(ctx context.Context, args ...any) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, append([]any{"COMMAND", "GETKEYS"}, args...)...)
}

// ConfigResetStat resets the statistics INFO reports.
func (c *Client) ConfigResetStat(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "CONFIG", "RESETSTAT")
}

// SlowLogEntry is one entry of the slow log.
type SlowLogEntry struct {
	ID       int64
	At       time.Time
	Duration time.Duration
	Args     []string
	Client   string // address
	Name     string // client name
}

// SlowLogGet returns up to count of the latest slow log entries (count
// < 0: all).
func (c *Client) SlowLogGet(ctx context.Context, count int64) *Future[[]SlowLogEntry] {
	return Cmd(ctx, c, toSlowLog, "SLOWLOG", "GET", count)
}

func toSlowLog(v protocol.Value) ([]SlowLogEntry, error) {
	es, err := elems("[]SlowLogEntry", v)
	if err != nil {
		return nil, err
	}
	out := make([]SlowLogEntry, 0, len(es))
	for _, e := range es {
		if len(e.Elems) < 4 {
			return nil, typeErr("SlowLogEntry", e)
		}
		id, _ := ToInt64(e.Elems[0])
		at, _ := ToInt64(e.Elems[1])
		us, _ := ToInt64(e.Elems[2])
		args, err := ToStrings(e.Elems[3])
		if err != nil {
			return nil, err
		}
		s := SlowLogEntry{ID: id, At: time.Unix(at, 0), Duration: time.Duration(us) * time.Microsecond, Args: args}
		if len(e.Elems) >= 6 {
			s.Client, _ = ToString(e.Elems[4])
			s.Name, _ = ToString(e.Elems[5])
		}
		out = append(out, s)
	}
	return out, nil
}

// SlowLogLen returns the number of entries in the slow log.
func (c *Client) SlowLogLen(ctx context.Context) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "SLOWLOG", "LEN")
}

// SlowLogReset empties the slow log.
func (c *Client) SlowLogReset(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "SLOWLOG", "RESET")
}

// SwapDB swaps two databases.
func (c *Client) SwapDB(ctx context.Context, a, b int) *Future[string] {
	return Cmd(ctx, c, ToStatus, "SWAPDB", a, b)
}

// Save writes a snapshot synchronously (BGSAVE is the usual choice).
func (c *Client) Save(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "SAVE")
}

// MemoryDoctor returns the server's report on its memory use.
func (c *Client) MemoryDoctor(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToString, "MEMORY", "DOCTOR")
}

// LatencyDoctor returns the server's report on latency events.
func (c *Client) LatencyDoctor(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToString, "LATENCY", "DOCTOR")
}

// ---- ACL ----

// AclWhoAmI returns the user of the connection the command runs on.
func (c *Client) AclWhoAmI(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToString, "ACL", "WHOAMI")
}

// AclUsers lists the users' names.
func (c *Client) AclUsers(ctx context.Context) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "ACL", "USERS")
}

// AclList lists the users' rules, one line per user.
func (c *Client) AclList(ctx context.Context) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, "ACL", "LIST")
}

// AclCat lists the command categories, or the commands of category
// when it is not "".
func (c *Client) AclCat(ctx context.Context, category string) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, optional([]any{"ACL", "CAT"}, category)...)
}

// AclSetUser creates or changes user with rules ("on", ">password",
// "~key*", "+@read", ...).
func (c *Client) AclSetUser(ctx context.Context, user string, rules ...string) *Future[string] {
	return Cmd(ctx, c, ToStatus, withKeys("ACL", rules, "SETUSER", user)...)
}

// AclDelUser deletes users and returns how many existed.
func (c *Client) AclDelUser(ctx context.Context, users ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("ACL", users, "DELUSER")...)
}

// AclGenPass returns a random password of bits bits (0: 256), as hex.
func (c *Client) AclGenPass(ctx context.Context, bits int) *Future[string] {
	args := []any{"ACL", "GENPASS"}
	if bits > 0 {
		args = append(args, bits)
	}
	return Cmd(ctx, c, ToString, args...)
}

// ConfigRewrite writes the running configuration back to the server's
// configuration file (an error when it was started without one).
func (c *Client) ConfigRewrite(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "CONFIG", "REWRITE")
}

// BgSave starts a snapshot in the background.
func (c *Client) BgSave(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "BGSAVE")
}

// BgRewriteAOF starts rewriting the append-only file in the background.
func (c *Client) BgRewriteAOF(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "BGREWRITEAOF")
}

// LatencyReset clears the latency events of the named kinds (none: all)
// and returns how many were cleared.
func (c *Client) LatencyReset(ctx context.Context, events ...string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, withKeys("LATENCY", events, "RESET")...)
}

// MemoryPurge asks the allocator to give unused memory back.
func (c *Client) MemoryPurge(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "MEMORY", "PURGE")
}

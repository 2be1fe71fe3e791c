package async

import (
	"context"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/protocol"
)

// ---- geo ----

// GeoLocation is a member with its longitude and latitude.
type GeoLocation struct {
	Member              string
	Longitude, Latitude float64
}

// GeoAdd adds members with their positions; returns how many were new.
func (c *Client) GeoAdd(ctx context.Context, key string, locs ...GeoLocation) *Future[int64] {
	args := []any{"GEOADD", key}
	for _, l := range locs {
		args = append(args, l.Longitude, l.Latitude, l.Member)
	}
	return Cmd(ctx, c, ToInt64, args...)
}

// GeoDist returns the distance between two members in unit ("m", "km",
// "mi", "ft"); ErrNil when one is missing.
func (c *Client) GeoDist(ctx context.Context, key, m1, m2, unit string) *Future[float64] {
	return Cmd(ctx, c, ToFloat64, "GEODIST", key, m1, m2, unit)
}

// GeoPos returns the members' positions; a missing member's is nil.
func (c *Client) GeoPos(ctx context.Context, key string, members ...string) *Future[[]*GeoLocation] {
	return Cmd(ctx, c, func(v protocol.Value) ([]*GeoLocation, error) {
		es, err := elems("[]*GeoLocation", v)
		if err != nil {
			return nil, err
		}
		out := make([]*GeoLocation, len(es))
		for i, e := range es {
			if e.Kind == protocol.KindNull || len(e.Elems) != 2 {
				continue
			}
			lon, err1 := ToFloat64(e.Elems[0])
			lat, err2 := ToFloat64(e.Elems[1])
			if err1 != nil || err2 != nil {
				return nil, typeErr("GeoLocation", e)
			}
			out[i] = &GeoLocation{Member: members[i], Longitude: lon, Latitude: lat}
		}
		return out, nil
	}, withKeys("GEOPOS", members, key)...)
}

// GeoHash returns the members' geohash strings.
func (c *Client) GeoHash(ctx context.Context, key string, members ...string) *Future[[]NullString] {
	return Cmd(ctx, c, ToNullStrings, withKeys("GEOHASH", members, key)...)
}

// GeoSearchArgs are GEOSEARCH's: the centre (a Member, or Longitude and
// Latitude), the shape (Radius, or Width and Height), the Unit ("m" by
// default), Count (0: all; Any: the first found) and order (Desc, else
// nearest first).
type GeoSearchArgs struct {
	Member              string
	Longitude, Latitude float64
	Radius              float64
	Width, Height       float64
	Unit                string
	Count               int64
	Any, Desc           bool
}

func (a GeoSearchArgs) args(args []any) []any {
	if a.Member != "" {
		args = append(args, "FROMMEMBER", a.Member)
	} else {
		args = append(args, "FROMLONLAT", a.Longitude, a.Latitude)
	}
	unit := a.Unit
	if unit == "" {
		unit = "m"
	}
	if a.Radius > 0 {
		args = append(args, "BYRADIUS", a.Radius, unit)
	} else {
		args = append(args, "BYBOX", a.Width, a.Height, unit)
	}
	if a.Desc {
		args = append(args, "DESC")
	} else {
		args = append(args, "ASC")
	}
	if a.Count > 0 {
		args = append(args, "COUNT", a.Count)
		if a.Any {
			args = append(args, "ANY")
		}
	}
	return args
}

// GeoSearch returns the members in the area, nearest first unless Desc.
func (c *Client) GeoSearch(ctx context.Context, key string, a GeoSearchArgs) *Future[[]string] {
	return copyCmd(ctx, c, ToStrings, a.args([]any{"GEOSEARCH", key})...)
}

// GeoSearchStore stores GeoSearch's members of src in dest and returns
// how many.
func (c *Client) GeoSearchStore(ctx context.Context, dest, src string, a GeoSearchArgs) *Future[int64] {
	return Cmd(ctx, c, ToInt64, a.args([]any{"GEOSEARCHSTORE", dest, src})...)
}

// ---- pub/sub, functions, scripts ----

// SPublish publishes msg on the sharded channel (Redis 7); returns how
// many subscribers of the shard received it.
func (c *Client) SPublish(ctx context.Context, channel string, msg any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "SPUBLISH", channel, msg)
}

// FCall calls a function loaded with FUNCTION LOAD (Redis 7).
func (c *Client) FCall(ctx context.Context, function string, keys []string, args ...any) *Future[protocol.Value] {
	return Cmd(ctx, c, ToValue, scriptArgs("FCALL", function, keys, args)...)
}

// FCallRO is FCALL_RO, for functions flagged no-writes (replicas may run it).
func (c *Client) FCallRO(ctx context.Context, function string, keys []string, args ...any) *Future[protocol.Value] {
	return Cmd(ctx, c, ToValue, scriptArgs("FCALL_RO", function, keys, args)...)
}

func scriptArgs(name, fn string, keys []string, args []any) []any {
	out := make([]any, 0, 3+len(keys)+len(args))
	out = append(out, name, fn, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return append(out, args...)
}

// FunctionLoad loads a library ("#!lua name=lib\n..."), replacing one of
// the same name when replace; returns the library's name.
func (c *Client) FunctionLoad(ctx context.Context, code string, replace bool) *Future[string] {
	args := []any{"FUNCTION", "LOAD"}
	if replace {
		args = append(args, "REPLACE")
	}
	return Cmd(ctx, c, ToString, append(args, code)...)
}

// FunctionLibrary is one library of FUNCTION LIST.
type FunctionLibrary struct {
	Name, Engine string
	Functions    []string
}

// FunctionList lists the loaded libraries whose name matches pattern
// ("": all).
func (c *Client) FunctionList(ctx context.Context, pattern string) *Future[[]FunctionLibrary] {
	args := []any{"FUNCTION", "LIST"}
	if pattern != "" {
		args = append(args, "LIBRARYNAME", pattern)
	}
	return Cmd(ctx, c, func(v protocol.Value) ([]FunctionLibrary, error) {
		return each("[]FunctionLibrary", v, func(f map[string]protocol.Value) FunctionLibrary {
			lib := FunctionLibrary{Name: str(f, "library_name"), Engine: str(f, "engine")}
			for _, fn := range f["functions"].Elems {
				if ff, err := fields("function", fn); err == nil {
					lib.Functions = append(lib.Functions, str(ff, "name"))
				}
			}
			return lib
		})
	}, args...)
}

// FunctionDelete deletes a library.
func (c *Client) FunctionDelete(ctx context.Context, library string) *Future[string] {
	return Cmd(ctx, c, ToStatus, "FUNCTION", "DELETE", library)
}

// FunctionFlush deletes every library.
func (c *Client) FunctionFlush(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "FUNCTION", "FLUSH")
}

// ---- server ----

// Wait blocks until the writes of the connection it runs on reach
// replicas replicas or timeout passes; returns how many acknowledged them.
func (c *Client) Wait(ctx context.Context, replicas int, timeout time.Duration) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "WAIT", replicas, timeout.Milliseconds())
}

// ConfigGet returns the configuration parameters matching the patterns.
func (c *Client) ConfigGet(ctx context.Context, patterns ...string) *Future[map[string]string] {
	return copyCmd(ctx, c, ToStringMap, withKeys("CONFIG", patterns, "GET")...)
}

// ConfigSet sets alternating parameters and values.
func (c *Client) ConfigSet(ctx context.Context, pairs ...any) *Future[string] {
	return Cmd(ctx, c, ToStatus, append([]any{"CONFIG", "SET"}, pairs...)...)
}

// ClientInfo describes the connection the command runs on (CLIENT INFO),
// as its "field=value" pairs.
func (c *Client) ClientInfo(ctx context.Context) *Future[map[string]string] {
	return Cmd(ctx, c, func(v protocol.Value) (map[string]string, error) {
		s, err := ToString(v)
		if err != nil {
			return nil, err
		}
		return clientFields(s), nil
	}, "CLIENT", "INFO")
}

// ClientList describes every connection of the server (CLIENT LIST), one
// map per connection.
func (c *Client) ClientList(ctx context.Context) *Future[[]map[string]string] {
	return Cmd(ctx, c, func(v protocol.Value) ([]map[string]string, error) {
		s, err := ToString(v)
		if err != nil {
			return nil, err
		}
		var out []map[string]string
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			if line != "" {
				out = append(out, clientFields(line))
			}
		}
		return out, nil
	}, "CLIENT", "LIST")
}

func clientFields(line string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}

// ClientKill closes the connections matching the filters (alternating
// names and values: "ID", 42, "ADDR", "10.0.0.1:5555", "USER", "u", ...);
// returns how many.
func (c *Client) ClientKill(ctx context.Context, filters ...any) *Future[int64] {
	return Cmd(ctx, c, ToInt64, append([]any{"CLIENT", "KILL"}, filters...)...)
}

// MemoryUsage returns how many bytes key and its value take; ErrNil when
// it does not exist.
func (c *Client) MemoryUsage(ctx context.Context, key string) *Future[int64] {
	return Cmd(ctx, c, ToInt64, "MEMORY", "USAGE", key)
}

// LastSave returns when the last snapshot was saved.
func (c *Client) LastSave(ctx context.Context) *Future[time.Time] {
	return Cmd(ctx, c, func(v protocol.Value) (time.Time, error) {
		n, err := ToInt64(v)
		return time.Unix(n, 0), err
	}, "LASTSAVE")
}

// FlushAll deletes every key of every database.
func (c *Client) FlushAll(ctx context.Context) *Future[string] {
	return Cmd(ctx, c, ToStatus, "FLUSHALL")
}

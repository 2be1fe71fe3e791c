package main

import (
	"context"
	"fmt"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// client is one library under test, reduced to the workload's operations.
// get returns the value (ErrNil as ""), mget the number of values and
// their total length, so that every reply can be checked.
type client struct {
	name  string
	get   func(ctx context.Context, key string) (string, error)
	set   func(ctx context.Context, key, val string) error
	read  func(ctx context.Context, key string) (string, error) // the value, for the register check
	mget  func(ctx context.Context, keys []string) (n, size int, err error)
	close func()
	owner func(slot uint16) string // asyncredis cluster: the master its map names for slot (fault traces)
}

// settings describes each client's configuration, for the report.
var settings = map[string]string{
	"asyncredis": "pool.Config{Addr} defaults: one shared pipelined connection, RESP3",
	"rueidis":    "ClientOption{InitAddress, DisableCache: true}: auto-pipelining on one connection, RESP3",
	"go-redis":   "Options{Addr} defaults: a pool of 10×GOMAXPROCS connections, one command per round trip, RESP3",
}

func newAsyncredis(addr string) (*client, error) { return newAsyncredisSized(addr, 0) }

// maxPending is asyncredis's pool.Config.MaxPending (-maxpending; 0: the
// default).
var maxPending int

// newAsyncredisSized is asyncredis with minSize shared connections
// (0: the default, one); named "asyncredis MinSize n" when not default.
func newAsyncredisSized(addr string, minSize int) (*client, error) {
	p, err := pool.New(pool.Config{Addr: addr, MinSize: minSize, MaxPending: maxPending})
	if err != nil {
		return nil, err
	}
	name := "asyncredis"
	if minSize > 1 {
		name = fmt.Sprintf("asyncredis MinSize %d", minSize)
	}
	return asyncredisOps(name, async.NewClient(p), func() { p.Close() }), nil
}

// asyncredisOps is the workload's operations over an asyncredis client
// (one server or a cluster).
func asyncredisOps(name string, c *async.Client, closeFn func()) *client {
	return &client{
		name: name,
		get: func(ctx context.Context, k string) (string, error) {
			v, err := c.Get(ctx, k).Result()
			if err == async.ErrNil {
				return "", nil
			}
			return v, err
		},
		set: func(ctx context.Context, k, v string) error { return c.Set(ctx, k, v).Err() },
		mget: func(ctx context.Context, ks []string) (int, int, error) {
			vs, err := c.MGet(ctx, ks...).Result()
			size := 0
			for _, v := range vs {
				size += len(v.String)
			}
			return len(vs), size, err
		},
		close: closeFn,
	}
}

func newRueidis(addr string) (*client, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return nil, err
	}
	return rueidisOps(c, func(ctx context.Context, ks []string) (int, int, error) {
		vs, err := c.Do(ctx, c.B().Mget().Key(ks...).Build()).ToArray()
		size := 0
		for _, v := range vs {
			s, _ := v.ToString()
			size += len(s)
		}
		return len(vs), size, err
	}), nil
}

// rueidisOps is the workload's operations over a rueidis client, with
// mget as given (one server and a cluster read several keys differently).
func rueidisOps(c rueidis.Client, mget func(ctx context.Context, ks []string) (int, int, error)) *client {
	return &client{
		name: "rueidis",
		get: func(ctx context.Context, k string) (string, error) {
			v, err := c.Do(ctx, c.B().Get().Key(k).Build()).ToString()
			if rueidis.IsRedisNil(err) {
				return "", nil
			}
			return v, err
		},
		set: func(ctx context.Context, k, v string) error {
			return c.Do(ctx, c.B().Set().Key(k).Value(v).Build()).Error()
		},
		mget:  mget,
		close: c.Close,
	}
}

func newGoRedis(addr string) (*client, error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	return goRedisOps(c, goRedisMGet(c), func() { c.Close() }), nil
}

// goRedisOps is the workload's operations over a go-redis client (one
// server or a cluster), with mget as given.
func goRedisOps(c goredis.Cmdable, mget func(ctx context.Context, ks []string) (int, int, error), closeFn func()) *client {
	return &client{
		name: "go-redis",
		get: func(ctx context.Context, k string) (string, error) {
			v, err := c.Get(ctx, k).Result()
			if err == goredis.Nil {
				return "", nil
			}
			return v, err
		},
		set:   func(ctx context.Context, k, v string) error { return c.Set(ctx, k, v, 0).Err() },
		mget:  mget,
		close: closeFn,
	}
}

// goRedisMGet is one MGET through go-redis.
func goRedisMGet(c goredis.Cmdable) func(ctx context.Context, ks []string) (int, int, error) {
	return func(ctx context.Context, ks []string) (int, int, error) {
		vs, err := c.MGet(ctx, ks...).Result()
		size := 0
		for _, v := range vs {
			if s, ok := v.(string); ok {
				size += len(s)
			}
		}
		return len(vs), size, err
	}
}

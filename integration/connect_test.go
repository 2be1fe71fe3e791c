package integration_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/connect"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTrip writes and reads keys through c and checks the replies, then
// closes c: its commands fail with ErrClosed from then on.
func roundTrip(t *testing.T, c *async.Client, keys ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, k := range keys {
		require.NoError(t, c.Set(ctx, k, i).Err())
	}
	vals, err := c.MGet(ctx, keys...).Result()
	require.NoError(t, err)
	for i := range keys {
		assert.Equal(t, fmt.Sprint(i), vals[i].String)
	}
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Get(ctx, keys[0]).Err(), core.ErrClosed)
	require.NoError(t, c.Close(), "Close twice")
}

// ignoreNil counts a missing key as a successful read.
func ignoreNil(err error) error {
	if errors.Is(err, async.ErrNil) {
		return nil
	}
	return err
}

// A URL for each deployment gives a working client in one call.
func TestConnectFromURLs(t *testing.T) {
	t.Parallel() // the package checks for leaked goroutines at its end (TestMain)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Run("standalone", func(t *testing.T) {
		r := integration.StartRedisT(t, integration.RedisConfig{Username: "alice", UserPassword: "wonder", TLS: true, UnixSocket: true})
		c, err := connect.URL(ctx, "redis://alice:wonder@"+r.Addr()+"/3?client_name=svc&dial_timeout=2s")
		require.NoError(t, err)
		name, err := async.Cmd(ctx, c, async.ToString, "CLIENT", "GETNAME").Result()
		require.NoError(t, err)
		assert.Equal(t, "svc", name)
		info, err := async.Cmd(ctx, c, async.ToString, "CLIENT", "INFO").Result()
		require.NoError(t, err)
		assert.Contains(t, info, " db=3 ")
		assert.Contains(t, info, " user=alice ")
		roundTrip(t, c, "a", "b")

		// TLS: the URL cannot carry the test CA, so skip_verify says to
		// trust the server; without it the certificate is refused.
		c, err = connect.URL(ctx, "rediss://alice:wonder@"+r.TLSAddr+"?skip_verify=true")
		require.NoError(t, err)
		roundTrip(t, c, "t")
		_, err = connect.URL(ctx, "rediss://alice:wonder@"+r.TLSAddr+"?dial_timeout=2")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
		o, err := connect.ParseURL("rediss://alice:wonder@" + r.TLSAddr)
		require.NoError(t, err)
		o.Pool.TLS.RootCAs = r.TLSConfig.RootCAs // what a URL cannot say
		c, err = connect.Open(ctx, o)
		require.NoError(t, err)
		roundTrip(t, c, "t2")

		c, err = connect.URL(ctx, "unix://alice:wonder@"+r.SocketPath+"?db=2")
		require.NoError(t, err)
		roundTrip(t, c, "u")

		// A wrong password fails the call, and the error does not show it.
		_, err = connect.URL(ctx, "redis://alice:Wrong-Pass-42@"+r.Addr())
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "Wrong-Pass-42")
	})
	t.Run("sentinel", func(t *testing.T) {
		d := integration.StartSentinelT(t, integration.SentinelConfig{Password: "nodepw", SentinelPassword: "sentpw"})
		addrs := d.SentinelAddrs()
		raw := "redis+sentinel://:sentpw@" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2] +
			"&master_name=" + url.QueryEscape(d.Config.MasterName) + "&password=nodepw"
		c, err := connect.URL(ctx, raw)
		require.NoError(t, err)
		role, err := c.Role(ctx).Result()
		require.NoError(t, err)
		assert.Equal(t, "master", role.Role)
		roundTrip(t, c, "s1", "s2")

		// replica_only: reads go to a replica (the hooks say where).
		o, err := connect.ParseURL(raw + "&replica_only=true")
		require.NoError(t, err)
		servedBy := make(chan string, 1)
		o.Pool.Hooks = &core.Hooks{Command: func(_ context.Context, info core.CommandInfo) func(core.CommandResult) {
			if info.Name == "GET" {
				servedBy <- info.Addr
			}
			return nil
		}}
		c, err = connect.Open(ctx, o)
		require.NoError(t, err)
		require.NoError(t, ignoreNil(c.Get(ctx, "s1").Err()))
		assert.NotEqual(t, d.Master.Addr(), <-servedBy, "a replica served the read")
		require.NoError(t, c.Close())

		// go-redis' form, redis:// with master_name, reads the same way.
		c, err = connect.URL(ctx, strings.Replace(raw, "redis+sentinel://", "redis://", 1))
		require.NoError(t, err)
		roundTrip(t, c, "s3")

		_, err = connect.URL(ctx, strings.Replace(raw, "master_name=", "master_name=nosuch", 1))
		require.Error(t, err, "an unknown master name")
	})
	t.Run("cluster", func(t *testing.T) {
		rc := integration.StartClusterT(t, integration.ClusterConfig{})
		seeds := rc.Seeds()
		c, err := connect.URL(ctx, "redis+cluster://"+seeds[0]+"?addr="+seeds[1]+"&read_only=true")
		require.NoError(t, err)
		roundTrip(t, c, "c1", "c2", "c3", "c4", "c5") // several slots, an MGET split across them
		c, err = connect.URL(ctx, "redis://"+seeds[0]+"?addr="+seeds[1])
		require.Error(t, err, "more addresses on a redis:// URL without master_name")
	})
}

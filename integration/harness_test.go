package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStandaloneRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := StartRedisT(t, RedisConfig{Password: "s3cret", Username: "alice", UserPassword: "wonder", TLS: true, UnixSocket: true})

	t.Run("acl user", func(t *testing.T) {
		v, err := r.Do(ctx, "ACL", "WHOAMI")
		require.NoError(t, err)
		assert.Equal(t, "alice", v)
	})
	t.Run("default user password", func(t *testing.T) {
		c, err := dialRESP(ctx, r.Addr(), nil, "", "s3cret")
		require.NoError(t, err)
		defer c.Close()
		v, err := c.do(ctx, "ACL", "WHOAMI")
		require.NoError(t, err)
		assert.Equal(t, "default", v)
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := dialRESP(ctx, r.Addr(), nil, "alice", "nope")
		var se *ServerError
		require.True(t, errors.As(err, &se), "got %v", err)
		assert.True(t, strings.HasPrefix(se.Msg, "WRONGPASS"), se.Msg)
	})
	t.Run("no password", func(t *testing.T) {
		c, err := dialRESP(ctx, r.Addr(), nil, "", "")
		require.NoError(t, err)
		defer c.Close()
		_, err = c.do(ctx, "GET", "k")
		var se *ServerError
		require.True(t, errors.As(err, &se), "got %v", err)
		assert.True(t, strings.HasPrefix(se.Msg, "NOAUTH"), se.Msg)
	})
	t.Run("tls", func(t *testing.T) {
		require.NotNil(t, r.TLSConfig)
		c, err := dialRESP(ctx, r.TLSAddr, r.TLSConfig, "alice", "wonder")
		require.NoError(t, err)
		defer c.Close()
		v, err := c.do(ctx, "SET", "tls-key", "over-tls")
		require.NoError(t, err)
		assert.Equal(t, "OK", v)
		v, err = r.Do(ctx, "GET", "tls-key") // plain port, same server
		require.NoError(t, err)
		assert.Equal(t, "over-tls", v)
	})
	t.Run("unix socket", func(t *testing.T) {
		require.NotEmpty(t, r.SocketPath)
		c, err := dialRESP(ctx, r.SocketPath, nil, "alice", "wonder")
		require.NoError(t, err)
		defer c.Close()
		v, err := c.do(ctx, "PING")
		require.NoError(t, err)
		assert.Equal(t, "PONG", v)
	})
}

func TestRedisCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	RequireDocker(t)
	ctx := context.Background()
	r, err := StartRedis(ctx, RedisConfig{UnixSocket: true})
	require.NoError(t, err)
	cs, ns, err := r.Leftovers(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, cs, "containers while running")
	require.Equal(t, 1, ns, "networks while running")
	require.NoError(t, r.Pause(ctx)) // a paused container must be removable too
	require.NoError(t, r.Close(ctx))
	require.NoError(t, r.Close(ctx), "Close is idempotent")
	cs, ns, err = r.Leftovers(ctx)
	require.NoError(t, err)
	assert.Zero(t, cs, "containers after Close")
	assert.Zero(t, ns, "networks after Close")
	_, err = os.Stat(filepath.Dir(r.SocketPath))
	assert.True(t, os.IsNotExist(err), "socket folder removed: %v", err)
}

func TestSentinelDeployment(t *testing.T) {
	t.Parallel()
	RequireDocker(t)
	ctx := context.Background()
	start := time.Now()
	d, err := StartSentinel(ctx, SentinelConfig{})
	require.NoError(t, err)
	t.Logf("deployment up (1 master, 2 replicas, 3 sentinels, settled) in %v", time.Since(start).Round(time.Millisecond))
	assert.Less(t, time.Since(start), 30*time.Second)

	m, err := d.CurrentMaster(ctx)
	require.NoError(t, err)
	assert.Same(t, d.Master, m)
	for _, r := range d.Replicas {
		role, err := r.Role(ctx)
		require.NoError(t, err)
		assert.Equal(t, "slave", role, r.Name)
	}
	cs, ns, err := d.Leftovers(ctx)
	require.NoError(t, err)
	assert.Equal(t, 6, cs)
	assert.Equal(t, 1, ns)

	require.NoError(t, d.Close(ctx))
	cs, ns, err = d.Leftovers(ctx)
	require.NoError(t, err)
	assert.Zero(t, cs, "containers after Close")
	assert.Zero(t, ns, "networks after Close")
}

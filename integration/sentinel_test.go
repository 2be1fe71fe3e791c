package integration_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newSentinel(t *testing.T, cfg sentinel.Config) *sentinel.RedisSentinel {
	t.Helper()
	s, err := sentinel.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSentinelBasics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{Password: "datapw", SentinelPassword: "sentpw"})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs(), Pool: pool.Config{Password: "datapw"}, Sentinel: pool.Config{Password: "sentpw"}})
	name := d.Config.MasterName

	t.Run("master and replicas", func(t *testing.T) {
		m := s.MasterFor(name)
		require.NoError(t, m.Set(ctx, "greeting", "hello").Err())
		v, err := m.Get(ctx, "greeting").Result()
		require.NoError(t, err)
		assert.Equal(t, "hello", v)
		role, err := m.Role(ctx).Result()
		require.NoError(t, err)
		assert.Equal(t, "master", role.Role)

		r := s.SlaveFor(name)
		for i := 0; i < 10; i++ {
			role, err := r.Role(ctx).Result()
			require.NoError(t, err)
			assert.Equal(t, "slave", role.Role)
		}
		require.Eventually(t, func() bool { return r.Get(ctx, "greeting").Val() == "hello" }, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("sentinel commands", func(t *testing.T) {
		addr, err := s.MasterAddress(ctx, name).Result()
		require.NoError(t, err)
		assert.Equal(t, d.Master.Addr(), addr)
		disc, err := s.DiscoverMaster(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, d.Master.Addr(), disc)
		reps, err := s.DiscoverSlave(ctx, name)
		require.NoError(t, err)
		assert.Len(t, reps, 2)

		master, err := s.Master(ctx, name).Result()
		require.NoError(t, err)
		assert.True(t, master.IsMaster)
		assert.False(t, master.SDown)
		assert.EqualValues(t, 2, master.NumSlaves)
		assert.EqualValues(t, 2, master.NumOtherSentinels)
		assert.EqualValues(t, 2, master.Quorum)
		assert.Equal(t, d.Master.Addr(), master.Addr())
		assert.NotEmpty(t, master.Fields["runid"])

		masters, err := s.Masters(ctx).Result()
		require.NoError(t, err)
		require.Len(t, masters, 1)
		replicas, err := s.Replicas(ctx, name).Result()
		require.NoError(t, err)
		require.Len(t, replicas, 2)
		assert.True(t, replicas[0].IsSlave)
		assert.Equal(t, "ok", replicas[0].MasterLinkStatus)
		slaves, err := s.Slaves(ctx, name).Result()
		require.NoError(t, err)
		assert.Len(t, slaves, 2)
		peers, err := s.Sentinels(ctx, name).Result()
		require.NoError(t, err)
		assert.Len(t, peers, 2)
		assert.True(t, peers[0].IsSentinel)

		q, err := s.CheckQuorum(ctx, name).Result()
		require.NoError(t, err)
		assert.Contains(t, q, "OK")
		id, err := s.MyID(ctx).Result()
		require.NoError(t, err)
		assert.Len(t, id, 40)
		require.NoError(t, s.SetOption(ctx, name, "down-after-milliseconds", 1000).Err())
		cfg, err := s.ConfigGet(ctx, "resolve-hostnames").Result()
		require.NoError(t, err)
		assert.Contains(t, cfg, "resolve-hostnames")
		require.NoError(t, s.ConfigSet(ctx, "resolve-hostnames", "no").Err())
		require.NoError(t, s.FlushConfig(ctx).Err())
		pong, err := s.PingSentinel(ctx).Result()
		require.NoError(t, err)
		assert.Equal(t, "PONG", pong)
		all := s.ExecuteAll(ctx, "GET-MASTER-ADDR-BY-NAME", name)
		assert.Len(t, all, 3)
		for addr, f := range all {
			_, err := f.Result()
			assert.NoError(t, err, addr)
		}

		require.NoError(t, s.Monitor(ctx, "other", d.Replicas[0].IP, 6379, 2).Err())
		reset, err := s.Reset(ctx, "other").Result()
		require.NoError(t, err)
		assert.Len(t, reset, 3, "every sentinel monitors it and resets it")
		for addr, o := range reset {
			assert.EqualValues(t, 1, o.Reply.Int, addr)
		}
		require.NoError(t, s.Remove(ctx, "other").Err())
		_, err = s.MasterAddress(ctx, "other").Result()
		var mnf *sentinel.MasterNotFoundError
		assert.ErrorAs(t, err, &mnf)
	})
}

// deadAddr is an address in the deployment's subnet where nothing runs.
func deadAddr(d *integration.Deployment, last byte) string {
	ip := net.ParseIP(d.Master.IP).To4()
	ip[3] = last
	return net.JoinHostPort(ip.String(), "26379")
}

func TestSentinelDiscoveryErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{SentinelPassword: "sentpw"})
	name := d.Config.MasterName
	good := d.SentinelAddrs()

	firstCommand := func(t *testing.T, cfg sentinel.Config, master string) (time.Duration, error) {
		s := newSentinel(t, cfg)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		start := time.Now()
		err := s.MasterFor(master).Ping(cctx).Err()
		return time.Since(start), err
	}

	t.Run("first sentinel dead", func(t *testing.T) {
		took, err := firstCommand(t, sentinel.Config{Sentinels: append([]string{deadAddr(d, 250)}, good...), Sentinel: pool.Config{Password: "sentpw"}}, name)
		require.NoError(t, err)
		assert.Less(t, took, time.Second)
		t.Logf("first command with a dead first sentinel: %v", took)
	})
	t.Run("unknown master name", func(t *testing.T) {
		_, err := firstCommand(t, sentinel.Config{Sentinels: good, Sentinel: pool.Config{Password: "sentpw"}}, "nosuchmaster")
		var mnf *sentinel.MasterNotFoundError
		require.ErrorAs(t, err, &mnf)
		assert.ErrorIs(t, err, sentinel.ErrUnknownName)
		assert.NotErrorIs(t, err, sentinel.ErrNoSentinel)
	})
	t.Run("all sentinels dead", func(t *testing.T) {
		took, err := firstCommand(t, sentinel.Config{Sentinels: []string{deadAddr(d, 251), deadAddr(d, 252)}}, name)
		var mnf *sentinel.MasterNotFoundError
		require.ErrorAs(t, err, &mnf)
		assert.ErrorIs(t, err, sentinel.ErrNoSentinel)
		assert.NotErrorIs(t, err, sentinel.ErrUnknownName)
		assert.Less(t, took, 2*time.Second)
	})
	t.Run("wrong sentinel password", func(t *testing.T) {
		_, err := firstCommand(t, sentinel.Config{Sentinels: good, Sentinel: pool.Config{Password: "wrong"}}, name)
		var mre *sentinel.MasterReplyError
		require.ErrorAs(t, err, &mre)
		assert.ErrorIs(t, err, protocol.ErrAuth)
		assert.NotContains(t, err.Error(), "wrong ")
	})
	t.Run("fail fast", func(t *testing.T) {
		_, err := firstCommand(t, sentinel.Config{Sentinels: good, Sentinel: pool.Config{Password: "sentpw"}, FailFast: true}, "nosuchmaster")
		var mnf *sentinel.MasterNotFoundError
		require.ErrorAs(t, err, &mnf)
	})
	t.Run("no replica", func(t *testing.T) {
		s := newSentinel(t, sentinel.Config{Sentinels: good, Sentinel: pool.Config{Password: "sentpw"}})
		err := s.SlaveFor("nosuchmaster").Ping(ctx).Err()
		var snf *sentinel.SlaveNotFoundError
		require.ErrorAs(t, err, &snf)
		assert.True(t, errors.Is(err, sentinel.ErrUnknownName))
	})
}

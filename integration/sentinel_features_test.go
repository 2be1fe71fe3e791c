package integration_test

import (
	"context"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Pub/sub, scripts, pipelines and transactions through MasterFor, before
// and after a failover.
func TestMasterForFeaturesAcrossFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
	m := s.MasterFor(d.Config.MasterName)

	ps, err := m.PubSub(async.PubSubConfig{})
	require.NoError(t, err)
	defer ps.Close()
	require.NoError(t, ps.Subscribe(ctx, "events"))
	_, err = m.Publish(ctx, "events", "before").Result()
	require.NoError(t, err)
	assert.Equal(t, "before", waitMessage(t, ps, "message").Payload)

	script := async.NewScript("return redis.call('INCR', KEYS[1])")
	v, err := script.Run(ctx, m, []string{"n"}).Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, v.Int)

	require.NoError(t, d.Master.Kill(ctx))
	nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	require.NoError(t, err)

	// The subscriber follows the master: it resubscribes on the new one.
	waitMessage(t, ps, async.KindResubscribed)
	n, err := m.Publish(ctx, "events", "after").Result()
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	assert.Equal(t, "after", waitMessage(t, ps, "message").Payload)

	// The new master never ran the script: EVALSHA falls back to EVAL.
	v, err = script.Run(ctx, m, []string{"n"}).Result()
	require.NoError(t, err)
	assert.Positive(t, v.Int)
	_, err = nm.Do(ctx, "SCRIPT", "EXISTS", script.Hash())
	require.NoError(t, err)

	pl := m.Pipeline()
	a := pl.Client().Set(ctx, "pipe", "1")
	b := pl.Client().Get(ctx, "pipe")
	require.NoError(t, pl.Exec(ctx))
	assert.Equal(t, "OK", a.Val())
	assert.Equal(t, "1", b.Val())
	require.NoError(t, m.WatchRetry(ctx, 3, func(tx *async.Tx) error {
		tx.Queue().Incr(ctx, "pipe")
		return nil
	}, "pipe"))
	assert.Equal(t, "2", m.Get(ctx, "pipe").Val())
	role, err := m.Role(ctx).Result()
	require.NoError(t, err)
	assert.Equal(t, "master", role.Role)
}

func waitMessage(t *testing.T, ps *async.PubSub, kind string) async.Message {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case m := <-ps.Messages():
			if m.Kind == kind {
				return m
			}
		case <-timeout:
			t.Fatalf("no %q message within 30s", kind)
		}
	}
}

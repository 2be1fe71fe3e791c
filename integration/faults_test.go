package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertPromotedReplica checks that n is one of the deployment's original
// replicas and that its ROLE says master.
func assertPromotedReplica(t *testing.T, d *Deployment, n *Node) {
	t.Helper()
	assert.Contains(t, d.Replicas, n, "new master is one of the replicas")
	role, err := n.Role(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "master", role)
}

func TestFaultKillMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := StartSentinelT(t, SentinelConfig{})
	old := d.Master

	killed := time.Now()
	require.NoError(t, old.Kill(ctx))
	assert.Equal(t, Killed, old.State())
	nm, err := d.WaitForNewMaster(ctx, old.Addr(), 30*time.Second)
	require.NoError(t, err)
	t.Logf("master killed -> all sentinels agree on %s in %v", nm.Name, time.Since(killed).Round(time.Millisecond))
	assertPromotedReplica(t, d, nm)

	// The old master comes back empty, as a master; the sentinels must turn
	// it into a replica of the new one.
	require.NoError(t, old.Start(ctx))
	require.NoError(t, d.WaitSettled(ctx, nm))
	role, err := old.Role(ctx)
	require.NoError(t, err)
	assert.Equal(t, "slave", role)
}

func TestFaultPauseMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := StartSentinelT(t, SentinelConfig{Password: "datapw", SentinelPassword: "sentpw"})
	old := d.Master

	paused := time.Now()
	require.NoError(t, old.Pause(ctx))
	// A hung server accepts nothing: a command to it times out.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := old.Do(cctx, "PING")
	cancel()
	require.Error(t, err, "a paused server does not answer")

	nm, err := d.WaitForNewMaster(ctx, old.Addr(), 30*time.Second)
	require.NoError(t, err)
	t.Logf("master paused -> all sentinels agree on %s in %v", nm.Name, time.Since(paused).Round(time.Millisecond))
	assertPromotedReplica(t, d, nm)

	require.NoError(t, old.Unpause(ctx))
	require.NoError(t, d.WaitSettled(ctx, nm))
	role, err := old.Role(ctx)
	require.NoError(t, err)
	assert.Equal(t, "slave", role, "the unpaused old master is demoted")
}

func TestFaultSentinels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := StartSentinelT(t, SentinelConfig{})
	cut := d.Sentinels[2]
	watchers := d.Sentinels[:2]

	// peerFlags waits until every watcher reports cut's flags satisfying ok.
	peerFlags := func(ok func(flags string) bool) error {
		return poll(ctx, 20*time.Second, func(ctx context.Context) error {
			for _, w := range watchers {
				view, err := d.SentinelView(ctx, w)
				if err != nil {
					return err
				}
				p, found := view[cut.Addr()]
				if !found || !ok(p["flags"]) {
					return fmt.Errorf("%w: %s sees %s with flags %q", errNotReady, w.Name, cut.Name, p["flags"])
				}
			}
			return nil
		})
	}

	t.Run("disconnected sentinel drops out", func(t *testing.T) {
		require.NoError(t, cut.Disconnect(ctx))
		require.NoError(t, peerFlags(func(f string) bool { return strings.Contains(f, "s_down") }))
		require.NoError(t, cut.Reconnect(ctx))
		require.NoError(t, peerFlags(func(f string) bool { return f == "sentinel" }))
		// Same address after the reconnect, and it answers again.
		v, err := cut.Do(ctx, "PING")
		require.NoError(t, err)
		assert.Equal(t, "PONG", v)
	})

	t.Run("killed sentinel, then manual failover", func(t *testing.T) {
		require.NoError(t, cut.Kill(ctx))
		require.NoError(t, peerFlags(func(f string) bool { return strings.Contains(f, "s_down") }))

		old, err := d.CurrentMaster(ctx)
		require.NoError(t, err)
		started := time.Now()
		require.NoError(t, d.Failover(ctx))
		nm, err := d.WaitForNewMaster(ctx, old.Addr(), 30*time.Second)
		require.NoError(t, err)
		t.Logf("SENTINEL FAILOVER -> running sentinels agree on %s in %v", nm.Name, time.Since(started).Round(time.Millisecond))
		assert.NotEqual(t, old, nm)

		// The killed sentinel restarts with its rewritten config and
		// learns the new master from its peers.
		require.NoError(t, cut.Start(ctx))
		require.NoError(t, d.WaitSettled(ctx, nm))
	})

	t.Run("restarted replica rejoins", func(t *testing.T) {
		m, err := d.CurrentMaster(ctx)
		require.NoError(t, err)
		var replica *Node
		for _, n := range d.DataNodes() {
			if n != m {
				replica = n
				break
			}
		}
		require.NoError(t, replica.Restart(ctx))
		require.NoError(t, d.WaitSettled(ctx, m))
	})
}

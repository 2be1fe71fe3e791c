package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// The cluster followers benchmark (-cluster-followers): replica reads and
// a sharded subscriber on master 0's slots through its loss, each client
// on its defaults with its replica reads turned on.

var clusterFollowerSettings = map[string]string{
	"asyncredis": "cluster.Config{Seeds, Reads: core.ReadReplicaPreferred}; SPUBLISH through the client, a PubSub with SSubscribe",
	"rueidis":    "ClientOption{InitAddress: seeds, DisableCache: true, SendToReplicas: cmd.IsReadOnly()}; SPUBLISH through it; the subscriber calls Receive(SSUBSCRIBE) again after it returns (10 ms later after an error)",
	"go-redis":   "NewClusterClient(&ClusterOptions{Addrs: seeds, ReadOnly: true}); SPublish; SSubscribe (it reconnects by itself)",
}

// clusterFollowerClient makes client which of the three against seeds.
func clusterFollowerClient(seeds []string, which int) (*follower, error) {
	switch which {
	case 0:
		c, err := cluster.New(context.Background(), cluster.Config{Seeds: seeds, Reads: core.ReadReplicaPreferred})
		if err != nil {
			return nil, err
		}
		cl := c.Client()
		return &follower{name: "asyncredis",
			read: func(ctx context.Context, k string) error { return ignoreNil(cl.Get(ctx, k).Err()) },
			publish: func(ctx context.Context, ch, msg string) (int64, error) {
				return async.Cmd(ctx, cl, async.ToInt64, "SPUBLISH", ch, msg).Result()
			},
			subscribe: asyncredisSubscriber(cl, true),
			close:     func() { c.Close() }}, nil
	case 1:
		ru, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: seeds, DisableCache: true,
			SendToReplicas: func(cmd rueidis.Completed) bool { return cmd.IsReadOnly() }})
		if err != nil {
			return nil, err
		}
		return &follower{name: "rueidis",
			read: func(ctx context.Context, k string) error {
				return ignoreNil(ru.Do(ctx, ru.B().Get().Key(k).Build()).Error())
			},
			publish: func(ctx context.Context, ch, msg string) (int64, error) {
				return ru.Do(ctx, ru.B().Spublish().Channel(ch).Message(msg).Build()).AsInt64()
			},
			subscribe: rueidisSubscriber(ru, func(ch string) rueidis.Completed { return ru.B().Ssubscribe().Channel(ch).Build() }),
			close:     ru.Close}, nil
	default:
		gr := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: seeds, ReadOnly: true})
		return &follower{name: "go-redis",
			read:    func(ctx context.Context, k string) error { return ignoreNil(gr.Get(ctx, k).Err()) },
			publish: func(ctx context.Context, ch, msg string) (int64, error) { return gr.SPublish(ctx, ch, msg).Result() },
			subscribe: func(ctx context.Context, ch string, got func(string)) {
				goRedisReceive(ctx, gr.SSubscribe(ctx, ch), got)
			},
			close: func() { gr.Close() }}, nil
	}
}

// clusterFollowersOnce runs the followers measurement through one client
// on a fresh cluster; the keys and the channel are in master 0's slots.
func clusterFollowersOnce(ctx context.Context, which int, scenario string) (followerResult, error) {
	rc, err := integration.StartCluster(ctx, integration.ClusterConfig{NodeTimeout: 2 * time.Second})
	if err != nil {
		return followerResult{}, err
	}
	defer rc.Close(ctx)
	// StartCluster returns once every node reports every other one
	// online: the replica is in sync and seen so before the client starts.
	victim, heir := rc.Masters[0], rc.Replicas[0]
	slots, err := rc.SlotsOf(ctx, victim)
	if err != nil {
		return followerResult{}, err
	}
	var keys []string
	for i := 0; len(keys) < 17; i++ {
		if k := "fr:" + strconv.Itoa(i); slices.Contains(slots, int(cluster.Slot(k))) {
			keys = append(keys, k)
		}
	}
	c, err := clusterFollowerClient(rc.Seeds(), which)
	if err != nil {
		return followerResult{}, err
	}
	defer c.close()
	fault := func() error {
		var err error
		switch scenario {
		case "kill":
			_, err = victim.Crash(ctx)
		default:
			err = rc.Failover(ctx, heir, "")
		}
		if err == nil {
			_, err = rc.WaitPromoted(ctx, heir)
		}
		return err
	}
	r, err := measureFollowers(ctx, c, keys[:16], keys[16], fault)
	r.scenario = scenario
	return r, err
}

// runClusterFollowers runs the cluster followers benchmark and writes the
// report to out.
func runClusterFollowers(runs int, out string) error {
	scenarios := []string{"kill", "failover"}
	results, err := followerRounds(runs, scenarios, func(which int, scenario string) (followerResult, error) {
		return clusterFollowersOnce(context.Background(), which, scenario)
	})
	if err != nil {
		return err
	}
	head := fmt.Sprintf("# Replica reads and sharded subscribers through a cluster failover\n\nReproduce: `cd bench && go run . -cluster-followers -cluster-followers-runs %d -cluster-followers-out %s`\n\n", runs, out) +
		"Each row: a fresh cluster in containers (3 masters + 3 replicas, `cluster-node-timeout` 2 s, the servers' defaults otherwise: `cluster-allow-reads-when-down no`, so every node refuses every command with CLUSTERDOWN from the moment a master is marked failed until its replica is promoted), every node reporting every other one online (CLUSTER SHARDS) before the client starts; 16 goroutines reading keys of master 0's slots through the client's replica reads, one publishing every 500 µs with SPUBLISH to a channel of master 0's slots, one sharded subscriber (SSUBSCRIBE) to it. `kill`: master 0's process killed; `failover`: `CLUSTER FAILOVER` on its replica. " + followerColumns
	return writeReport(out, followerReport(head, clusterFollowerSettings, results)+followerSummary(results, scenarios))
}

// followerSummary gives medians and ranges per scenario and client.
func followerSummary(results []followerResult, scenarios []string) string {
	var b strings.Builder
	b.WriteString("\n## Summary (median — the upper of the two middle runs — and range)\n\n| scenario | client | runs | longest read gap | read errors | missed publishes | longest silence |\n| --- | --- | ---: | --- | --- | --- | --- |\n")
	for _, s := range scenarios {
		for _, n := range followerNames {
			var gaps, silences []time.Duration
			var errs, missed []float64
			for _, r := range results {
				if r.scenario == s && r.client == n {
					gaps, silences = append(gaps, r.readGap), append(silences, r.silence)
					errs, missed = append(errs, float64(r.readErrs)), append(missed, float64(r.missed))
				}
			}
			if len(gaps) == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %v (%v–%v) | %.0f (%.0f–%.0f) | %.0f (%.0f–%.0f) | %v (%v–%v) |\n", s, n, len(gaps),
				medianDur(gaps).Round(time.Millisecond), slices.Min(gaps).Round(time.Millisecond), slices.Max(gaps).Round(time.Millisecond),
				mid(errs), slices.Min(errs), slices.Max(errs), mid(missed), slices.Min(missed), slices.Max(missed),
				medianDur(silences).Round(time.Millisecond), slices.Min(silences).Round(time.Millisecond), slices.Max(silences).Round(time.Millisecond))
		}
	}
	return b.String()
}

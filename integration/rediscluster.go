package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ClusterConfig describes a Redis Cluster. The zero value is 3 masters,
// each with one replica, and a node timeout of one second.
type ClusterConfig struct {
	Masters           int           // default 3
	ReplicasPerMaster int           // default 1; negative for none
	NodeTimeout       time.Duration // cluster-node-timeout; default 1s
	// AllowReadsWhenDown sets cluster-allow-reads-when-down: nodes serve
	// reads while the cluster is down (a master failed, not yet replaced)
	// instead of refusing every command with CLUSTERDOWN.
	AllowReadsWhenDown bool
	Image              string // default: Image(ctx)
}

// RedisCluster is a running Redis Cluster: Masters[i] serves the i-th
// third of the slots at start and Replicas[i] replicates it.
type RedisCluster struct {
	Nodes    []*Node
	Masters  []*Node
	Replicas []*Node

	c *cluster
}

// StartCluster starts the nodes on a private network, each announcing
// its own address (cluster-announce-ip) so that the host reaches every
// node at the address the cluster gives, joins them, assigns the slots
// and the replicas, and returns once every node reports the cluster ok.
// Close removes it.
func StartCluster(ctx context.Context, cfg ClusterConfig) (*RedisCluster, error) {
	if cfg.Masters <= 0 {
		cfg.Masters = 3
	}
	if cfg.ReplicasPerMaster == 0 {
		cfg.ReplicasPerMaster = 1
	}
	cfg.ReplicasPerMaster = max(cfg.ReplicasPerMaster, 0)
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = time.Second
	}
	c, err := newCluster(ctx, cfg.Image)
	if err != nil {
		return nil, err
	}
	rc := &RedisCluster{c: c}
	if err := rc.start(ctx, cfg); err != nil {
		return nil, joinClose(ctx, c, err)
	}
	return rc, nil
}

// StartClusterT starts a cluster for a test and removes it when the test
// ends. It skips the test without Docker (fails it when CI=true).
func StartClusterT(tb testing.TB, cfg ClusterConfig) *RedisCluster {
	tb.Helper()
	RequireDocker(tb)
	ctx := context.Background()
	rc, err := StartCluster(ctx, cfg)
	if err != nil {
		tb.Fatalf("start cluster: %v", err)
	}
	tb.Cleanup(func() {
		if err := rc.Close(ctx); err != nil {
			tb.Errorf("%v", err)
		}
	})
	return rc
}

// Close removes the containers and their network. Idempotent.
func (rc *RedisCluster) Close(ctx context.Context) error { return rc.c.close(ctx) }

// Seeds returns every node's address.
func (rc *RedisCluster) Seeds() []string {
	var out []string
	for _, n := range rc.Nodes {
		out = append(out, n.Addr())
	}
	return out
}

func (rc *RedisCluster) start(ctx context.Context, cfg ClusterConfig) error {
	total := cfg.Masters * (1 + cfg.ReplicasPerMaster)
	for i := range total {
		ip, err := rc.c.allocIP()
		if err != nil {
			return err
		}
		// repl-ping-replica-period 1: a new master's replication offset
		// moves only with its pings to its replicas (every 10 s by
		// default), and CLUSTER SHARDS reports a replica "loading" until
		// its offset is above 0, so WaitHealthy waited 8-9 s per cluster.
		conf := dataNodeConfig("") + fmt.Sprintf("cluster-enabled yes\ncluster-config-file nodes.conf\n"+
			"cluster-node-timeout %d\ncluster-announce-ip %s\ncluster-replica-validity-factor 0\n"+
			"cluster-allow-replica-migration no\nrepl-ping-replica-period 1\n", cfg.NodeTimeout.Milliseconds(), ip)
		if cfg.AllowReadsWhenDown {
			conf += "cluster-allow-reads-when-down yes\n"
		}
		name := fmt.Sprintf("node-%d", i)
		n, err := rc.c.start(ctx, nodeSpec{name: name, kind: KindRedis, port: 6379, config: conf, ip: ip})
		if err != nil {
			return err
		}
		rc.Nodes = append(rc.Nodes, n)
		if i < cfg.Masters {
			rc.Masters = append(rc.Masters, n)
		} else {
			rc.Replicas = append(rc.Replicas, n)
		}
	}
	for _, n := range rc.Nodes[1:] {
		if _, err := rc.Nodes[0].Do(ctx, "CLUSTER", "MEET", n.IP, strconv.Itoa(n.Port)); err != nil {
			return err
		}
	}
	for i, m := range rc.Masters {
		from, to := i*16384/cfg.Masters, (i+1)*16384/cfg.Masters-1
		if _, err := m.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(from), strconv.Itoa(to)); err != nil {
			return err
		}
	}
	if err := rc.waitKnown(ctx, total); err != nil {
		return err
	}
	for i, r := range rc.Replicas {
		m := rc.Masters[i%cfg.Masters]
		id, err := rc.ID(ctx, m)
		if err != nil {
			return err
		}
		if _, err := r.Do(ctx, "CLUSTER", "REPLICATE", id); err != nil {
			return err
		}
	}
	return rc.WaitHealthy(ctx)
}

// waitKnown waits until every node knows every other one.
func (rc *RedisCluster) waitKnown(ctx context.Context, total int) error {
	return poll(ctx, 30*time.Second, func(ctx context.Context) error {
		for _, n := range rc.Nodes {
			info, err := rc.Info(ctx, n)
			if err != nil {
				return err
			}
			if info["cluster_known_nodes"] != strconv.Itoa(total) {
				return fmt.Errorf("%w: %s knows %s of %d nodes", errNotReady, n.Name, info["cluster_known_nodes"], total)
			}
		}
		return nil
	})
}

// WaitHealthy waits until every running node reports cluster_state:ok,
// every replica's link to its master is up, and every running node's
// view (CLUSTER NODES) lists every other running node in its role,
// without failure flags, and (CLUSTER SHARDS) reports every running node
// online (a replica counts as loading until the others have heard of its
// replication offset): a client reading the map from any node then sees
// the whole cluster serving.
func (rc *RedisCluster) WaitHealthy(ctx context.Context) error {
	return poll(ctx, 60*time.Second, func(ctx context.Context) error {
		roles := map[string]string{} // by IP
		for _, n := range rc.Nodes {
			if n.State() != Running {
				continue
			}
			info, err := rc.Info(ctx, n)
			if err != nil {
				return err
			}
			if info["cluster_state"] != "ok" {
				return fmt.Errorf("%w: %s: cluster_state %s", errNotReady, n.Name, info["cluster_state"])
			}
			repl, err := n.Info(ctx, "replication")
			if err != nil {
				return err
			}
			if repl["role"] == "slave" && repl["master_link_status"] != "up" {
				return fmt.Errorf("%w: %s: link to master %s", errNotReady, n.Name, repl["master_link_status"])
			}
			roles[n.IP] = repl["role"]
		}
		for _, n := range rc.Nodes {
			if n.State() == Running {
				if err := rc.viewAgrees(ctx, n, roles); err != nil {
					return err
				}
				if err := rc.shardsOnline(ctx, n, roles); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// shardsOnline checks that n's CLUSTER SHARDS reports every running node
// (roles, by IP) online.
func (rc *RedisCluster) shardsOnline(ctx context.Context, n *Node, roles map[string]string) error {
	v, err := n.Do(ctx, "CLUSTER", "SHARDS")
	if err != nil {
		return err
	}
	shards, _ := v.([]any)
	for _, sh := range shards {
		fields, _ := sh.([]any)
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] != "nodes" {
				continue
			}
			nodes, _ := fields[i+1].([]any)
			for _, nd := range nodes {
				kv, _ := nd.([]any)
				info := map[string]any{}
				for j := 0; j+1 < len(kv); j += 2 {
					if k, ok := kv[j].(string); ok {
						info[k] = kv[j+1]
					}
				}
				ip, _ := info["ip"].(string)
				if _, running := roles[ip]; running && info["health"] != "online" {
					return fmt.Errorf("%w: %s sees %s as %v", errNotReady, n.Name, ip, info["health"])
				}
			}
		}
	}
	return nil
}

// viewAgrees checks n's CLUSTER NODES against the roles the running
// nodes report themselves.
func (rc *RedisCluster) viewAgrees(ctx context.Context, n *Node, roles map[string]string) error {
	v, err := n.Do(ctx, "CLUSTER", "NODES")
	if err != nil {
		return err
	}
	text, _ := v.(string)
	flags := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		ip, _, _ := strings.Cut(f[1], ":")
		flags[ip] = f[2] + " " + f[7]
	}
	for ip, role := range roles {
		fl := flags[ip]
		if fl == "" || strings.Contains(fl, "fail") || strings.Contains(fl, "handshake") || !strings.Contains(fl, "connected") {
			return fmt.Errorf("%w: %s sees %s as %q", errNotReady, n.Name, ip, fl)
		}
		if !strings.Contains(fl, role) {
			return fmt.Errorf("%w: %s sees %s as %q, not %s", errNotReady, n.Name, ip, fl, role)
		}
	}
	return nil
}

// Info returns CLUSTER INFO of n.
func (rc *RedisCluster) Info(ctx context.Context, n *Node) (map[string]string, error) {
	v, err := n.Do(ctx, "CLUSTER", "INFO")
	if err != nil {
		return nil, err
	}
	s, _ := v.(string)
	return parseInfo(s), nil
}

// ID returns n's cluster node id.
func (rc *RedisCluster) ID(ctx context.Context, n *Node) (string, error) {
	v, err := n.Do(ctx, "CLUSTER", "MYID")
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

// SlotsOf returns the slots n serves as a master, by its own CLUSTER
// SLOTS.
func (rc *RedisCluster) SlotsOf(ctx context.Context, n *Node) ([]int, error) {
	v, err := n.Do(ctx, "CLUSTER", "SLOTS")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range asList(v) {
		f := asList(e)
		if len(f) < 3 {
			continue
		}
		m := asList(f[2])
		if len(m) < 2 || m[0] != n.IP || m[1] != int64(n.Port) {
			continue
		}
		from, _ := f[0].(int64)
		to, _ := f[1].(int64)
		for s := from; s <= to; s++ {
			out = append(out, int(s))
		}
	}
	return out, nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// Failover runs CLUSTER FAILOVER (mode "", "FORCE" or "TAKEOVER") on a
// replica and waits until it reports itself master. A plain failover
// needs the replica's link to its master up (a node demoted a moment ago
// may still be syncing, or not yet know it was demoted), and Redis drops
// a manual failover that has not completed in 5 s without a word, so
// Failover waits for the link and issues the command again while the
// node is still a replica.
func (rc *RedisCluster) Failover(ctx context.Context, replica *Node, mode string) error {
	args := []string{"CLUSTER", "FAILOVER"}
	if mode != "" {
		args = append(args, mode)
	}
	var issued time.Time
	return poll(ctx, 60*time.Second, func(ctx context.Context) error {
		repl, err := replica.Info(ctx, "replication")
		if err != nil {
			return err
		}
		if repl["role"] == "master" {
			if !issued.IsZero() {
				return nil
			}
			// A master demoted a moment ago may not know it yet.
			return fmt.Errorf("%w: %s is still master: not a replica to fail over to", errNotReady, replica.Name)
		}
		if mode == "" && repl["master_link_status"] != "up" {
			return fmt.Errorf("%w: %s: link to master %s", errNotReady, replica.Name, repl["master_link_status"])
		}
		if time.Since(issued) > 6*time.Second {
			if _, err := replica.Do(ctx, args...); err != nil {
				return err
			}
			issued = time.Now()
		}
		return fmt.Errorf("%w: %s is still %s", errNotReady, replica.Name, repl["role"])
	})
}

// MasterOf returns the node that n replicates, by n's ROLE.
func (rc *RedisCluster) MasterOf(ctx context.Context, n *Node) (*Node, error) {
	v, err := n.Do(ctx, "ROLE")
	if err != nil {
		return nil, err
	}
	f := asList(v)
	if len(f) < 2 || f[0] != "slave" {
		return nil, fmt.Errorf("integration: %s is not a replica", n.Name)
	}
	for _, m := range rc.Nodes {
		if m.IP == f[1] {
			return m, nil
		}
	}
	return nil, fmt.Errorf("integration: %s replicates an unknown node %v", n.Name, f[1])
}

// WaitPromoted polls replica's ROLE every 2 ms until it reports itself
// master (the first node to know of its promotion), and returns when it
// first did.
func (rc *RedisCluster) WaitPromoted(ctx context.Context, replica *Node) (time.Time, error) {
	conn, err := dialRESP(ctx, replica.Addr(), nil, replica.username, replica.password)
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		v, err := conn.do(ctx, "ROLE")
		if err != nil {
			return time.Time{}, err
		}
		if f := asList(v); len(f) > 0 && f[0] == "master" {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return time.Time{}, fmt.Errorf("integration: %s was not promoted within a minute", replica.Name)
}

// WaitHealthyExcept is WaitHealthy for a cluster where gone is known to
// be down or to have rejoined as it may: it waits until every other
// running node reports the cluster ok.
func (rc *RedisCluster) WaitHealthyExcept(ctx context.Context, gone *Node) error {
	return poll(ctx, 60*time.Second, func(ctx context.Context) error {
		for _, n := range rc.Nodes {
			if n == gone || n.State() != Running {
				continue
			}
			info, err := rc.Info(ctx, n)
			if err != nil {
				return err
			}
			if info["cluster_state"] != "ok" {
				return fmt.Errorf("%w: %s: cluster_state %s", errNotReady, n.Name, info["cluster_state"])
			}
		}
		return nil
	})
}

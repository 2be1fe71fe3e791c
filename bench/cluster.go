package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// startLoopbackCluster starts six redis-server processes on 127.0.0.1
// in cluster mode (no persistence), joins them as 3 masters each with a
// replica, waits until every node reports the cluster ok, and returns
// the nodes' addresses, their process ids and how to stop them.
func startLoopbackCluster(ctx context.Context) (addrs []string, pids []int, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, nil, nil, errors.New("no redis-server on PATH for -cluster (apt-get install redis-server)")
	}
	dir, err := os.MkdirTemp("", "bench-cluster-")
	if err != nil {
		return nil, nil, nil, err
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		os.RemoveAll(dir)
	}
	for i := range 6 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port > 55535 { // the cluster bus listens on port+10000
			i--
			continue
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", i)),
			"--cluster-node-timeout", "2000", "--dir", dir)
		if err := cmd.Start(); err != nil {
			stop()
			return nil, nil, nil, err
		}
		cmds = append(cmds, cmd)
		pids = append(pids, cmd.Process.Pid)
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	if err := joinCluster(ctx, addrs); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return addrs, pids, stop, nil
}

// joinCluster makes addrs one cluster: the first three masters with a
// third of the slots each, the others their replicas.
func joinCluster(ctx context.Context, addrs []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	clients := make([]*async.Client, len(addrs))
	for i, a := range addrs {
		var conn *pool.Conn
		for {
			var err error
			if conn, err = pool.Dial(ctx, pool.Config{Addr: a}); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %s did not start: %w", a, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
		defer conn.Close()
		clients[i] = async.NewClient(conn)
	}
	do := func(i int, args ...any) (string, error) {
		v, err := async.Cmd(ctx, clients[i], async.ToValue, args...).Result()
		if err == nil {
			err = v.Err()
		}
		return v.Str, err
	}
	for i := 1; i < len(addrs); i++ {
		host, port, _ := net.SplitHostPort(addrs[i])
		if _, err := do(0, "CLUSTER", "MEET", host, port); err != nil {
			return err
		}
	}
	for i := range 3 {
		if _, err := do(i, "CLUSTER", "ADDSLOTSRANGE", i*16384/3, (i+1)*16384/3-1); err != nil {
			return err
		}
	}
	for i := 3; i < len(addrs); i++ {
		id, err := do(i-3, "CLUSTER", "MYID")
		if err != nil {
			return err
		}
		for { // the replica must know its master first
			if _, err = do(i, "CLUSTER", "REPLICATE", id); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for i := range addrs {
		for {
			info, err := do(i, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:6") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster not ok on %s: %v", addrs[i], err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func newAsyncredisCluster(seeds []string) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, err := cluster.New(ctx, cluster.Config{Seeds: seeds})
	if err != nil {
		return nil, err
	}
	c := asyncredisOps("asyncredis", cc.Client(), func() { cc.Close() })
	c.owner = cc.SlotOwner
	return c, nil
}

func newRueidisCluster(seeds []string) (*client, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: seeds, DisableCache: true})
	if err != nil {
		return nil, err
	}
	// rueidis.MGet is its helper for keys over several slots (one MGET
	// per slot, merged into a map by key).
	return rueidisOps(c, func(ctx context.Context, ks []string) (int, int, error) {
		m, err := rueidis.MGet(c, ctx, ks)
		size := 0
		for _, k := range ks {
			if v, ok := m[k]; ok {
				s, _ := v.ToString()
				size += len(s)
			}
		}
		return len(ks), size, err
	}), nil
}

func newGoRedisCluster(seeds []string) (*client, error) {
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: seeds})
	one := goRedisMGet(c)
	return goRedisOps(c, func(ctx context.Context, ks []string) (int, int, error) {
		if !oneSlot(ks) {
			return goRedisGets(ctx, c, ks)
		}
		return one(ctx, ks)
	}, func() { c.Close() }), nil
}

// goRedisGets is go-redis's way to read keys of several slots (its
// ClusterClient.MGet refuses them with CROSSSLOT): a pipeline of GETs,
// which the ClusterClient sends to each key's node.
func goRedisGets(ctx context.Context, c *goredis.ClusterClient, ks []string) (int, int, error) {
	pipe := c.Pipeline()
	cmds := make([]*goredis.StringCmd, len(ks))
	for i, k := range ks {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != goredis.Nil {
		return 0, 0, err
	}
	size := 0
	for _, cmd := range cmds {
		size += len(cmd.Val())
	}
	return len(ks), size, nil
}

// oneSlot reports whether keys share a hash slot.
func oneSlot(keys []string) bool {
	for _, k := range keys[1:] {
		if cluster.Slot(k) != cluster.Slot(keys[0]) {
			return false
		}
	}
	return true
}

// clusterMain measures the three clients against a local cluster, as
// mainErr does against one server.
func clusterMain(warm, d time.Duration, rounds int, concList, out, only string) error {
	ctx := context.Background()
	seeds, pids, stop, err := startLoopbackCluster(ctx)
	if err != nil {
		return err
	}
	defer stop()
	concs, err := parseConcs(concList)
	if err != nil {
		return err
	}
	settings["asyncredis"] = "cluster.Config{Seeds} defaults: one shared pipelined connection per master, RESP3; MGET over slots split by the client"
	settings["rueidis"] = "ClientOption{InitAddress: seeds, DisableCache: true}: auto-pipelining, one connection per node, RESP3; MGET over slots through rueidis.MGet"
	settings["go-redis"] = "ClusterOptions{Addrs: seeds} defaults: a pool per node, one command per round trip, RESP3; MGET of one slot as ClusterClient.MGet, over slots as a pipeline of GETs (its MGet refuses them with CROSSSLOT)"
	makers := []func([]string) (*client, error){newAsyncredisCluster, newRueidisCluster, newGoRedisCluster}
	clientNames := []string{"asyncredis", "rueidis", "go-redis"}
	workloads := []workload{
		{name: "GET/SET 16 B", prefix: "bench:s:", valSize: 16},
		{name: "GET/SET 1 KiB", prefix: "bench:l:", valSize: 1024},
		{name: "MGET 10 keys, one slot", prefix: "bench:t:", valSize: 16, mget: true, oneSlot: true},
		{name: "MGET 10 keys, 10 slots", prefix: "bench:m:", valSize: 16, mget: true},
	}
	if only != "" {
		workloads = slices.DeleteFunc(workloads, func(w workload) bool { return !strings.Contains(w.name, only) })
		makers, clientNames = makers[:1], clientNames[:1]
	}
	filler, err := newAsyncredisCluster(seeds)
	if err != nil {
		return err
	}
	names := map[string][]string{}
	for _, w := range workloads {
		names[w.name] = keyNames(w.prefix)
		if w.oneSlot {
			for i := range names[w.name] {
				names[w.name][i] = fmt.Sprintf("{%s%d}%d", w.prefix, i/10, i%10)
			}
		}
		val := strings.Repeat("v", w.valSize)
		for _, k := range names[w.name] {
			if err := filler.set(ctx, k, val); err != nil {
				return err
			}
		}
	}
	filler.close()
	var results []result
	for _, w := range workloads {
		for _, n := range concs {
			for round := 0; round < rounds; round++ {
				for i := range makers {
					c, err := makers[(i+round)%len(makers)](seeds)
					if err != nil {
						return err
					}
					r := run(c, w, names[w.name], n, warm, d, pids)
					c.close()
					r.round = round
					fmt.Fprintf(os.Stderr, "%-24s %-10s %5d goroutines  %9.0f ops/s  cpu %5.2fµs/op  p50 %8v  %5.1f allocs/op  errors %d bad %d\n",
						w.name, c.name, n, r.opsPerSec(), float64(r.cpuPerOp)/1e3, r.p50, r.allocsPerOp, r.errors, r.bad)
					results = append(results, r)
				}
			}
		}
	}
	reproduce := fmt.Sprintf("cd bench && go run . -cluster -duration %v -warmup %v -rounds %d -concurrency %s", d, warm, rounds, concList)
	if out != "results/cluster.md" {
		reproduce += " -cluster-out " + out
	}
	if only != "" {
		reproduce += fmt.Sprintf(" -cluster-only %q", only)
	}
	where := "a Redis Cluster of six redis-server processes on 127.0.0.1 (3 masters + 3 replicas, no persistence), started by the benchmark; the servers' CPU is not counted as other processes' load"
	return report(results, clientNames, workloads, concs, d, rounds, where, reproduce, out)
}

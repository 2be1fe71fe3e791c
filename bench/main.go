// Command bench measures asyncredis, rueidis and go-redis side by side, in
// one run, against one redis-server, with the same workloads, alternating
// the clients (A B C A B C ...) so that drift hits all alike.
//
//	cd bench && go run . [-duration 1s] [-rounds 5] [-addr host:port]
//
// Without -addr it starts a redis-server process on 127.0.0.1 (-server
// loopback, the default) or a container through the integration harness
// (-server docker). With -addr and a server on this machine, -server-pid
// keeps the server's CPU out of the "other processes" load check. Results
// go to results/ as markdown and SVG. -oploop runs one client (or several
// in turn) alone for profiles and traces.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/integration"
)

func main() {
	duration := flag.Duration("duration", time.Second, "measured time per client, workload, concurrency and round")
	warm := flag.Duration("warmup", 300*time.Millisecond, "unmeasured warm-up before each measurement, on the same fresh client")
	rounds := flag.Int("rounds", 5, "rounds; the clients alternate within each")
	server := flag.String("server", "loopback", "loopback: a redis-server process started on 127.0.0.1; docker: a container on a bridge network")
	addr := flag.String("addr", "", "an existing redis-server instead (-server is then ignored)")
	conc := flag.String("concurrency", "1,16,256,1024,10000", "goroutine counts")
	out := flag.String("out", "results/results.md", "where the report goes (the chart goes beside it)")
	minSize := flag.Int("minsize", 0, "also measure asyncredis with this many shared connections (pool.Config.MinSize)")
	opLoop := flag.Int("oploop", 0, "instead: run this many operations (-oploop-workload) through one client alone (for instructions.sh and profiles) and exit")
	opLoopWorkload := flag.String("oploop-workload", "getset", "what -oploop does: getset (GET/SET 16 B) or mget (MGET of 10 keys the getset loop filled)")
	serverPID := flag.Int("server-pid", 0, "with -addr: the redis-server's process id, when it runs on this machine: its CPU is then not counted as other processes' load, and -oploop reports it per operation")
	flag.IntVar(serverPID, "oploop-server-pid", 0, "the older name of -server-pid")
	opLoopClient := flag.String("oploop-client", "asyncredis", "the clients -oploop drives, one after another in this process: asyncredis, rueidis or go-redis, comma-separated")
	clusterMode := flag.Bool("cluster", false, "instead: throughput against a local Redis Cluster (3 masters + 3 replicas on loopback) started by the benchmark")
	clusterOut := flag.String("cluster-out", "results/cluster.md", "where the -cluster report goes")
	clusterOnly := flag.String("cluster-only", "", "with -cluster, for profiles: only the workloads whose name contains this (e.g. \"10 slots\") and only asyncredis")
	clusterFaultsMode := flag.Bool("cluster-failover", false, "instead: the cluster fault benchmark (kill, disconnect, CLUSTER FAILOVER, resharding) on clusters in containers")
	clusterFaultRuns := flag.Int("cluster-failover-runs", 1, "runs of each cluster fault per client")
	clusterFaultWhich := flag.String("cluster-failover-scenarios", strings.Join(clusterFaults, ","), "cluster faults to run")
	clusterFaultOut := flag.String("cluster-failover-out", "results/cluster-failover.md", "where the -cluster-failover report goes")
	clusterFaultClients := flag.String("cluster-failover-clients", "asyncredis,rueidis,go-redis", "the clients -cluster-failover runs, comma-separated (a campaign of one client's runs)")
	failover := flag.Bool("failover", false, "run the failover benchmark instead")
	failoverRuns := flag.Int("failover-runs", 1, "runs of the failover benchmark")
	failoverWhich := flag.String("failover-scenarios", "kill,crash,disconnect,failover,register", "failover scenarios to run")
	failoverOut := flag.String("failover-out", "results/failover.md", "where the failover report goes")
	clusterFollowers := flag.Bool("cluster-followers", false, "instead: replica reads and a sharded subscriber through a cluster master kill and CLUSTER FAILOVER, per client")
	clusterFollowersRuns := flag.Int("cluster-followers-runs", 1, "runs of the cluster followers benchmark")
	clusterFollowersOut := flag.String("cluster-followers-out", "results/cluster-followers.md", "where the -cluster-followers report goes")
	followers := flag.Bool("followers", false, "run the replica-read and subscriber failover benchmark instead")
	followersRuns := flag.Int("followers-runs", 1, "runs of the followers benchmark")
	followersOut := flag.String("followers-out", "results/followers.md", "where the followers report goes")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (every client) to this file")
	flag.IntVar(&maxPending, "maxpending", 0, "asyncredis's pool.Config.MaxPending (0: its default); callers beyond it wait for room")
	memProfile := flag.String("memprofile", "", "write an allocation profile of the whole run (every client) to this file at the end")
	traceOut := flag.String("trace", "", "write an execution trace of the whole run to this file (go tool trace)")
	flag.Parse()
	if *traceOut != "" {
		record(*traceOut, trace.Start)
		defer trace.Stop()
	}
	if *memProfile != "" {
		defer writeAllocProfile(*memProfile)
	}
	if *cpuProfile != "" {
		record(*cpuProfile, pprof.StartCPUProfile)
		defer pprof.StopCPUProfile()
	}
	if *opLoop > 0 {
		// One after another in this process, each timed (dial included),
		// with the server's CPU time when it runs on this machine.
		pid := *serverPID
		for _, name := range strings.Split(*opLoopClient, ",") {
			cpu0, io0, srv0, t0 := selfCPU(), writeSyscalls(), processCPU(pid), time.Now()
			if err := runOpLoop(*addr, name, *opLoop, *conc, *opLoopWorkload == "mget"); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
			el, cpu, io, srv := time.Since(t0), selfCPU()-cpu0, writeSyscalls()-io0, processCPU(pid)-srv0
			n := float64(*opLoop)
			fmt.Printf("%-10s %8.0f ops/s  CPU %.2f µs/op  writes %.3f/op", name, n/el.Seconds(), cpu.Seconds()*1e6/n, float64(io)/n)
			if pid != 0 {
				fmt.Printf("  server CPU %.2f µs/op (%.0f %% of a core)", srv.Seconds()*1e6/n, 100*srv.Seconds()/el.Seconds())
			}
			fmt.Println()
		}
		return
	}
	if *clusterFollowers {
		if err := runClusterFollowers(*clusterFollowersRuns, *clusterFollowersOut); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *followers {
		if err := runFollowers(*followersRuns, *followersOut); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *clusterMode {
		if err := clusterMain(*warm, *duration, *rounds, *conc, *clusterOut, *clusterOnly); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *clusterFaultsMode {
		if err := runClusterFaults(*clusterFaultRuns, *clusterFaultWhich, *clusterFaultClients, *clusterFaultOut); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *failover {
		if err := runFailover(*failoverRuns, *failoverWhich, *failoverOut); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := mainErr(*addr, *serverPID, *server, *warm, *duration, *rounds, *conc, *minSize, *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// parseConcs reads a comma-separated list of goroutine counts.
func parseConcs(list string) ([]int, error) {
	var concs []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("-concurrency %q: %w", list, err)
		}
		concs = append(concs, n)
	}
	return concs, nil
}

// record starts writing a profile or trace to path, or exits.
func record(path string, start func(io.Writer) error) {
	f, err := os.Create(path)
	if err == nil {
		err = start(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// writeAllocProfile writes the allocations made since the start, for
// go tool pprof -sample_index=alloc_space.
func writeAllocProfile(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
}

func mainErr(addr string, serverPID int, server string, warm, d time.Duration, rounds int, concList string, minSize int, out string) error {
	ctx := context.Background()
	redisPID := 0
	where := "the redis-server at " + addr + " (given with -addr; without -server-pid its CPU counts as other processes')"
	reproduce := "cd bench && go run . -addr " + addr
	if addr == "" {
		reproduce = "cd bench && go run . -server " + server
	}
	switch {
	case addr != "":
		if serverPID != 0 {
			redisPID = serverPID
			where = fmt.Sprintf("the redis-server at %s (given with -addr), process %d on this machine (-server-pid)", addr, serverPID)
			reproduce += fmt.Sprintf(" -server-pid %d", serverPID)
		}
	case server == "loopback":
		a, pid, stop, err := startLoopbackRedis()
		if err != nil {
			return err
		}
		defer stop()
		addr, redisPID = a, pid
		where = "one redis-server process on 127.0.0.1 (loopback), no persistence"
	case server == "docker":
		r, err := integration.StartRedis(ctx, integration.RedisConfig{})
		if err != nil {
			return err
		}
		defer r.Close(ctx)
		addr = r.Addr()
		where = "one redis-server in a Docker container, reached over a bridge network (its CPU counts as other processes')"
	default:
		return fmt.Errorf("-server %q: want loopback or docker", server)
	}
	concs, err := parseConcs(concList)
	if err != nil {
		return err
	}
	if maxPending > 0 {
		settings["asyncredis"] = fmt.Sprintf("pool.Config{Addr, MaxPending: %d}: one shared pipelined connection, RESP3", maxPending)
	}
	makers := []func(string) (*client, error){newAsyncredis, newRueidis, newGoRedis}
	clientNames := []string{"asyncredis", "rueidis", "go-redis"}
	if minSize > 1 {
		makers = append(makers, func(addr string) (*client, error) { return newAsyncredisSized(addr, minSize) })
		clientNames = append(clientNames, fmt.Sprintf("asyncredis MinSize %d", minSize))
		settings[clientNames[3]] = fmt.Sprintf("pool.Config{Addr, MinSize: %d}: %d shared pipelined connections, commands spread by key slot", minSize, minSize)
	}
	workloads := []workload{
		{name: "GET/SET 16 B", prefix: "bench:s:", valSize: 16},
		{name: "GET/SET 1 KiB", prefix: "bench:l:", valSize: 1024},
		{name: "MGET 10 keys of 16 B", prefix: "bench:m:", valSize: 16, mget: true},
	}
	filler, err := newAsyncredis(addr)
	if err != nil {
		return err
	}
	names := map[string][]string{}
	for _, w := range workloads {
		names[w.name] = keyNames(w.prefix)
		val := strings.Repeat("v", w.valSize)
		for _, k := range names[w.name] { // each workload reads only values of its own size
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
				for i := range makers { // A B C, B C A, C A B, ...: each client goes first as often
					mk := makers[(i+round)%len(makers)]
					c, err := mk(addr) // a fresh client per measurement
					if err != nil {
						return err
					}
					r := run(c, w, names[w.name], n, warm, d, []int{redisPID})
					c.close()
					r.round = round
					flag := ""
					if r.loaded() {
						flag = "  LOADED"
					}
					fmt.Fprintf(os.Stderr, "%-20s %-10s %5d goroutines  %9.0f ops/s  cpu %5.2fµs/op  writes %4.2f/op  p50 %8v  %5.1f allocs/op  others %3.0f%%%s\n",
						w.name, c.name, n, r.opsPerSec(), float64(r.cpuPerOp)/1e3, r.writesPerOp, r.p50, r.allocsPerOp, 100*r.others, flag)
					results = append(results, r)
				}
			}
		}
	}
	reproduce += fmt.Sprintf(" -duration %v -warmup %v -rounds %d -concurrency %s", d, warm, rounds, concList)
	if minSize > 1 {
		reproduce += fmt.Sprintf(" -minsize %d", minSize)
	}
	if maxPending > 0 {
		reproduce += fmt.Sprintf(" -maxpending %d", maxPending)
	}
	if out != "results/results.md" {
		reproduce += " -out " + out
	}
	return report(results, clientNames, workloads, concs, d, rounds, where, reproduce, out)
}

// runOpLoop does n GET/SET operations of 16 B values through the named
// client with conc goroutines (one goroutine count only), checking every reply,
// so that an outside counter (perf stat) can divide by n.
// runOpLoop makes n operations through one client with conc goroutines:
// GET/SET of 16 B values, or with mget MGETs of 10 such keys (filled by
// a GET/SET loop before).
func runOpLoop(addr, name string, n int, concList string, mget bool) error {
	conc, err := strconv.Atoi(concList)
	if err != nil {
		return fmt.Errorf("-oploop takes one -concurrency value: %w", err)
	}
	mk := map[string]func(string) (*client, error){"asyncredis": newAsyncredis, "rueidis": newRueidis, "go-redis": newGoRedis}[name]
	if mk == nil {
		return fmt.Errorf("-oploop-client %q: want asyncredis, rueidis or go-redis", name)
	}
	c, err := mk(addr)
	if err != nil {
		return err
	}
	defer c.close()
	ctx := context.Background()
	val := strings.Repeat("v", 16)
	names := keyNames("bench:loop:")
	var left atomic.Int64
	left.Store(int64(n))
	var bad atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			mkeys := make([]string, 10)
			for i := 0; left.Add(-1) >= 0; i++ {
				k := names[rng.IntN(keys)]
				if mget {
					for j := range mkeys {
						mkeys[j] = names[rng.IntN(keys)]
					}
					if m, size, err := c.mget(ctx, mkeys); err != nil || m != len(mkeys) || size%16 != 0 { // 16 B values or missing ones
						bad.Add(1)
					}
					continue
				}
				if i%2 == 0 {
					if c.set(ctx, k, val) != nil {
						bad.Add(1)
					}
				} else if v, err := c.get(ctx, k); err != nil || (v != "" && len(v) != 16) {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() > 0 {
		return fmt.Errorf("%d failed or wrong replies", bad.Load())
	}
	return nil
}

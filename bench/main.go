// Command bench measures asyncredis, rueidis and go-redis side by side, in
// one run, against one redis-server, with the same workloads, alternating
// the clients (A B C A B C ...) so that drift hits all alike.
//
//	cd bench && go run . [-duration 2s] [-rounds 3] [-addr host:port]
//
// Without -addr it starts a Redis container through the integration
// harness. Results go to results/ as markdown and SVG.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// client is one library under test, reduced to the workload's operations.
type client struct {
	name  string
	get   func(ctx context.Context, key string) error
	set   func(ctx context.Context, key, val string) error
	read  func(ctx context.Context, key string) (string, error) // the value, for the register check
	mget  func(ctx context.Context, keys []string) error
	close func()
}

func newAsyncredis(addr string) (*client, error) {
	p, err := pool.New(pool.Config{Addr: addr})
	if err != nil {
		return nil, err
	}
	c := async.NewClient(p)
	return &client{
		name: "asyncredis",
		get: func(ctx context.Context, k string) error {
			_, err := c.Get(ctx, k).Result()
			if err == async.ErrNil {
				return nil
			}
			return err
		},
		set:   func(ctx context.Context, k, v string) error { return c.Set(ctx, k, v).Err() },
		mget:  func(ctx context.Context, ks []string) error { return c.MGet(ctx, ks...).Err() },
		close: func() { p.Close() },
	}, nil
}

func newRueidis(addr string) (*client, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		return nil, err
	}
	return &client{
		name: "rueidis",
		get: func(ctx context.Context, k string) error {
			err := c.Do(ctx, c.B().Get().Key(k).Build()).Error()
			if rueidis.IsRedisNil(err) {
				return nil
			}
			return err
		},
		set: func(ctx context.Context, k, v string) error {
			return c.Do(ctx, c.B().Set().Key(k).Value(v).Build()).Error()
		},
		mget: func(ctx context.Context, ks []string) error {
			return c.Do(ctx, c.B().Mget().Key(ks...).Build()).Error()
		},
		close: c.Close,
	}, nil
}

func newGoRedis(addr string) (*client, error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	return &client{
		name: "go-redis",
		get: func(ctx context.Context, k string) error {
			err := c.Get(ctx, k).Err()
			if err == goredis.Nil {
				return nil
			}
			return err
		},
		set:   func(ctx context.Context, k, v string) error { return c.Set(ctx, k, v, 0).Err() },
		mget:  func(ctx context.Context, ks []string) error { return c.MGet(ctx, ks...).Err() },
		close: func() { c.Close() },
	}, nil
}

// workload is one kind of traffic.
type workload struct {
	name    string
	valSize int
	mget    bool // MGET of 10 keys instead of GET/SET
}

type result struct {
	client      string
	workload    string
	concurrency int
	ops         int64
	elapsed     time.Duration
	p50, p99    time.Duration
	allocsPerOp float64
	bytesPerOp  float64
	errors      int64
}

func (r result) opsPerSec() float64 { return float64(r.ops) / r.elapsed.Seconds() }

const keys = 10000

// keyNames are built once, so that the benchmark loop itself allocates
// nothing and allocs/op is the client's own.
var keyNames = func() []string {
	k := make([]string, keys)
	for i := range k {
		k[i] = "bench:" + strconv.Itoa(i)
	}
	return k
}()

func keyName(i int) string { return keyNames[i] }

// run drives c with conc goroutines for d and measures it.
func run(c *client, w workload, conc int, d time.Duration) result {
	ctx := context.Background()
	val := strings.Repeat("v", w.valSize)
	var ops, errs atomic.Int64
	lat := make([][]time.Duration, conc)
	for g := range lat { // before measuring: these are the benchmark's, not the client's
		lat[g] = make([]time.Duration, 0, max(512, 400000/conc))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			mine := lat[g]
			mkeys := make([]string, 10)
			for i := 0; ; i++ {
				if i%64 == 0 {
					select {
					case <-stop:
						lat[g] = mine
						return
					default:
					}
				}
				t0 := time.Now()
				var err error
				switch {
				case w.mget:
					for j := range mkeys {
						mkeys[j] = keyName(rng.IntN(keys))
					}
					err = c.mget(ctx, mkeys)
				case i%2 == 0:
					err = c.set(ctx, keyName(rng.IntN(keys)), val)
				default:
					err = c.get(ctx, keyName(rng.IntN(keys)))
				}
				if err != nil {
					errs.Add(1)
				}
				ops.Add(1)
				if i%8 == 0 && len(mine) < cap(mine) { // sampled, into preallocated memory
					mine = append(mine, time.Since(t0))
				}
			}
		}()
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(float64(len(all)-1)*p)]
	}
	n := ops.Load()
	return result{
		client: c.name, workload: w.name, concurrency: conc, ops: n, elapsed: elapsed,
		p50: pct(0.50), p99: pct(0.99), errors: errs.Load(),
		allocsPerOp: float64(after.Mallocs-before.Mallocs) / float64(max(n, 1)),
		bytesPerOp:  float64(after.TotalAlloc-before.TotalAlloc) / float64(max(n, 1)),
	}
}

func main() {
	duration := flag.Duration("duration", 2*time.Second, "measuring time per client, workload, concurrency and round")
	rounds := flag.Int("rounds", 3, "rounds; the clients alternate within each")
	addr := flag.String("addr", "", "redis-server address (default: start one in Docker)")
	conc := flag.String("concurrency", "1,16,256,1024", "goroutine counts")
	failover := flag.Bool("failover", false, "run the failover benchmark instead")
	failoverRuns := flag.Int("failover-runs", 1, "runs of the failover benchmark")
	flag.Parse()
	if *failover {
		if err := runFailover(*failoverRuns); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := mainErr(*addr, *duration, *rounds, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr(addr string, d time.Duration, rounds int, concList string) error {
	ctx := context.Background()
	if addr == "" {
		r, err := integration.StartRedis(ctx, integration.RedisConfig{})
		if err != nil {
			return err
		}
		defer r.Close(ctx)
		addr = r.Addr()
	}
	var concs []int
	for _, s := range strings.Split(concList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		concs = append(concs, n)
	}
	makers := []func(string) (*client, error){newAsyncredis, newRueidis, newGoRedis}
	var clients []*client
	for _, mk := range makers {
		c, err := mk(addr)
		if err != nil {
			return err
		}
		defer c.close()
		clients = append(clients, c)
	}
	// Fill the keyspace so GETs hit.
	for i := 0; i < keys; i++ {
		if err := clients[0].set(ctx, keyName(i), strings.Repeat("v", 16)); err != nil {
			return err
		}
	}
	workloads := []workload{{name: "GET/SET 16 B", valSize: 16}, {name: "GET/SET 1 KiB", valSize: 1024}, {name: "MGET 10 keys", valSize: 16, mget: true}}
	var results []result
	for _, w := range workloads {
		for _, n := range concs {
			for round := 0; round < rounds; round++ {
				for _, c := range clients { // A B C A B C ...
					r := run(c, w, n, d)
					fmt.Fprintf(os.Stderr, "%-14s %-10s %5d goroutines  %9.0f ops/s  p50 %8v  p99 %8v  %5.1f allocs/op\n",
						w.name, c.name, n, r.opsPerSec(), r.p50, r.p99, r.allocsPerOp)
					results = append(results, r)
				}
			}
		}
	}
	server := "one redis-server (Debian's, in a Docker container on a bridge network)"
	if addr != "" {
		server = "the redis-server at " + addr + " (given with -addr)"
	}
	return report(results, clients, workloads, concs, d, rounds, server)
}

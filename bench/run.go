package main

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// workload is one kind of traffic, on its own keyspace.
type workload struct {
	name    string
	prefix  string // its keys are prefix + 0..keys-1, each holding valSize bytes
	valSize int
	mget    bool // MGET of 10 keys instead of GET/SET
	oneSlot bool // with mget: 10 keys of one {hash tag} (keyNames groups them by ten)
}

type result struct {
	client      string
	workload    string
	concurrency int
	round       int
	ops         int64
	elapsed     time.Duration
	p50, p99    time.Duration
	allocsPerOp float64
	bytesPerOp  float64
	cpuPerOp    time.Duration // the benchmark process's CPU time (user+system) per operation
	serverPerOp time.Duration // the redis-server processes' CPU time per operation (0: not known)
	writesPerOp float64       // write system calls per operation (/proc/self/io syscw)
	others      float64       // CPU share of other processes (not this one, not redis-server), 0..1 of the machine
	errors      int64         // failed commands
	bad         int64         // replies that were not what was stored
}

func (r result) opsPerSec() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// loadedShare is the share of the machine other processes may use
// during a round before the round is flagged and left out of medians.
const loadedShare = 0.15

func (r result) loaded() bool { return r.others > loadedShare }

const keys = 10000

// keyNames are built once per workload, so that the benchmark loop itself
// allocates nothing and allocs/op is the client's own.
func keyNames(prefix string) []string {
	k := make([]string, keys)
	for i := range k {
		k[i] = prefix + strconv.Itoa(i)
	}
	return k
}

// run drives c with conc goroutines: warm-up for warm (not measured),
// then d measured.
func run(c *client, w workload, names []string, conc int, warm, d time.Duration, servers []int) result {
	ctx := context.Background()
	val := strings.Repeat("v", w.valSize)
	type counters struct {
		ops, errs, bad int64
		_              [40]byte // one cache line each
	}
	cnt := make([]counters, conc)
	lat := make([][]time.Duration, conc)
	for g := range lat { // before measuring: these are the benchmark's, not the client's
		lat[g] = make([]time.Duration, 0, max(512, 400000/conc))
	}
	// phase is read by every goroutine after every operation: an
	// operation counts when it completes inside the measured window, and
	// the window is exactly d long. (Looking only every few operations
	// would, at 10 000 goroutines and ~50 operations per goroutine per
	// second, start counting late and stop late by up to a second.)
	const (
		warming = iota
		measuring
		stopped
	)
	var phase atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			mine := lat[g][:0]
			my := &cnt[g]
			mkeys := make([]string, 10)
			for i := 0; ; i++ {
				t0 := time.Now()
				var err error
				bad := false
				switch {
				case w.mget && w.oneSlot:
					g := rng.IntN(keys / 10)
					copy(mkeys, names[g*10:g*10+10])
					var n, size int
					n, size, err = c.mget(ctx, mkeys)
					bad = err == nil && (n != len(mkeys) || size != len(mkeys)*w.valSize)
				case w.mget:
					for j := range mkeys {
						mkeys[j] = names[rng.IntN(keys)]
					}
					var n, size int
					n, size, err = c.mget(ctx, mkeys)
					bad = err == nil && (n != len(mkeys) || size != len(mkeys)*w.valSize)
				case i%2 == 0:
					err = c.set(ctx, names[rng.IntN(keys)], val)
				default:
					var v string
					v, err = c.get(ctx, names[rng.IntN(keys)])
					bad = err == nil && len(v) != w.valSize
				}
				switch phase.Load() {
				case warming:
					continue
				case stopped:
					lat[g] = mine
					return
				}
				if bad {
					my.bad++
				}
				if err != nil {
					my.errs++
				}
				if my.ops%8 == 0 && len(mine) < cap(mine) { // every 8th measured, into preallocated memory
					mine = append(mine, time.Since(t0))
				}
				my.ops++
			}
		}()
	}
	time.Sleep(warm) // connections dialled, pools filled, caches warm
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, io0, mach0, redis0 := selfCPU(), writeSyscalls(), machineBusy(), serversCPU(servers)
	start := time.Now()
	phase.Store(measuring)
	time.Sleep(d)
	phase.Store(stopped)
	elapsed := time.Since(start)
	cpu1, io1, mach1, redis1 := selfCPU(), writeSyscalls(), machineBusy(), serversCPU(servers)
	runtime.ReadMemStats(&after)
	wg.Wait() // the operations under way when the window closed are not counted
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
	var n, errs, bad int64
	for i := range cnt {
		n, errs, bad = n+cnt[i].ops, errs+cnt[i].errs, bad+cnt[i].bad
	}
	ops := float64(max(n, 1))
	self, redis := cpu1-cpu0, redis1-redis0
	others := (mach1 - mach0 - self - redis).Seconds() / (elapsed.Seconds() * float64(runtime.NumCPU()))
	return result{
		client: c.name, workload: w.name, concurrency: conc, ops: n, elapsed: elapsed,
		p50: pct(0.50), p99: pct(0.99), errors: errs, bad: bad,
		allocsPerOp: float64(after.Mallocs-before.Mallocs) / ops,
		bytesPerOp:  float64(after.TotalAlloc-before.TotalAlloc) / ops,
		cpuPerOp:    time.Duration(float64(self) / ops),
		serverPerOp: time.Duration(float64(redis) / ops),
		writesPerOp: float64(io1-io0) / ops,
		others:      max(others, 0),
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
)

// The cluster fault benchmark (-cluster-failover): each run starts a
// fresh Redis Cluster in containers (3 masters + 3 replicas), runs 64
// writers through one client, each doing SET then GET of a key of its
// own per operation (keys spread over every slot), injects one fault and
// measures what the writers saw.

// clusterFaults are the faults, in the order they run.
var clusterFaults = []string{"kill", "disconnect", "failover", "reshard"}

const (
	clusterOpDeadline = 5 * time.Second  // each SET and each GET
	clusterRecovery   = 15 * time.Second // how long a client may take to write to the lost slots again
	clusterWriters    = 64
)

var clusterFaultSettings = map[string]string{
	"asyncredis": "cluster.Config{Seeds} defaults (RefreshInterval 5 s; pool.Config defaults: DialTimeout 5 s, ReadTimeout 10 s, health check every 1 s)",
	"rueidis":    "ClientOption{InitAddress: seeds, DisableCache: true} defaults (Dialer.Timeout 5 s, Dialer.KeepAlive 1 s, ConnWriteTimeout 10 s)",
	"go-redis":   "NewClusterClient(&ClusterOptions{Addrs: seeds}) defaults (DialTimeout 5 s, ReadTimeout 3 s, MaxRedirects 3, MaxRetries 3)",
}

// clusterOp is one writer's SET and GET of one key.
type clusterOp struct {
	slot       uint16
	key        string
	start, end time.Time // of the SET
	setErr     error
	getErr     error
	wrong      bool // the GET after an acknowledged SET returned another value
	hung       bool // a call returned more than a second after its deadline
}

type clusterFaultResult struct {
	client, scenario string
	ops              int
	faultToVisible   time.Duration // the fault to the promotion visible (reshard: its duration)
	mapAfter         time.Duration // asyncredis: promotion visible to the client's map naming the heir for a lost slot (negative: before; -1ns: never)
	firstAck         time.Duration // promotion visible to the first acknowledged SET on the lost slots; -1: none
	longestGap       time.Duration // between acknowledged SETs on the lost slots
	errsLost         map[string]int
	errsHealthy      map[string]int
	hung, wrong      int
	lostAfter        int // acknowledged, started after the promotion was visible, missing at the end
	lostAll          int
}

// errKind names the kind of a caller's error, for the report.
func errKind(err error) string {
	s := err.Error()
	switch {
	case errors.Is(err, core.ErrInFlight):
		return "in flight"
	case strings.Contains(s, "MOVED") || strings.Contains(s, "ASK "):
		return "MOVED/ASK"
	case strings.Contains(s, "CLUSTERDOWN"):
		return "CLUSTERDOWN"
	case strings.Contains(s, "TRYAGAIN"):
		return "TRYAGAIN"
	case strings.Contains(s, "refused"):
		return "refused"
	case strings.Contains(s, "reset") || strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe") || strings.Contains(s, "closed"):
		return "reset/closed"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(s, "timeout") || strings.Contains(s, "deadline"):
		return "timeout"
	}
	return "other"
}

// clusterLoad is the writers of one run.
type clusterLoad struct {
	c      *client
	victim map[uint16]bool // the slots the fault takes away
	// victimAck is the latest start (Unix ns) of an acknowledged SET on
	// the victim's slots.
	victimAck atomic.Int64
	stop      chan struct{}
	wg        sync.WaitGroup
	acks      atomic.Int64
	mu        sync.Mutex
	ops       []clusterOp
}

func startClusterLoad(c *client, victim map[uint16]bool) *clusterLoad {
	l := &clusterLoad{c: c, victim: victim, stop: make(chan struct{})}
	for g := range clusterWriters {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var mine []clusterOp
			defer func() {
				l.mu.Lock()
				l.ops = append(l.ops, mine...)
				l.mu.Unlock()
			}()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				mine = append(mine, l.one(fmt.Sprintf("cf:%d:%d", g, i), fmt.Sprint(g, ":", i)))
			}
		}()
	}
	return l
}

// one SETs key to val and reads it back.
func (l *clusterLoad) one(key, val string) clusterOp {
	op := clusterOp{key: key, slot: cluster.Slot(key), start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), clusterOpDeadline)
	op.setErr = l.c.set(ctx, key, val)
	cancel()
	op.end = time.Now()
	op.hung = op.end.Sub(op.start) > clusterOpDeadline+time.Second
	if op.setErr != nil {
		return op
	}
	l.acks.Add(1)
	if l.victim[op.slot] {
		for {
			old := l.victimAck.Load()
			if op.start.UnixNano() <= old || l.victimAck.CompareAndSwap(old, op.start.UnixNano()) {
				break
			}
		}
	}
	ctx, cancel = context.WithTimeout(context.Background(), clusterOpDeadline)
	start := time.Now()
	v, err := l.c.get(ctx, key)
	cancel()
	op.hung = op.hung || time.Since(start) > clusterOpDeadline+time.Second
	op.getErr = err
	op.wrong = err == nil && v != val
	return op
}

// waitAcks waits for n more acknowledged SETs, at most limit.
func (l *clusterLoad) waitAcks(n int64, limit time.Duration) {
	target := l.acks.Load() + n
	deadline := time.Now().Add(limit)
	for l.acks.Load() < target && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// waitVictimAck waits until a SET on the victim's slots that started
// after since is acknowledged, at most limit.
func (l *clusterLoad) waitVictimAck(since time.Time, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for l.victimAck.Load() <= since.UnixNano() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func (l *clusterLoad) finish() []clusterOp {
	close(l.stop)
	l.wg.Wait()
	return l.ops
}

// clusterFaultOnce runs one client through one fault on a fresh cluster.
func clusterFaultOnce(ctx context.Context, which int, scenario string) (clusterFaultResult, error) {
	rc, err := integration.StartCluster(ctx, integration.ClusterConfig{NodeTimeout: 2 * time.Second})
	if err != nil {
		return clusterFaultResult{}, err
	}
	defer rc.Close(ctx)
	makers := []func([]string) (*client, error){newAsyncredisCluster, newRueidisCluster, newGoRedisCluster}
	c, err := makers[which](rc.Seeds())
	if err != nil {
		return clusterFaultResult{}, err
	}
	defer c.close()
	victim := rc.Masters[0]
	slots, err := rc.SlotsOf(ctx, victim)
	if err != nil {
		return clusterFaultResult{}, err
	}
	lostSlots := map[uint16]bool{}
	for _, s := range slots {
		lostSlots[uint16(s)] = true
	}
	l := startClusterLoad(c, lostSlots)
	l.waitAcks(2000, 20*time.Second)
	named := traceOwner(c, uint16(slots[0]), rc.Replicas[0].Addr())
	fault, visible, err := injectClusterFault(ctx, rc, scenario, slots)
	if err != nil {
		l.finish()
		named()
		return clusterFaultResult{}, fmt.Errorf("%s: %w", scenario, err)
	}
	l.waitVictimAck(visible, clusterRecovery)
	l.waitAcks(2000, 5*time.Second)
	ops := l.finish()
	r := summarizeFault(ops, lostSlots, visible)
	r.client, r.scenario, r.faultToVisible = c.name, scenario, visible.Sub(fault)
	r.mapAfter = -1
	if at := named(); !at.IsZero() {
		r.mapAfter = at.Sub(visible)
	}
	if scenario == "kill" || scenario == "disconnect" {
		err = rc.WaitHealthyExcept(ctx, victim)
	} else {
		err = rc.WaitHealthy(ctx)
	}
	if err != nil {
		return r, err
	}
	r.lostAfter, r.lostAll, err = countLost(ctx, rc.Seeds(), ops, visible)
	return r, err
}

// traceOwner polls, every millisecond, the master c's map names for slot
// (asyncredis only) until it is heir; the function it returns stops the
// polling and returns when that was (zero: never, or not traced).
func traceOwner(c *client, slot uint16, heir string) func() time.Time {
	if c.owner == nil {
		return func() time.Time { return time.Time{} }
	}
	stop, done := make(chan struct{}), make(chan time.Time, 1)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if c.owner(slot) == heir {
				done <- time.Now()
				return
			}
			select {
			case <-stop:
				done <- time.Time{}
				return
			case <-tick.C:
			}
		}
	}()
	return func() time.Time {
		close(stop)
		return <-done
	}
}

// injectClusterFault takes master 0's slots away and returns when the
// fault was made and when its end became visible: the replica's own ROLE
// saying master (kill, disconnect, failover), or the last slot moved
// (reshard).
func injectClusterFault(ctx context.Context, rc *integration.RedisCluster, scenario string, slots []int) (fault, visible time.Time, err error) {
	victim, heir := rc.Masters[0], rc.Replicas[0]
	fault = time.Now()
	switch scenario {
	case "kill":
		if fault, err = victim.Crash(ctx); err != nil {
			return fault, fault, err
		}
	case "disconnect":
		if err = victim.Disconnect(ctx); err != nil {
			return fault, fault, err
		}
		fault = time.Now()
	case "failover":
		err = rc.Failover(ctx, heir, "")
		return fault, time.Now(), err
	case "reshard":
		for i := 0; i < len(slots); i += 256 {
			if err = rc.MoveSlots(ctx, slots[i:min(i+256, len(slots))], victim, rc.Masters[1]); err != nil {
				return fault, fault, err
			}
		}
		return fault, time.Now(), nil
	default:
		return fault, fault, fmt.Errorf("unknown cluster fault %q", scenario)
	}
	visible, err = rc.WaitPromoted(ctx, heir)
	return fault, visible, err
}

// summarizeFault counts what the writers saw.
func summarizeFault(ops []clusterOp, lostSlots map[uint16]bool, visible time.Time) clusterFaultResult {
	slices.SortFunc(ops, func(a, b clusterOp) int { return a.end.Compare(b.end) })
	r := clusterFaultResult{ops: len(ops), firstAck: -1, errsLost: map[string]int{}, errsHealthy: map[string]int{}}
	var last time.Time
	for _, op := range ops {
		errs := r.errsHealthy
		if lostSlots[op.slot] {
			errs = r.errsLost
		}
		for _, err := range []error{op.setErr, op.getErr} {
			if err != nil {
				errs[errKind(err)]++
			}
		}
		if op.hung {
			r.hung++
		}
		if op.wrong {
			r.wrong++
		}
		if op.setErr != nil || !lostSlots[op.slot] {
			continue
		}
		if r.firstAck < 0 && op.end.After(visible) {
			r.firstAck = op.end.Sub(visible)
		}
		if !last.IsZero() && op.end.Sub(last) > r.longestGap {
			r.longestGap = op.end.Sub(last)
		}
		last = op.end
	}
	// A client that never wrote to the lost slots again: the gap runs to
	// the end of the run.
	if n := len(ops); n > 0 && !last.IsZero() && ops[n-1].end.Sub(last) > r.longestGap {
		r.longestGap = ops[n-1].end.Sub(last)
	}
	return r
}

// countLost checks, through a fresh asyncredis cluster client, which
// acknowledged SETs the cluster no longer has.
func countLost(ctx context.Context, seeds []string, ops []clusterOp, visible time.Time) (after, all int, err error) {
	cc, err := cluster.New(ctx, cluster.Config{Seeds: seeds})
	if err != nil {
		return 0, 0, err
	}
	defer cc.Close()
	var keys []string
	var late []bool
	for _, op := range ops {
		if op.setErr == nil {
			keys = append(keys, op.key)
			late = append(late, op.start.After(visible))
		}
	}
	for i := 0; i < len(keys); i += 500 {
		end := min(i+500, len(keys))
		futs := make([]interface{ Result() (int64, error) }, 0, end-i)
		for _, k := range keys[i:end] {
			futs = append(futs, cc.Client().Exists(ctx, k))
		}
		for j, f := range futs {
			n, err := f.Result()
			if err != nil {
				return after, all, err
			}
			if n == 0 {
				all++
				if late[i+j] {
					after++
				}
			}
		}
	}
	return after, all, nil
}

// runClusterFaults runs each fault runs times for each client, the
// clients in turn (A B C, then B C A, ...), and writes the report to out.
func runClusterFaults(runs int, which, clients, out string) error {
	ctx := context.Background()
	var faults []string
	for _, w := range strings.Split(which, ",") {
		if w = strings.TrimSpace(w); !slices.Contains(clusterFaults, w) {
			return fmt.Errorf("unknown cluster fault %q", w)
		}
		faults = append(faults, w)
	}
	all := []string{"asyncredis", "rueidis", "go-redis"}
	var names []string
	for _, n := range strings.Split(clients, ",") {
		if n = strings.TrimSpace(n); !slices.Contains(all, n) {
			return fmt.Errorf("unknown client %q", n)
		}
		names = append(names, n)
	}
	var results []clusterFaultResult
	for run := range runs {
		for _, f := range faults {
			for i := range names {
				name := names[(i+run)%len(names)]
				r, err := clusterFaultOnce(ctx, slices.Index(all, name), f)
				if err != nil {
					return fmt.Errorf("%s %s: %w", name, f, err)
				}
				fmt.Fprintf(os.Stderr, "%-10s %-10s ops %6d visible %v after fault, map names heir %v after (-1ns: never), first ack %v after (-1ns: none), gap %v, errors lost slots %v healthy %v, hung %d wrong %d lost %d/%d\n",
					f, r.client, r.ops, r.faultToVisible.Round(time.Millisecond), r.mapAfter, r.firstAck, r.longestGap.Round(time.Millisecond),
					r.errsLost, r.errsHealthy, r.hung, r.wrong, r.lostAfter, r.lostAll)
				results = append(results, r)
			}
		}
	}
	return writeReport(out, clusterFaultReport(results, faults, names, runs, which, clients, out))
}

// clusterFaultReport renders the results.
func clusterFaultReport(results []clusterFaultResult, faults, names []string, runs int, which, clients, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Redis Cluster under faults\n\nReproduce: `cd bench && go run . -cluster-failover -cluster-failover-runs %d -cluster-failover-scenarios %s -cluster-failover-clients %s -cluster-failover-out %s`\n\n", runs, which, clients, out)
	fmt.Fprintf(&b, "Each row: a fresh cluster in containers (3 masters + 3 replicas, redis-server from Debian, `cluster-node-timeout` 2 s, each node announcing its container address), %d writers through the client, each doing SET of a key of its own then GET of it (keys over every slot), %v deadlines per call. The fault takes master 0's third of the slots away. "+
		"`kill`: master 0's process dies and its address refuses connections (a process dead on a host that stays up); `disconnect`: its container is cut off the network (packets dropped, nothing closed); `failover`: `CLUSTER FAILOVER` on its replica (the old master alive); `reshard`: all its slots moved to master 1 under load (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE; 256 slots a batch). "+
		"*Visible*: when the replica's own ROLE first says master (polled every 2 ms); for `reshard`, when the last slot moved. *First ack*: from then to the first acknowledged SET on the lost slots (—: none within %v). *Gap*: the longest time between two acknowledged SETs on the lost slots. *Errors*: calls that failed, on the lost slots and on the other masters' slots, by kind summed over the runs. *Hung*: calls that returned more than 1 s after their deadline. *Wrong*: a GET after an acknowledged SET returning another value. *Lost*: acknowledged SETs missing at the end, read back through a fresh asyncredis cluster client; *after*: of those, the SETs started after the promotion was visible (a master killed before its replica received a write loses it whatever the client: that is Redis replication, not the client).\n\n",
		clusterWriters, clusterOpDeadline, clusterRecovery)
	b.WriteString("Client settings:\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "- %s: %s\n", n, clusterFaultSettings[n])
	}
	b.WriteString("\n## Summary (median — the upper of the two middle runs — and range)\n\n")
	b.WriteString("| fault | client | runs | visible after fault | first ack after visible | gap on lost slots | errors, lost slots (median; kinds over all runs) | errors, healthy slots (median; kinds) | hung | wrong | lost after visible (all runs) | lost in all (median, worst) |\n")
	b.WriteString("| --- | --- | ---: | --- | --- | --- | --- | --- | ---: | ---: | ---: | --- |\n")
	for _, f := range faults {
		for _, n := range names {
			var vis, acks, gaps []time.Duration
			var errL, errH, lostAll []float64
			kindsL, kindsH := map[string]int{}, map[string]int{}
			none, hung, wrong, lostAfter, count := 0, 0, 0, 0, 0
			for _, r := range results {
				if r.scenario != f || r.client != n {
					continue
				}
				count++
				vis = append(vis, r.faultToVisible)
				if r.firstAck < 0 {
					none++
				} else {
					acks = append(acks, r.firstAck)
				}
				gaps = append(gaps, r.longestGap)
				errL = append(errL, float64(sumKinds(r.errsLost, kindsL)))
				errH = append(errH, float64(sumKinds(r.errsHealthy, kindsH)))
				lostAll = append(lostAll, float64(r.lostAll))
				hung += r.hung
				wrong += r.wrong
				lostAfter += r.lostAfter
			}
			first := "—"
			if len(acks) > 0 {
				first = fmt.Sprintf("%v (%v–%v)", medianDur(acks).Round(100*time.Microsecond), slices.Min(acks).Round(100*time.Microsecond), slices.Max(acks).Round(100*time.Microsecond))
			}
			if none > 0 {
				first += fmt.Sprintf("; none in %d of %d runs", none, count)
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %v | %s | %v (%v–%v) | %.0f (%s) | %.0f (%s) | %d | %d | %d | %.0f, %.0f |\n", f, n, count,
				medianDur(vis).Round(time.Millisecond), first, medianDur(gaps).Round(time.Millisecond), slices.Min(gaps).Round(time.Millisecond), slices.Max(gaps).Round(time.Millisecond),
				mid(errL), kindList(kindsL), mid(errH), kindList(kindsH), hung, wrong, lostAfter, mid(lostAll), worst(lostAll))
		}
	}
	b.WriteString("\n## Every run\n\n*Map*: asyncredis only, when its slot map first named the heir as the owner of a lost slot, from the promotion visible (polled every millisecond; negative: before).\n\n| fault | client | ops | visible after fault | map | first ack after visible | gap | errors, lost slots | errors, healthy slots | hung | wrong | lost after visible | lost in all |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		first, named := "—", "—"
		if r.firstAck >= 0 {
			first = r.firstAck.Round(100 * time.Microsecond).String()
		}
		if r.mapAfter != -1 {
			named = r.mapAfter.Round(100 * time.Microsecond).String()
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %v | %s | %s | %v | %s | %s | %d | %d | %d | %d |\n", r.scenario, r.client, r.ops, r.faultToVisible.Round(time.Millisecond), named, first,
			r.longestGap.Round(time.Millisecond), kindList(r.errsLost), kindList(r.errsHealthy), r.hung, r.wrong, r.lostAfter, r.lostAll)
	}
	return b.String()
}

// sumKinds adds kinds into into and returns their total.
func sumKinds(kinds, into map[string]int) int {
	n := 0
	for k, v := range kinds {
		into[k] += v
		n += v
	}
	return n
}

// kindList prints error counts by kind, largest first.
func kindList(kinds map[string]int) string {
	if len(kinds) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int { return kinds[b] - kinds[a] })
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = fmt.Sprintf("%s %d", k, kinds[k])
	}
	return strings.Join(parts, ", ")
}

package sentinel

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// SentinelPool owns everything sentinel-related: the sentinel set
// (addresses, connections, queries), event listeners, discovery workers,
// and per service name a state machine and its managed master and replica
// pools. One goroutine, the loop, owns the state machines and is the only
// one that changes the managed pools; listeners and workers report to it
// over channels. Every goroutine belongs to one lifecycle that Close
// ends and waits for.
type SentinelPool struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // ended by Close
	cancel context.CancelFunc
	life   core.Lifecycle // the loop, listeners and workers
	set    *sentinelSet

	calls    chan func()   // run by the loop; written by the API
	events   chan rawEvent // written by listeners; read by the loop
	results  chan func()   // written by workers; run by the loop
	troubles troubleBox    // written by managed pools; read by the loop
	out      chan Event    // written by the loop (never blocking); read by users; closed by Close after the loop returned

	// owned by the loop goroutine (and by Close once the loop has exited)
	services  map[string]*serviceRun
	listening map[string]bool

	closing  sync.Once
	isClosed atomic.Bool
	done     chan struct{} // closed when Close has finished
}

// serviceRun is one service's state machine with what its actions act on.
type serviceRun struct {
	*service
	master   *managedpool.Pool
	replicas *managedpool.Pool
	// nearest is the pool of the node with the lowest round trip, for
	// ReadNearest clients; made on first use, kept by the loop.
	nearest *managedpool.Pool
	// the errors FailFast and replica commands get while no node is
	// known; written by the loop, read by the managed pools
	masterErr  atomic.Pointer[error]
	replicaErr atomic.Pointer[error]
}

type troubleReport struct {
	name    string
	replica bool
	addr    string
	err     error
}

// NewSentinelPool starts a SentinelPool. It does not wait for sentinels:
// discovery starts with the first MasterFor, ReplicaFor or Discover*.
func NewSentinelPool(cfg Config) (*SentinelPool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &SentinelPool{
		cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel,
		calls:     make(chan func()),
		events:    make(chan rawEvent, 256),
		results:   make(chan func(), 64),
		troubles:  troubleBox{wake: make(chan struct{}, 1)},
		out:       make(chan Event, cfg.EventBuffer),
		services:  map[string]*serviceRun{},
		listening: map[string]bool{},
		done:      make(chan struct{}),
	}
	p.set = newSentinelSet(cfg, &p.life)
	p.life.Go(p.loop)
	return p, nil
}

// MasterFor returns a client for name's master. It does not block: the
// master is discovered in the background and followed across failovers.
// Commands sent before a master is verified wait for it (or fail at once
// with *MasterNotFoundError under Config.FailFast).
func (p *SentinelPool) MasterFor(name string) *async.Client {
	var c *async.Client
	if !p.call(func() { c = async.NewClient(p.serviceFor(name).master) }) {
		return async.NewClient(closedExecutor{})
	}
	return c
}

// ReplicaFor returns a client that reads from name's healthy replicas,
// each key from one replica chosen by its hash slot, following them as
// they come and go.
func (p *SentinelPool) ReplicaFor(name string) *async.Client {
	var c *async.Client
	if !p.call(func() { c = async.NewClient(p.serviceFor(name).replicas) }) {
		return async.NewClient(closedExecutor{})
	}
	return c
}

// SlaveFor is ReplicaFor under the name aioredis and redis-py use.
func (p *SentinelPool) SlaveFor(name string) *async.Client { return p.ReplicaFor(name) }

type closedExecutor struct{}

func (closedExecutor) Exec(_ context.Context, cmd *core.Command, sink core.Sink) {
	cmd.Release()
	sink.Complete(protocol.Value{}, core.NotSent(ErrClosed))
}

// Execute sends "SENTINEL args..." to the sentinels in order, moving on to
// the next one when a sentinel cannot be reached; a sentinel's error reply
// is returned as it is. It does not block.
func (p *SentinelPool) Execute(ctx context.Context, args ...any) *async.Future[protocol.Value] {
	return p.SentinelClient().Do(ctx, append([]any{"SENTINEL"}, args...)...)
}

// ExecuteAll sends "SENTINEL args..." to every known sentinel at once and
// returns each one's future reply, by address. It does not block; each
// request is bounded by ctx and Config.SentinelTimeout.
func (p *SentinelPool) ExecuteAll(ctx context.Context, args ...any) map[string]*async.Future[protocol.Value] {
	addrs := p.set.known()
	res := make(map[string]*async.Future[protocol.Value], len(addrs))
	for _, addr := range addrs {
		f, resolve := async.Promise[protocol.Value]()
		res[addr] = f
		if !p.life.Go(func() { resolve(p.set.query(ctx, addr, false, append([]any{"SENTINEL"}, args...)...)) }) {
			resolve(protocol.Value{}, core.NotSent(ErrClosed))
		}
	}
	return res
}

// SentinelClient returns a client whose commands go to the sentinels in
// order until one answers, as Execute's do: for commands this package has
// no method for (INFO, SENTINEL DEBUG, ...).
func (p *SentinelPool) SentinelClient() *async.Client { return async.NewClient(p.set) }

// DiscoverMaster asks the sentinels for name's master now and verifies it
// with ROLE; it returns its address.
func (p *SentinelPool) DiscoverMaster(ctx context.Context, name string) (string, error) {
	if p.Closed() {
		return "", ErrClosed
	}
	_, addr, err := discoverMaster(ctx, p.set, name, p.cfg.AddrMapper)
	return addr, err
}

// DiscoverReplicas returns the addresses of name's usable replicas: seen
// healthy by the sentinels and saying "slave" to ROLE themselves.
func (p *SentinelPool) DiscoverReplicas(ctx context.Context, name string) ([]string, error) {
	if p.Closed() {
		return nil, ErrClosed
	}
	master, _ := p.DiscoverMaster(ctx, name)
	addrs, err := discoverReplicas(ctx, p.set, name, replicaRule{master: master, mapAddr: p.cfg.AddrMapper, maxStale: p.cfg.MaxReplicaStaleness, spawn: p.life.Go})
	if err == nil && len(addrs) == 0 {
		err = &ReplicaNotFoundError{Name: name, Err: ErrNotUsable}
	}
	return addrs, err
}

// DiscoverSlave is DiscoverReplicas under the name aioredis uses.
func (p *SentinelPool) DiscoverSlave(ctx context.Context, name string) ([]string, error) {
	return p.DiscoverReplicas(ctx, name)
}

// Discover checks that a sentinel answers, and learns the peers of every
// master the sentinels monitor.
func (p *SentinelPool) Discover(ctx context.Context) error {
	v, err := p.Execute(ctx, "MASTERS").Result()
	if err != nil {
		return err
	}
	masters, err := parseInstances(v)
	if err != nil {
		return err
	}
	for _, m := range masters {
		v, err := p.Execute(ctx, "SENTINELS", m.Name).Result()
		if err != nil {
			continue
		}
		peers, err := parseInstances(v)
		if err != nil {
			continue
		}
		for _, peer := range peers {
			p.set.add(p.cfg.AddrMapper(peer.Addr()))
		}
	}
	return nil
}

// KnownSentinels returns the known sentinel addresses, most recently
// answering first.
func (p *SentinelPool) KnownSentinels() []string { return p.set.known() }

// Events delivers topology changes: switches, replicas and sentinels going
// up or down, discoveries. The channel is buffered (Config.EventBuffer);
// when a reader falls behind, new events are dropped, never queued without
// bound. Close closes it, so a range over it ends.
func (p *SentinelPool) Events() <-chan Event { return p.out }

func (p *SentinelPool) emit(e Event) {
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(e)
	}
	select {
	case p.out <- e:
	default: // slow reader: events are hints, the state is authoritative
	}
}

// call runs fn on the loop goroutine and waits for it; false if closed.
func (p *SentinelPool) call(fn func()) bool {
	done := make(chan struct{})
	select {
	case p.calls <- func() { fn(); close(done) }:
		<-done
		return true
	case <-p.ctx.Done():
		return false
	}
}

// work runs fn on a worker goroutine the pool owns; it reports its result
// to the loop with report. Nothing starts once Close has begun.
func (p *SentinelPool) work(fn func(ctx context.Context)) {
	p.life.Go(func() { fn(p.ctx) })
}

// report hands a worker's result to the loop.
func (p *SentinelPool) report(fn func()) {
	select {
	case p.results <- fn:
	case <-p.ctx.Done():
	}
}

func (p *SentinelPool) loop() {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case fn := <-p.calls:
			fn()
		case fn := <-p.results:
			fn()
		case ev := <-p.events:
			p.handleEvent(ev)
		case <-p.troubles.wake:
			for _, tr := range p.troubles.take() {
				if s, ok := p.services[tr.name]; ok {
					p.log.Debug("sentinel: connection trouble", "name", tr.name, "addr", tr.addr, "err", tr.err)
					p.do(s, s.trouble(tr.replica, tr.addr))
				}
			}
		case now := <-tick.C:
			for _, s := range p.services {
				p.do(s, s.tick(now))
			}
			p.ensureListeners()
		}
	}
}

// serviceFor returns (creating) the state for name; loop only.
func (p *SentinelPool) serviceFor(name string) *serviceRun {
	if s, ok := p.services[name]; ok {
		return s
	}
	s := &serviceRun{service: newService(name, p.cfg.RecheckInterval, p.cfg.ReplicaFallbackToMaster, time.Now())}
	s.fenceEnabled = !p.cfg.DisableFence
	s.failFast = p.cfg.FailFast // armed after the first discovery: the first commands wait for its verdict
	s.master = managedpool.New(managedpool.Config{
		Pool: p.cfg.dataConfig(""), QueueSize: p.cfg.QueueSize,
		NotFound:  func() error { return &MasterNotFoundError{Name: name, Err: loadErr(&s.masterErr, ErrNotUsable)} },
		OnTrouble: func(addr string, err error) { p.noteTrouble(troubleReport{name: name, addr: addr, err: err}) },
	})
	s.replicas = managedpool.New(managedpool.Config{
		Pool: p.cfg.dataConfig(""), QueueSize: p.cfg.QueueSize,
		OnTrouble: func(addr string, err error) {
			p.noteTrouble(troubleReport{name: name, replica: true, addr: addr, err: err})
		},
	})
	p.services[name] = s
	p.do(s, s.start())
	p.ensureListeners()
	return s
}

// nearestPool returns (making) the pool of s's nearest node; loop only.
func (p *SentinelPool) nearestPool(s *serviceRun) *managedpool.Pool {
	if s.nearest == nil {
		s.nearest = managedpool.New(managedpool.Config{Pool: p.cfg.dataConfig(""), QueueSize: p.cfg.QueueSize})
		p.updateNearest(s)
	}
	return s.nearest
}

// updateNearest points the nearest pool at the node, master or replica,
// with the lowest measured round trip; loop only.
func (p *SentinelPool) updateNearest(s *serviceRun) {
	if s.nearest == nil {
		return
	}
	var cands []string
	if s.masterAddr != "" {
		cands = append(cands, s.masterAddr)
	}
	cands = append(cands, s.replicaAddrs...)
	var want []string
	if best := p.set.nearest(cands); best != "" {
		want = []string{best}
	}
	if !slices.Equal(want, s.nearest.Addrs()) {
		s.nearest.SetAddrs(want)
	}
}

func loadErr(ptr *atomic.Pointer[error], def error) error {
	if e := ptr.Load(); e != nil {
		return *e
	}
	return def
}

func (p *SentinelPool) noteTrouble(tr troubleReport) { p.troubles.put(tr) }

// troubleBox holds the managed pools' trouble reports for the loop: one
// per service, role and address until the loop takes them, so a burst of
// failures (every command on a killed connection reports) neither blocks
// a pool nor loses the report that matters (a dropped address waits for
// the rediscovery it triggers).
type troubleBox struct {
	wake chan struct{} // capacity 1: there are reports to take

	mu      sync.Mutex // guards pending
	pending map[troubleKey]troubleReport
}

type troubleKey struct {
	name, addr string
	replica    bool
}

func (b *troubleBox) put(tr troubleReport) {
	b.mu.Lock()
	if b.pending == nil {
		b.pending = map[troubleKey]troubleReport{}
	}
	b.pending[troubleKey{tr.name, tr.addr, tr.replica}] = tr
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // the loop is already due to take them
	}
}

func (b *troubleBox) take() []troubleReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]troubleReport, 0, len(b.pending))
	for _, tr := range b.pending {
		out = append(out, tr)
	}
	clear(b.pending)
	return out
}

// Closed reports whether Close has been called.
func (p *SentinelPool) Closed() bool { return p.isClosed.Load() }

// WaitClosed waits until Close has finished or ctx ends.
func (p *SentinelPool) WaitClosed(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the loop, listeners and workers, closes every managed pool
// and sentinel connection, and waits for all of their goroutines.
// Idempotent; every call waits.
func (p *SentinelPool) Close() error {
	p.closing.Do(func() {
		p.isClosed.Store(true)
		p.cancel()
		p.set.close()  // wakes queries; later dials are refused
		p.life.Close() // nothing starts after this; waits for what runs
		close(p.out)   // the loop, its only writer, has returned
		for _, s := range p.services {
			s.master.Close()
			s.replicas.Close()
			if s.nearest != nil {
				s.nearest.Close()
			}
		}
		close(p.done)
	})
	<-p.done
	return nil
}

// ServiceStats is one monitored master as the client sees it.
type ServiceStats struct {
	Name     string
	Master   string   // the address written to; "" while none is known or writes are fenced
	Replicas []string // the replicas read from
	Switches uint64   // how often the client moved to another master
	Fenced   bool     // a failover is under way: writes wait
	// MasterPool and ReplicaPool are the managed pools' statistics;
	// MasterPool.Waiting counts commands waiting for a master.
	MasterPool, ReplicaPool pool.Stats
}

// Stats describes every service a client was made for, sorted by name
// (nil after Close).
func (p *SentinelPool) Stats() []ServiceStats {
	var out []ServiceStats
	p.call(func() {
		for name, s := range p.services {
			st := ServiceStats{Name: name, Master: s.masterAddr, Replicas: slices.Clone(s.replicaAddrs), Switches: s.switches, Fenced: s.fenced}
			if st.Fenced {
				st.Master = ""
			}
			if s.master != nil {
				st.MasterPool = s.master.Stats()
			}
			if s.replicas != nil {
				st.ReplicaPool = s.replicas.Stats()
			}
			out = append(out, st)
		}
	})
	slices.SortFunc(out, func(a, b ServiceStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}

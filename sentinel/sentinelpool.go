package sentinel

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/managedpool"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// SentinelPool owns everything sentinel-related: connections to sentinels,
// discovery, event subscriptions, periodic re-checks and the managed pools
// of every service name. One goroutine (the loop) owns the per-service
// state; listeners and discovery workers report to it over channels.
type SentinelPool struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // ended by Close
	cancel context.CancelFunc

	calls   chan func()        // run by the loop; written by the API
	events  chan rawEvent      // written by listeners; read by the loop
	results chan func()        // written by workers; run by the loop
	trouble chan troubleReport // written by managed pools; read by the loop
	out     chan Event         // written by the loop (never blocking); read by users; never closed

	mu        sync.Mutex // guards the fields below
	sentinels []string   // known sentinels, the last one to answer first
	conns     map[string]*pool.Conn

	// fast is read by listeners to stop writes to an old master the moment
	// a +switch-master arrives, before the loop gets to the event.
	fast sync.Map // service name -> *service

	// owned by the loop goroutine
	services  map[string]*service
	listening map[string]bool

	wg       sync.WaitGroup // the loop, listeners and workers
	done     chan struct{}  // closed when Close has finished
	closing  sync.Once
	isClosed atomic.Bool

	workMu  sync.Mutex // guards stopped, and orders goWorker's wg.Add before Close's wg.Wait
	stopped bool
}

// service is the loop's state for one monitored name.
type service struct {
	name     string
	master   *managedpool.Pool
	replicas *managedpool.Pool

	masterAddr  string                 // verified; "" while unknown
	following   atomic.Pointer[string] // masterAddr, for listeners' fast path
	everMaster  bool                   // a master was verified once
	masterBusy  bool                   // a master discovery is running
	masterRetry time.Time
	backoff     time.Duration
	epoch       int64 // highest config epoch accepted

	replicaAddrs []string
	replicaGen   uint64 // bumped when a replica is dropped; older results are stale
	// promoting holds replicas announced for promotion (+selected-slave,
	// +promoted-slave, +switch-master), kept out of the replica set until
	// they are our master or the hold expires (an aborted failover).
	promoting    map[string]time.Time
	replicaBusy  bool
	replicaAgain bool // refresh once more when the running one ends
	everReplica  bool

	lastCheck time.Time
	masterErr atomic.Pointer[error] // for FailFast errors, read by managed pools
	slaveErr  atomic.Pointer[error]
}

type troubleReport struct {
	name    string
	replica bool
	addr    string
	err     error
}

// NewSentinelPool starts a SentinelPool. It does not wait for sentinels:
// discovery starts with the first MasterFor, SlaveFor or Discover.
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
		trouble:   make(chan troubleReport, 64),
		out:       make(chan Event, cfg.EventBuffer),
		sentinels: slices.Clone(cfg.Sentinels),
		conns:     map[string]*pool.Conn{},
		services:  map[string]*service{},
		listening: map[string]bool{},
		done:      make(chan struct{}),
	}
	p.wg.Add(1)
	go p.loop()
	return p, nil
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

// report hands a worker's result to the loop.
func (p *SentinelPool) report(fn func()) {
	select {
	case p.results <- fn:
	case <-p.ctx.Done():
	}
}

// Events delivers topology changes: switches, replicas and sentinels going
// up or down, discoveries. The channel is buffered (Config.EventBuffer);
// when a reader falls behind, new events are dropped, never queued without
// bound. It is never closed.
func (p *SentinelPool) Events() <-chan Event { return p.out }

func (p *SentinelPool) emit(e Event) {
	select {
	case p.out <- e:
	default: // slow reader: events are hints, the state is authoritative
	}
}

// KnownSentinels returns the known sentinel addresses, most recently
// answering first.
func (p *SentinelPool) KnownSentinels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sentinels)
}

func (p *SentinelPool) loop() {
	defer p.wg.Done()
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
		case tr := <-p.trouble:
			p.handleTrouble(tr)
		case now := <-tick.C:
			for _, s := range p.services {
				if s.masterAddr == "" && !s.masterBusy && now.After(s.masterRetry) {
					p.startMasterDiscovery(s)
				}
				if now.Sub(s.lastCheck) >= p.cfg.RecheckInterval {
					s.lastCheck = now
					if !s.masterBusy {
						p.startMasterDiscovery(s)
					}
					p.refreshReplicas(s)
				}
			}
			p.ensureListeners()
		}
	}
}

// serviceFor returns (creating) the state for name; loop only.
func (p *SentinelPool) serviceFor(name string) *service {
	if s, ok := p.services[name]; ok {
		return s
	}
	s := &service{name: name, lastCheck: time.Now()}
	base := p.cfg.dataConfig("")
	s.master = managedpool.New(managedpool.Config{
		Pool: base, QueueSize: p.cfg.QueueSize, FailFast: p.cfg.FailFast,
		NotFound:  func() error { return &MasterNotFoundError{Name: name, Err: loadErr(&s.masterErr, ErrNotUsable)} },
		OnTrouble: func(addr string, err error) { p.noteTrouble(troubleReport{name: name, addr: addr, err: err}) },
	})
	s.replicas = managedpool.New(managedpool.Config{
		Pool: base, QueueSize: p.cfg.QueueSize,
		OnTrouble: func(addr string, err error) {
			p.noteTrouble(troubleReport{name: name, replica: true, addr: addr, err: err})
		},
	})
	p.services[name] = s
	p.fast.Store(name, s)
	p.startMasterDiscovery(s)
	p.refreshReplicas(s)
	p.ensureListeners()
	return s
}

func loadErr(ptr *atomic.Pointer[error], def error) error {
	if e := ptr.Load(); e != nil {
		return *e
	}
	return def
}

func (p *SentinelPool) noteTrouble(tr troubleReport) {
	select {
	case p.trouble <- tr:
	default: // a re-check is already due; the periodic one catches the rest
	}
}

func (p *SentinelPool) handleTrouble(tr troubleReport) {
	s, ok := p.services[tr.name]
	if !ok {
		return
	}
	p.log.Debug("sentinel: connection trouble", "name", tr.name, "addr", tr.addr, "err", tr.err)
	if tr.replica {
		p.refreshReplicas(s)
		return
	}
	if tr.addr == s.masterAddr {
		// The pool dropped or doubts the address: check it again now.
		if !s.masterBusy {
			p.startMasterDiscovery(s)
		}
	}
}

// go runs fn as a worker the pool owns.
// goWorker runs fn on a goroutine Close waits for; after Close has begun
// it refuses (false), so that no worker starts once Close is waiting:
// the closed check and wg.Add happen under one lock.
func (p *SentinelPool) goWorker(fn func()) bool {
	p.workMu.Lock()
	if p.stopped {
		p.workMu.Unlock()
		return false
	}
	p.wg.Add(1)
	p.workMu.Unlock()
	go func() {
		defer p.wg.Done()
		fn()
	}()
	return true
}

// switchNow runs on a listener goroutine when a +switch-master arrives:
// if it names a master other than the one followed, the old master's pool
// is invalidated at once, so that not one more write reaches it while the
// event waits for the loop. The loop then verifies and sets the new one.
func (p *SentinelPool) switchNow(name, newAddr string) {
	v, ok := p.fast.Load(name)
	if !ok {
		return
	}
	s := v.(*service)
	cur := s.following.Load()
	if cur == nil || *cur == newAddr || *cur == "" {
		return // nothing followed yet, or an echo of a switch already made
	}
	empty := ""
	if s.following.CompareAndSwap(cur, &empty) {
		s.master.Invalidate()
	}
}

// startMasterDiscovery asks the sentinels for name's master and verifies
// it; the result is applied on the loop.
func (p *SentinelPool) startMasterDiscovery(s *service) {
	s.masterBusy = true
	name := s.name
	p.goWorker(func() {
		in, err := p.askMaster(p.ctx, name)
		addr := ""
		if err == nil {
			addr = p.cfg.AddrMapper(in.Addr())
			err = p.verifyRole(p.ctx, name, addr, "master")
		}
		p.report(func() { p.applyMaster(s, addr, in.ConfigEpoch, err, "discovery") })
	})
}

// startSwitch verifies a master announced by an event and applies it.
func (p *SentinelPool) startSwitch(s *service, addr string) {
	s.masterBusy = true
	name := s.name
	p.goWorker(func() {
		err := p.verifyRole(p.ctx, name, addr, "master")
		p.report(func() { p.applyMaster(s, addr, -1, err, "+switch-master") })
	})
}

// applyMaster runs on the loop with a discovery's outcome.
func (p *SentinelPool) applyMaster(s *service, addr string, epoch int64, err error, how string) {
	s.masterBusy = false
	if err != nil {
		s.masterErr.Store(&err)
		var mnf *MasterNotFoundError
		if errors.As(err, &mnf) && errors.Is(err, ErrNotUsable) && s.masterAddr != "" && (addr == "" || addr == s.masterAddr) {
			// The master we use is down or demoted: stop sending to it.
			p.log.Info("sentinel: master not usable", "name", s.name, "addr", s.masterAddr, "err", err)
			s.master.Invalidate()
			s.masterAddr = ""
			empty := ""
			s.following.Store(&empty)
		}
		if s.masterAddr == "" {
			s.backoff = min(max(2*s.backoff, 25*time.Millisecond), 500*time.Millisecond)
			s.masterRetry = time.Now().Add(s.backoff/2 + time.Duration(rand.Int64N(int64(s.backoff/2)+1)))
			if !s.everMaster {
				s.master.FailWaiting(err) // nothing to wait for yet: say why
			}
		}
		return
	}
	if epoch >= 0 {
		if epoch < s.epoch && addr != s.masterAddr {
			return // a lagging sentinel's older view
		}
		s.epoch = max(s.epoch, epoch)
	}
	s.masterErr.Store(nil)
	s.backoff = 0
	if addr == s.masterAddr {
		return
	}
	old := s.masterAddr
	s.masterAddr, s.everMaster = addr, true
	s.following.Store(&addr)
	if err := s.master.SetAddrs([]string{addr}); err != nil {
		p.log.Error("sentinel: set master", "name", s.name, "err", err)
		return
	}
	p.log.Info("sentinel: following master", "name", s.name, "addr", addr, "old", old, "via", how)
	p.emit(Event{Kind: EventMasterChanged, Name: s.name, Addr: addr, OldAddr: old, At: time.Now()})
	p.refreshReplicas(s)
}

// refreshReplicas rediscovers name's replicas, once at a time.
func (p *SentinelPool) refreshReplicas(s *service) {
	if s.replicaBusy {
		s.replicaAgain = true
		return
	}
	s.replicaBusy = true
	name, master, gen := s.name, s.masterAddr, s.replicaGen
	p.goWorker(func() {
		addrs, err := p.discoverReplicas(p.ctx, name, master)
		p.report(func() { p.applyReplicas(s, gen, addrs, err) })
	})
}

func (p *SentinelPool) applyReplicas(s *service, gen uint64, addrs []string, err error) {
	s.replicaBusy = false
	if s.replicaAgain {
		s.replicaAgain = false
		defer p.refreshReplicas(s)
	}
	if gen != s.replicaGen {
		return // started before a replica was dropped: it may list it again
	}
	addrs = slices.DeleteFunc(addrs, func(a string) bool {
		held, ok := s.promoting[a]
		if ok && (a == s.masterAddr || time.Since(held) > promotionHold) {
			delete(s.promoting, a)
			ok = false
		}
		return ok || a == s.masterAddr
	})
	if err == nil && len(addrs) == 0 {
		err = &SlaveNotFoundError{Name: s.name, Err: ErrNotUsable}
	}
	if err != nil {
		s.slaveErr.Store(&err)
		if p.cfg.SlaveFallbackToMaster && s.masterAddr != "" {
			addrs = []string{s.masterAddr}
		} else {
			if errors.Is(err, ErrNoSentinel) && len(s.replicaAddrs) > 0 {
				return // sentinels are away, not the replicas
			}
			addrs = nil
		}
	} else {
		s.slaveErr.Store(nil)
	}
	slices.Sort(addrs)
	if !slices.Equal(addrs, s.replicaAddrs) {
		p.log.Info("sentinel: replicas", "name", s.name, "addrs", addrs)
		p.emit(Event{Kind: EventReplicasChanged, Name: s.name, Addrs: addrs, At: time.Now()})
	}
	s.replicaAddrs = addrs
	s.replicas.SetAddrs(addrs)
	if len(addrs) > 0 {
		s.everReplica = true
	} else {
		s.replicas.FailWaiting(&SlaveNotFoundError{Name: s.name, Err: err})
	}
}

// promotionHold bounds how long a replica announced for promotion stays
// out of the replica set when the promotion never completes.
const promotionHold = 30 * time.Second

// dropReplica stops reading from addr at once (it is being promoted).
func (p *SentinelPool) dropReplica(s *service, addr string) {
	s.replicaGen++
	if s.promoting == nil {
		s.promoting = map[string]time.Time{}
	}
	s.promoting[addr] = time.Now()
	if i := slices.Index(s.replicaAddrs, addr); i >= 0 {
		s.replicaAddrs = slices.Delete(slices.Clone(s.replicaAddrs), i, i+1)
		s.replicas.SetAddrs(s.replicaAddrs)
	}
	p.refreshReplicas(s)
}

// ---- talking to sentinels ----

// sentinelConn returns a connection to a sentinel, dialling one if needed.
func (p *SentinelPool) sentinelConn(ctx context.Context, addr string) (*pool.Conn, error) {
	p.mu.Lock()
	c := p.conns[addr]
	p.mu.Unlock()
	if c != nil && c.Err() == nil {
		return c, nil
	}
	c, err := pool.Dial(ctx, p.cfg.sentinelConfig(addr))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.isClosed.Load() {
		p.mu.Unlock()
		c.Close()
		return nil, ErrClosed
	}
	if old := p.conns[addr]; old != nil && old.Err() == nil {
		p.mu.Unlock()
		c.Close() // another worker won the race
		return old, nil
	}
	p.conns[addr] = c
	p.mu.Unlock()
	return c, nil
}

// query sends one command to one sentinel, bounded by SentinelTimeout.
func (p *SentinelPool) query(ctx context.Context, addr string, args ...any) (protocol.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SentinelTimeout)
	defer cancel()
	c, err := p.sentinelConn(ctx, addr)
	if err != nil {
		return protocol.Value{}, err
	}
	return async.NewClient(c).Do(ctx, args...).Result()
}

// promote moves addr to the front of the sentinel list.
func (p *SentinelPool) promote(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.sentinels, addr); i > 0 {
		p.sentinels = slices.Insert(slices.Delete(p.sentinels, i, i+1), 0, addr)
	}
}

// addSentinel learns a peer sentinel.
func (p *SentinelPool) addSentinel(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Contains(p.sentinels, addr) {
		return false
	}
	p.sentinels = append(p.sentinels, addr)
	return true
}

type answer struct {
	addr string
	v    protocol.Value
	err  error
}

// askAll sends a command to every known sentinel at once and returns a
// channel of answers (buffered: stragglers never block) and their number.
// Each request is bounded by SentinelTimeout.
func (p *SentinelPool) askAll(ctx context.Context, args ...any) (<-chan answer, int) {
	sentinels := p.KnownSentinels()
	ch := make(chan answer, len(sentinels))
	for _, addr := range sentinels {
		p.goWorker(func() {
			v, err := p.query(ctx, addr, args...)
			ch <- answer{addr: addr, v: v, err: err}
		})
	}
	return ch, len(sentinels)
}

// classify turns the failures of every sentinel into one typed error.
func classify(name string, replica bool, errs map[string]error) error {
	var unknown, auth error
	var authAddr string
	var all []error
	for addr, err := range errs {
		all = append(all, errors.New(addr+": "+err.Error()))
		var re *protocol.RedisError
		switch {
		case errors.Is(err, ErrUnknownName):
			unknown = err
		case errors.As(err, &re):
			auth, authAddr = err, addr
		}
	}
	slices.SortFunc(all, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	cause := errors.Join(all...)
	switch {
	case unknown != nil:
		if replica {
			return &SlaveNotFoundError{Name: name, Err: because(ErrUnknownName, cause)}
		}
		return &MasterNotFoundError{Name: name, Err: because(ErrUnknownName, cause)}
	case auth != nil:
		if replica {
			return &SlaveReplyError{Name: name, Addr: authAddr, Err: auth}
		}
		return &MasterReplyError{Name: name, Addr: authAddr, Err: auth}
	}
	if replica {
		return &SlaveNotFoundError{Name: name, Err: because(ErrNoSentinel, cause)}
	}
	return &MasterNotFoundError{Name: name, Err: because(ErrNoSentinel, cause)}
}

// unknownName recognises a sentinel's answer for a name it does not monitor.
func unknownName(err error) error {
	var re *protocol.RedisError
	if errors.As(err, &re) && strings.Contains(strings.ToLower(re.Msg), "no such master") {
		return because(ErrUnknownName, err)
	}
	return err
}

// askMaster asks every sentinel for name's master and returns the answer
// with the highest config epoch among those that come within a short
// grace after the first, so that one lagging sentinel cannot lead the
// client back to a demoted master. The address comes from
// get-master-addr-by-name, which a failover leader already points at the
// promoted replica while its SENTINEL MASTER still shows the old one; the
// epoch comes from SENTINEL MASTER, asked in the same round trip.
func (p *SentinelPool) askMaster(ctx context.Context, name string) (Instance, error) {
	sentinels := p.KnownSentinels()
	type reply struct {
		addr string
		in   Instance
		err  error
	}
	ch := make(chan reply, len(sentinels))
	for _, addr := range sentinels {
		p.goWorker(func() {
			in, err := p.askOne(ctx, addr, name)
			ch <- reply{addr: addr, in: in, err: err}
		})
	}
	errs := map[string]error{}
	var best Instance
	found := false
	var grace <-chan time.Time
	for range sentinels {
		var r reply
		select {
		case r = <-ch:
		case <-grace:
			return best, nil
		case <-ctx.Done():
			return Instance{}, ctx.Err()
		}
		if r.err != nil {
			errs[r.addr] = r.err
			continue
		}
		if !found {
			p.promote(r.addr)
			grace = time.After(20 * time.Millisecond)
		}
		if !found || r.in.ConfigEpoch > best.ConfigEpoch {
			best, found = r.in, true
		}
	}
	if found {
		return best, nil
	}
	return Instance{}, classify(name, false, errs)
}

// askOne asks one sentinel for name's master: SENTINEL MASTER for the
// details and epoch, GET-MASTER-ADDR-BY-NAME for the address.
func (p *SentinelPool) askOne(ctx context.Context, addr, name string) (Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.SentinelTimeout)
	defer cancel()
	c, err := p.sentinelConn(ctx, addr)
	if err != nil {
		return Instance{}, err
	}
	cl := async.NewClient(c)
	masterF := cl.Do(ctx, "SENTINEL", "MASTER", name)
	addrF := async.Cmd(ctx, cl, async.ToStrings, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
	v, err := masterF.Result()
	if err != nil {
		return Instance{}, unknownName(err)
	}
	in, err := parseInstance(v)
	if err != nil {
		return Instance{}, errors.Join(errors.New("bad SENTINEL MASTER reply"), err)
	}
	hp, err := addrF.Result()
	if errors.Is(err, async.ErrNil) {
		return Instance{}, because(ErrUnknownName, err)
	}
	if err != nil || len(hp) != 2 {
		return Instance{}, errors.Join(errors.New("bad GET-MASTER-ADDR-BY-NAME reply"), err)
	}
	in.IP = hp[0]
	port, err := strconv.Atoi(hp[1])
	if err != nil {
		return Instance{}, err
	}
	in.Port = port
	return in, nil
}

// discoverReplicas asks the sentinels for name's replicas and returns the
// healthy ones whose ROLE says replica, master excluded.
func (p *SentinelPool) discoverReplicas(ctx context.Context, name, master string) ([]string, error) {
	ch, n := p.askAll(ctx, "SENTINEL", "REPLICAS", name)
	errs := map[string]error{}
	var ins []Instance
	for i := 0; i < n && ins == nil; i++ {
		var a answer
		select {
		case a = <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if a.err != nil {
			errs[a.addr] = unknownName(a.err)
			continue
		}
		list, err := parseInstances(a.v)
		if err != nil {
			errs[a.addr] = err
			continue
		}
		ins = list
	}
	if ins == nil {
		return nil, classify(name, true, errs)
	}
	var cands []string
	for _, in := range ins {
		addr := p.cfg.AddrMapper(in.Addr())
		if in.Healthy() && in.IsSlave && in.MasterLinkStatus != "err" && addr != master {
			cands = append(cands, addr)
		}
	}
	ok := make([]bool, len(cands))
	var wg sync.WaitGroup
	for i, addr := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = p.verifyRole(ctx, name, addr, "slave") == nil
		}()
	}
	wg.Wait()
	var out []string
	for i, addr := range cands {
		if ok[i] {
			out = append(out, addr)
		}
	}
	return out, nil
}

// verifyRole connects to addr and checks that ROLE says want.
func (p *SentinelPool) verifyRole(ctx context.Context, name, addr, want string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*p.cfg.SentinelTimeout)
	defer cancel()
	cfg := p.cfg.dataConfig(addr)
	cfg.HealthCheckInterval = -1
	c, err := pool.Dial(ctx, cfg)
	notFound := func(err error) error {
		if want == "master" {
			return &MasterNotFoundError{Name: name, Err: because(ErrNotUsable, err)}
		}
		return &SlaveNotFoundError{Name: name, Err: because(ErrNotUsable, err)}
	}
	if err != nil {
		var re *protocol.RedisError
		if errors.As(err, &re) {
			if want == "master" {
				return &MasterReplyError{Name: name, Addr: addr, Err: err}
			}
			return &SlaveReplyError{Name: name, Addr: addr, Err: err}
		}
		return notFound(err)
	}
	defer c.Close()
	role, err := async.NewClient(c).Role(ctx).Result()
	if err != nil {
		return notFound(err)
	}
	if role.Role != want {
		return notFound(errors.New(addr + " has role " + role.Role))
	}
	return nil
}

// ---- events ----

func (p *SentinelPool) handleEvent(ev rawEvent) {
	f := strings.Fields(ev.payload)
	switch ev.channel {
	case "+switch-master":
		// <name> <old ip> <old port> <new ip> <new port>
		if len(f) != 5 {
			return
		}
		p.emit(Event{Kind: EventSwitchMaster, Name: f[0], Addr: net.JoinHostPort(f[3], f[4]),
			OldAddr: net.JoinHostPort(f[1], f[2]), Sentinel: ev.from, Payload: ev.payload, At: ev.at})
		s, ok := p.services[f[0]]
		if !ok {
			return
		}
		addr := p.cfg.AddrMapper(net.JoinHostPort(f[3], f[4]))
		if addr == s.masterAddr {
			return // an echo of a switch already followed: the first one wins
		}
		if s.masterAddr != "" {
			// Nothing more is written to the old master from here on.
			s.master.Invalidate() // a no-op when a listener already did it
			p.log.Info("sentinel: +switch-master", "name", s.name, "old", s.masterAddr, "new", addr, "from", ev.from)
			s.masterAddr = ""
			empty := ""
			s.following.Store(&empty)
		}
		p.dropReplica(s, addr)
		p.startSwitch(s, addr)
	case "+sentinel":
		// sentinel <runid> <ip> <port> @ <name> <ip> <port>
		if len(f) >= 4 {
			addr := p.cfg.AddrMapper(net.JoinHostPort(f[2], f[3]))
			if p.addSentinel(addr) {
				p.emit(Event{Kind: EventSentinelAdded, Addr: addr, Sentinel: ev.from, Payload: ev.payload, At: ev.at})
				p.ensureListeners()
			}
		}
	default:
		// <type> <name> <ip> <port> @ <master-name> <master-ip> <master-port>
		kind := ev.channel
		p.emit(Event{Kind: kind, Name: masterOf(f), Addr: instanceAddr(f), Sentinel: ev.from, Payload: ev.payload, At: ev.at})
		s, ok := p.services[masterOf(f)]
		if !ok || len(f) < 4 {
			return
		}
		addr := p.cfg.AddrMapper(instanceAddr(f))
		switch {
		case f[0] == "master" && (kind == "+sdown" || kind == "+odown") && addr == s.masterAddr:
			if !s.masterBusy {
				p.startMasterDiscovery(s) // a hint: verify now rather than at the next re-check
			}
		case kind == "+selected-slave" || kind == "+promoted-slave":
			p.dropReplica(s, addr)
		case f[0] == "slave" || kind == "+failover-end" || kind == "+reboot":
			p.refreshReplicas(s)
		}
	}
}

// masterOf returns the master name of an instance event.
func masterOf(f []string) string {
	if len(f) >= 2 && f[0] == "master" {
		return f[1]
	}
	if i := slices.Index(f, "@"); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	return ""
}

func instanceAddr(f []string) string {
	if len(f) < 4 {
		return ""
	}
	return net.JoinHostPort(f[2], f[3])
}

// ensureListeners subscribes to events on up to Listeners sentinels.
func (p *SentinelPool) ensureListeners() {
	if len(p.services) == 0 {
		return
	}
	for _, addr := range p.KnownSentinels() {
		if len(p.listening) >= p.cfg.Listeners {
			return
		}
		if !p.listening[addr] {
			p.listening[addr] = true
			p.wg.Add(1)
			go p.listen(addr)
		}
	}
}

// ---- close ----

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
// Idempotent.
func (p *SentinelPool) Close() error {
	p.closing.Do(func() {
		p.isClosed.Store(true)
		p.workMu.Lock()
		p.stopped = true // no goWorker after this: wg.Wait below is final
		p.workMu.Unlock()
		p.cancel()
		p.mu.Lock()
		conns := p.conns
		p.conns = map[string]*pool.Conn{}
		p.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		p.wg.Wait() // the loop has exited: services are ours now
		for _, s := range p.services {
			s.master.Close()
			s.replicas.Close()
		}
		p.mu.Lock()
		conns = p.conns // dialled by workers during shutdown
		p.conns = map[string]*pool.Conn{}
		p.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
		close(p.done)
	})
	<-p.done
	return nil
}

package sentinel

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/protocol"
)

// sentinelSet is the known sentinels: their addresses, most recently
// answering first, one connection to each, and the queries discovery
// makes of them. It also checks data nodes' ROLE, so that it is the whole
// of what discovery needs from the network (the querier interface).
// Its goroutines belong to life.
type sentinelSet struct {
	cfg  Config
	life *core.Lifecycle

	mu     sync.Mutex               // guards the fields below
	addrs  []string                 // the last one to answer first
	conns  map[string]*pool.Conn    // emptied by close, never replaced: kept holds it
	nodes  map[string]*pool.Conn    // one per data node, for ROLE checks
	rtt    map[string]time.Duration // measured by those checks, averaged
	closed bool
}

func newSentinelSet(cfg Config, life *core.Lifecycle) *sentinelSet {
	return &sentinelSet{cfg: cfg, life: life, addrs: slices.Clone(cfg.Sentinels),
		conns: map[string]*pool.Conn{}, nodes: map[string]*pool.Conn{}, rtt: map[string]time.Duration{}}
}

// known returns the sentinel addresses, most recently answering first.
func (s *sentinelSet) known() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// promote moves addr to the front.
func (s *sentinelSet) promote(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.addrs, addr); i > 0 {
		s.addrs = slices.Insert(slices.Delete(s.addrs, i, i+1), 0, addr)
	}
}

// add learns a peer sentinel; false if it was known.
func (s *sentinelSet) add(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.addrs, addr) {
		return false
	}
	s.addrs = append(s.addrs, addr)
	return true
}

// conn returns the connection to the sentinel at addr, dialling one if
// needed.
func (s *sentinelSet) conn(ctx context.Context, addr string) (*pool.Conn, error) {
	return s.kept(ctx, s.conns, s.cfg.sentinelConfig(addr))
}

// kept returns the live connection kept in conns for cfg.Addr, or dials
// one and keeps it; conns is guarded by s.mu. After close, it refuses.
func (s *sentinelSet) kept(ctx context.Context, conns map[string]*pool.Conn, cfg pool.Config) (*pool.Conn, error) {
	s.mu.Lock()
	c := conns[cfg.Addr]
	s.mu.Unlock()
	if c != nil && c.Err() == nil {
		return c, nil
	}
	c, err := pool.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, ErrClosed
	}
	if old := conns[cfg.Addr]; old != nil && old.Err() == nil {
		c.Close() // another query won the race
		return old, nil
	}
	conns[cfg.Addr] = c
	return c, nil
}

// close closes every connection; later dials are refused.
func (s *sentinelSet) close() {
	s.mu.Lock()
	s.closed = true
	var conns []*pool.Conn
	for _, m := range []map[string]*pool.Conn{s.conns, s.nodes} {
		for _, c := range m {
			conns = append(conns, c)
		}
		clear(m) // the maps themselves stay: kept holds them
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// query sends one command to one sentinel, bounded by SentinelTimeout.
// readOnly says it may be sent again if its connection dies under it.
func (s *sentinelSet) query(ctx context.Context, addr string, readOnly bool, args ...any) (protocol.Value, error) {
	buf, err := protocol.AppendCommand(nil, args...)
	if err != nil {
		return protocol.Value{}, err
	}
	return s.send(ctx, addr, buf, readOnly)
}

// send sends an encoded command to one sentinel, bounded by
// SentinelTimeout, and returns the reply (an error reply as error). A
// command that a dead connection failed before writing it is sent once
// more on a new connection: the old one had died unnoticed while idle.
func (s *sentinelSet) send(ctx context.Context, addr string, buf []byte, readOnly bool) (protocol.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SentinelTimeout)
	defer cancel()
	v, err := s.sendOnce(ctx, addr, buf)
	if staleConn(ctx, err, readOnly) {
		v, err = s.sendOnce(ctx, addr, buf)
	}
	return v, err
}

// staleConn reports whether err is a connection that died under a
// command (before writing it, or also after for a read-only query), so
// that one more try on a new connection is due.
func staleConn(ctx context.Context, err error, readOnly bool) bool {
	var ce *pool.ConnError
	return errors.As(err, &ce) && (readOnly || !ce.Sent) && ctx.Err() == nil
}

func (s *sentinelSet) sendOnce(ctx context.Context, addr string, buf []byte) (protocol.Value, error) {
	c, err := s.conn(ctx, addr)
	if err != nil {
		return protocol.Value{}, err
	}
	cmd := core.NewCommand()
	cmd.Buf = append(cmd.Buf, buf...)
	w := core.NewReplyWaiter()
	c.Exec(ctx, cmd, w)
	return w.Wait(ctx)
}

// first sends an encoded command to the sentinels in order until one
// answers; an error reply is an answer. The one that answered moves to
// the front.
func (s *sentinelSet) first(ctx context.Context, buf []byte) (protocol.Value, error) {
	errs := map[string]error{}
	for _, addr := range s.known() {
		v, err := s.send(ctx, addr, buf, false)
		var re *protocol.RedisError
		if err == nil || errors.As(err, &re) {
			s.promote(addr)
			return v, err
		}
		if ctx.Err() != nil {
			return protocol.Value{}, ctx.Err()
		}
		errs[addr] = err
	}
	return protocol.Value{}, because(ErrNoSentinel, joinSentinels(errs))
}

type answer struct {
	addr string
	v    protocol.Value
	err  error
}

// all sends a command to every known sentinel at once and returns a
// channel of answers (buffered: stragglers never block) and how many will
// come. Each request is bounded by SentinelTimeout; after Close, each
// answer is ErrClosed.
func (s *sentinelSet) all(ctx context.Context, readOnly bool, args ...any) (<-chan answer, int) {
	addrs := s.known()
	ch := make(chan answer, len(addrs))
	for _, addr := range addrs {
		if !s.life.Go(func() {
			v, err := s.query(ctx, addr, readOnly, args...)
			ch <- answer{addr: addr, v: v, err: err}
		}) {
			ch <- answer{addr: addr, err: ErrClosed}
		}
	}
	return ch, len(addrs)
}

// master asks one sentinel for name's master: SENTINEL MASTER for the
// details and epoch, GET-MASTER-ADDR-BY-NAME for the address (a failover
// leader points it at the promoted replica while its SENTINEL MASTER
// still shows the old one), in one round trip.
func (s *sentinelSet) master(ctx context.Context, addr, name string) (Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SentinelTimeout)
	defer cancel()
	in, err := s.masterOnce(ctx, addr, name)
	if staleConn(ctx, err, true) {
		in, err = s.masterOnce(ctx, addr, name)
	}
	return in, err
}

func (s *sentinelSet) masterOnce(ctx context.Context, addr, name string) (Instance, error) {
	c, err := s.conn(ctx, addr)
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
	port, err := strconv.Atoi(hp[1])
	if err != nil {
		return Instance{}, errors.Join(errors.New("bad GET-MASTER-ADDR-BY-NAME reply"), err)
	}
	in.IP, in.Port = hp[0], port
	return in, nil
}

// masters asks every sentinel for name's master (querier).
func (s *sentinelSet) masters(ctx context.Context, name string) <-chan masterAnswer {
	addrs := s.known()
	ch := make(chan masterAnswer, len(addrs))
	for _, addr := range addrs {
		if !s.life.Go(func() {
			in, err := s.master(ctx, addr, name)
			ch <- masterAnswer{sentinel: addr, in: in, err: err}
		}) {
			ch <- masterAnswer{sentinel: addr, err: ErrClosed}
		}
	}
	return ch
}

// replicas asks the sentinels for name's replicas and returns the first
// list that comes (querier).
func (s *sentinelSet) replicas(ctx context.Context, name string) ([]Instance, error) {
	ch, n := s.all(ctx, true, "SENTINEL", "REPLICAS", name)
	errs := map[string]error{}
	for range n {
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
		if list == nil {
			list = []Instance{}
		}
		return list, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, classify(name, true, errs)
}

// role returns what ROLE says on the data node at addr (querier), on a
// connection kept for these checks. Errors are the pool's
// (*pool.DialError for a failed handshake, with the server's reply for a
// refused AUTH).
func (s *sentinelSet) role(ctx context.Context, addr string) (async.Role, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.SentinelTimeout)
	defer cancel()
	c, err := s.nodeConn(ctx, addr)
	if err != nil {
		return async.Role{}, err
	}
	start := time.Now()
	role, err := async.NewClient(c).Role(ctx).Result()
	if err != nil {
		c.Close() // in doubt: the next check dials again
		return role, err
	}
	s.noteRTT(addr, time.Since(start))
	return role, nil
}

// linkDown returns how long the replica at addr has been without its
// master, from its INFO replication (querier).
func (s *sentinelSet) linkDown(ctx context.Context, addr string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.cfg.SentinelTimeout)
	defer cancel()
	c, err := s.nodeConn(ctx, addr)
	if err != nil {
		return 0, err
	}
	info, err := async.NewClient(c).Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	v := info.Get("master_link_down_since_seconds")
	if v == "" {
		return 0, nil // the link is up
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 0 {
		// -1 (never linked since it started): as long as it has been up.
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(secs) * time.Second, nil
}

// noteRTT folds one measured round trip to a data node into its average
// (an exponentially weighted one, so one slow check does not flip it).
func (s *sentinelSet) noteRTT(addr string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.rtt[addr]; ok {
		d = (3*old + d) / 4
	}
	s.rtt[addr] = d
}

// nearest returns the address among addrs with the lowest measured round
// trip; addrs never measured come last, in their order.
func (s *sentinelSet) nearest(addrs []string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, bestRTT := "", time.Duration(-1)
	for _, a := range addrs {
		if rtt, ok := s.rtt[a]; ok && (bestRTT < 0 || rtt < bestRTT) {
			best, bestRTT = a, rtt
		}
	}
	if best == "" && len(addrs) > 0 {
		best = addrs[0]
	}
	return best
}

// nodeConn returns the connection kept for checking the data node at
// addr, dialling one if needed.
func (s *sentinelSet) nodeConn(ctx context.Context, addr string) (*pool.Conn, error) {
	cfg := s.cfg.dataConfig(addr)
	cfg.HealthCheckInterval = -1
	return s.kept(ctx, s.nodes, cfg)
}

// Exec makes the sentinel set an executor: each command goes to the
// sentinels in order until one answers (core.Executor). It runs on a
// goroutine the set's lifecycle owns; after Close it fails unsent.
func (s *sentinelSet) Exec(ctx context.Context, cmd *core.Command, sink core.Sink) {
	if !s.life.Go(func() {
		defer cmd.Release()
		v, err := s.first(ctx, cmd.Buf)
		sink.Complete(v, err)
	}) {
		cmd.Release()
		sink.Complete(protocol.Value{}, core.NotSent(ErrClosed))
	}
}

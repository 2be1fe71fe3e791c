package sentinel

import (
	"context"
	"errors"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/protocol"
)

// RedisSentinel is the facade over a SentinelPool: managed clients for
// masters and replicas, and every SENTINEL command.
type RedisSentinel struct {
	*SentinelPool
}

// New checks cfg and starts a SentinelPool. It does not block on the
// network: sentinels are contacted when a client or command first needs
// them. ctx bounds nothing after New returns; Close stops everything.
func New(ctx context.Context, cfg Config) (*RedisSentinel, error) {
	if ctx == nil {
		return nil, errors.New("sentinel: nil context")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := NewSentinelPool(cfg)
	if err != nil {
		return nil, err
	}
	return &RedisSentinel{SentinelPool: p}, nil
}

// MasterFor returns a client for name's master. It does not block: the
// master is discovered in the background and followed across failovers.
// Commands sent before a master is verified wait for it (or fail at once
// with *MasterNotFoundError under Config.FailFast).
func (s *RedisSentinel) MasterFor(name string) *async.Client {
	var c *async.Client
	if !s.call(func() { c = async.NewClient(s.serviceFor(name).master) }) {
		return async.NewClient(closedExecutor{})
	}
	return c
}

// SlaveFor returns a client that reads from name's healthy replicas, each
// key from one replica chosen by its hash slot, following them as they
// come and go.
func (s *RedisSentinel) SlaveFor(name string) *async.Client {
	var c *async.Client
	if !s.call(func() { c = async.NewClient(s.serviceFor(name).replicas) }) {
		return async.NewClient(closedExecutor{})
	}
	return c
}

type closedExecutor struct{}

func (closedExecutor) Exec(_ context.Context, cmd *core.Command, sink core.Sink) {
	cmd.Release()
	sink.Complete(protocol.Value{}, core.NotSent(ErrClosed))
}

// DiscoverMaster asks the sentinels for name's master now and verifies it
// with ROLE; it returns its address.
func (s *RedisSentinel) DiscoverMaster(ctx context.Context, name string) (string, error) {
	in, err := s.askMaster(ctx, name)
	if err != nil {
		return "", err
	}
	addr := s.cfg.AddrMapper(in.Addr())
	return addr, s.verifyRole(ctx, name, addr, "master")
}

// DiscoverSlave returns the addresses of name's usable replicas.
func (s *RedisSentinel) DiscoverSlave(ctx context.Context, name string) ([]string, error) {
	master, _ := s.DiscoverMaster(ctx, name)
	addrs, err := s.discoverReplicas(ctx, name, master)
	if err == nil && len(addrs) == 0 {
		err = &SlaveNotFoundError{Name: name, Err: ErrNotUsable}
	}
	return addrs, err
}

// Discover checks that at least one sentinel answers PING, and learns the
// peers of every master the sentinels monitor.
func (s *RedisSentinel) Discover(ctx context.Context) error {
	v, err := s.Execute(ctx, "MASTERS").Result()
	if err != nil {
		return err
	}
	masters, err := parseInstances(v)
	if err != nil {
		return err
	}
	for _, m := range masters {
		peers, err := s.Sentinels(ctx, m.Name).Result()
		if err != nil {
			continue
		}
		for _, peer := range peers {
			s.addSentinel(s.cfg.AddrMapper(peer.Addr()))
		}
	}
	return nil
}

// Execute sends "SENTINEL args..." to the sentinels in order, moving on to
// the next one when a sentinel cannot be reached; a sentinel's error reply
// is returned as it is.
func (s *RedisSentinel) Execute(ctx context.Context, args ...any) *async.Future[protocol.Value] {
	return s.execute(ctx, append([]any{"SENTINEL"}, args...))
}

func (s *RedisSentinel) execute(ctx context.Context, args []any) *async.Future[protocol.Value] {
	f, resolve := async.Promise[protocol.Value]()
	if s.Closed() {
		resolve(protocol.Value{}, core.NotSent(ErrClosed))
		return f
	}
	started := s.goWorker(func() {
		var errs []error
		for _, addr := range s.KnownSentinels() {
			v, err := s.query(ctx, addr, args...)
			var re *protocol.RedisError
			if err == nil || errors.As(err, &re) {
				s.promote(addr)
				resolve(v, err)
				return
			}
			errs = append(errs, errors.New(addr+": "+err.Error()))
			if ctx.Err() != nil {
				break
			}
		}
		resolve(protocol.Value{}, because(ErrNoSentinel, errors.Join(errs...)))
	})
	if !started {
		resolve(protocol.Value{}, core.NotSent(ErrClosed))
	}
	return f
}

// ExecuteAll sends "SENTINEL args..." to every known sentinel and returns
// each one's reply or error, by address.
// It waits for every answer, each bounded by Config.SentinelTimeout.
func (s *RedisSentinel) ExecuteAll(ctx context.Context, args ...any) map[string]*async.Future[protocol.Value] {
	ch, n := s.askAll(ctx, append([]any{"SENTINEL"}, args...)...)
	res := make(map[string]*async.Future[protocol.Value], n)
	for i := 0; i < n; i++ {
		a := <-ch
		if a.err != nil {
			res[a.addr] = async.Failed[protocol.Value](a.err)
		} else {
			res[a.addr] = async.Resolved(a.v)
		}
	}
	return res
}

func typed[T any](s *RedisSentinel, ctx context.Context, conv func(protocol.Value) (T, error), args ...any) *async.Future[T] {
	return async.Map(s.Execute(ctx, args...), conv)
}

// Ping pings the first sentinel that answers.
func (s *RedisSentinel) Ping(ctx context.Context) *async.Future[string] {
	return async.Map(s.execute(ctx, []any{"PING"}), async.ToStatus)
}

// Master returns what the sentinels know of name's master.
func (s *RedisSentinel) Master(ctx context.Context, name string) *async.Future[Instance] {
	return typed(s, ctx, parseInstance, "MASTER", name)
}

// Masters returns every monitored master.
func (s *RedisSentinel) Masters(ctx context.Context) *async.Future[[]Instance] {
	return typed(s, ctx, parseInstances, "MASTERS")
}

// MasterAddress returns name's master as "ip:port" (get-master-addr-by-name),
// mapped through Config.AddrMapper; *MasterNotFoundError when unknown.
func (s *RedisSentinel) MasterAddress(ctx context.Context, name string) *async.Future[string] {
	return typed(s, ctx, func(v protocol.Value) (string, error) {
		if v.IsNull() {
			return "", &MasterNotFoundError{Name: name, Err: ErrUnknownName}
		}
		ss, err := async.ToStrings(v)
		if err != nil || len(ss) != 2 {
			return "", &async.TypeError{Want: "address", Got: v.Kind}
		}
		return s.cfg.AddrMapper(ss[0] + ":" + ss[1]), nil
	}, "GET-MASTER-ADDR-BY-NAME", name)
}

// Replicas returns what the sentinels know of name's replicas.
func (s *RedisSentinel) Replicas(ctx context.Context, name string) *async.Future[[]Instance] {
	return typed(s, ctx, parseInstances, "REPLICAS", name)
}

// Slaves is Replicas under its older name.
func (s *RedisSentinel) Slaves(ctx context.Context, name string) *async.Future[[]Instance] {
	return typed(s, ctx, parseInstances, "SLAVES", name)
}

// Sentinels returns the other sentinels monitoring name.
func (s *RedisSentinel) Sentinels(ctx context.Context, name string) *async.Future[[]Instance] {
	return typed(s, ctx, parseInstances, "SENTINELS", name)
}

// Monitor starts monitoring a master.
func (s *RedisSentinel) Monitor(ctx context.Context, name, ip string, port, quorum int) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "MONITOR", name, ip, port, quorum)
}

// Remove stops monitoring a master.
func (s *RedisSentinel) Remove(ctx context.Context, name string) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "REMOVE", name)
}

// Set changes a monitoring option of name (down-after-milliseconds, ...).
func (s *RedisSentinel) Set(ctx context.Context, name, option string, value any) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "SET", name, option, value)
}

// Failover forces a failover of name without asking the other sentinels.
func (s *RedisSentinel) Failover(ctx context.Context, name string) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "FAILOVER", name)
}

// CheckQuorum checks that the sentinels can reach quorum and authorize a
// failover of name; the reply text says how many are usable.
func (s *RedisSentinel) CheckQuorum(ctx context.Context, name string) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "CKQUORUM", name)
}

// FlushConfig makes the sentinel rewrite its configuration file.
func (s *RedisSentinel) FlushConfig(ctx context.Context) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "FLUSHCONFIG")
}

// Reset resets the masters matching pattern and returns how many.
func (s *RedisSentinel) Reset(ctx context.Context, pattern string) *async.Future[int64] {
	return typed(s, ctx, async.ToInt64, "RESET", pattern)
}

// MyID returns the sentinel's ID.
func (s *RedisSentinel) MyID(ctx context.Context) *async.Future[string] {
	return typed(s, ctx, async.ToString, "MYID")
}

// ConfigGet returns sentinel configuration parameters matching name.
func (s *RedisSentinel) ConfigGet(ctx context.Context, name string) *async.Future[map[string]string] {
	return typed(s, ctx, async.ToStringMap, "CONFIG", "GET", name)
}

// ConfigSet sets a sentinel configuration parameter.
func (s *RedisSentinel) ConfigSet(ctx context.Context, name string, value any) *async.Future[string] {
	return typed(s, ctx, async.ToStatus, "CONFIG", "SET", name, value)
}

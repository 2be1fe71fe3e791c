package sentinel

import (
	"context"
	"fmt"
	"net"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/protocol"
)

// RedisSentinel is the facade over a SentinelPool: what the pool offers
// (managed clients for masters and replicas, discovery, Execute, Close),
// plus every SENTINEL command as a typed method.
type RedisSentinel struct {
	*SentinelPool
}

// New checks cfg and starts a SentinelPool. It does not touch the
// network: sentinels are contacted when a client or command first needs
// them (Discover, or a PING through MasterFor, bounded by the caller's
// context, checks them at once; connect.Sentinel does that for you).
// Close stops everything.
func New(cfg Config) (*RedisSentinel, error) {
	p, err := NewSentinelPool(cfg)
	if err != nil {
		return nil, err
	}
	return &RedisSentinel{SentinelPool: p}, nil
}

func typed[T any](s *RedisSentinel, ctx context.Context, conv func(protocol.Value) (T, error), args ...any) *async.Future[T] {
	return async.Map(s.Execute(ctx, args...), conv)
}

// PingSentinel sends PING to the first sentinel that answers (not to a
// data node: MasterFor(name).Ping does that).
func (s *RedisSentinel) PingSentinel(ctx context.Context) *async.Future[string] {
	return async.Cmd(ctx, s.SentinelClient(), async.ToStatus, "PING")
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
		return s.cfg.AddrMapper(net.JoinHostPort(ss[0], ss[1])), nil
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
func (s *RedisSentinel) Monitor(ctx context.Context, name, ip string, port, quorum int) *async.Future[Outcomes] {
	return s.everySentinel(ctx, "MONITOR", name, ip, port, quorum)
}

// Remove stops monitoring a master.
func (s *RedisSentinel) Remove(ctx context.Context, name string) *async.Future[Outcomes] {
	return s.everySentinel(ctx, "REMOVE", name)
}

// SetOption changes a monitoring option of the master called name
// (SENTINEL SET name option value: down-after-milliseconds, quorum, ...)
// on every known sentinel. It writes no data: MasterFor(name).Set does.
func (s *RedisSentinel) SetOption(ctx context.Context, name, option string, value any) *async.Future[Outcomes] {
	return s.everySentinel(ctx, "SET", name, option, value)
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
func (s *RedisSentinel) FlushConfig(ctx context.Context) *async.Future[Outcomes] {
	return s.everySentinel(ctx, "FLUSHCONFIG")
}

// Reset resets the masters matching pattern and returns how many.
// Each outcome's Reply is that sentinel's count.
func (s *RedisSentinel) Reset(ctx context.Context, pattern string) *async.Future[Outcomes] {
	return s.everySentinel(ctx, "RESET", pattern)
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
func (s *RedisSentinel) ConfigSet(ctx context.Context, name string, value any) *async.Future[Outcomes] {
	return s.everySentinel(ctx, "CONFIG", "SET", name, value)
}

// Outcomes is what every known sentinel answered to an admin command, by
// address. Admin commands (Monitor, Remove, Set, Reset, FlushConfig,
// ConfigSet) change one sentinel's configuration only, so they are sent to
// every known sentinel, as redis-py does.
type Outcomes map[string]Outcome

// Outcome is one sentinel's reply, or why it has none.
type Outcome struct {
	Reply protocol.Value
	Err   error
}

// AdminError fails an admin command that some sentinel did not carry out;
// Outcomes holds every sentinel's answer.
type AdminError struct {
	Outcomes Outcomes
}

func (e *AdminError) Error() string {
	errs := map[string]error{}
	for addr, o := range e.Outcomes {
		if o.Err != nil {
			errs[addr] = o.Err
		}
	}
	return fmt.Sprintf("sentinel: %d of %d sentinels failed: %v", len(errs), len(e.Outcomes), joinSentinels(errs))
}

// Unwrap returns each sentinel's error.
func (e *AdminError) Unwrap() []error {
	var errs []error
	for _, o := range e.Outcomes {
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	return errs
}

// everySentinel sends "SENTINEL args..." to every known sentinel; the
// future fails with *AdminError unless every one succeeded.
func (s *RedisSentinel) everySentinel(ctx context.Context, args ...any) *async.Future[Outcomes] {
	futs := s.ExecuteAll(ctx, args...)
	f, resolve := async.Promise[Outcomes]()
	collect := func() {
		out := make(Outcomes, len(futs))
		failed := false
		for addr, fut := range futs {
			v, err := fut.Result()
			out[addr] = Outcome{Reply: v, Err: err}
			failed = failed || err != nil
		}
		if failed {
			resolve(nil, &AdminError{Outcomes: out})
			return
		}
		resolve(out, nil)
	}
	if !s.life.Go(collect) {
		collect() // closed: every future has already failed
	}
	return f
}

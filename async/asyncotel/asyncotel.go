// Package asyncotel traces and measures asyncredis with OpenTelemetry,
// following OpenTelemetry's semantic conventions for database clients
// (Redis): a client span and a db.client.operation.duration measurement
// per command, with db.system.name, db.operation.name, server.address,
// server.port, db.namespace and, on failure, error.type.
//
// It is its own module, so the core module depends on no OpenTelemetry
// package. Hooks go into pool.Config.Hooks — for sentinel-managed pools,
// sentinel.Config.Pool.Hooks, so that each span names the node that
// served it (the master before a failover, the new one after).
// ObservePool and ObserveSentinel publish connection, queue and failover
// gauges.
package asyncotel

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strconv"
	"strings"

	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/asyncredis/asyncredis/sentinel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/asyncredis/asyncredis/async/asyncotel"

// Attribute keys from OpenTelemetry's semantic conventions, and this
// client's own.
const (
	DBSystemName    = attribute.Key("db.system.name")
	DBOperationName = attribute.Key("db.operation.name")
	DBNamespace     = attribute.Key("db.namespace")
	DBBatchSize     = attribute.Key("db.operation.batch.size")
	ServerAddress   = attribute.Key("server.address")
	ServerPort      = attribute.Key("server.port")
	ErrorType       = attribute.Key("error.type")
	Sent            = attribute.Key("asyncredis.sent")     // false: surely not executed (safe to retry)
	Requeued        = attribute.Key("asyncredis.requeued") // taken back unsent to go to another node
	ConnEventKind   = attribute.Key("asyncredis.connection.event")
	Dedicated       = attribute.Key("asyncredis.connection.dedicated")
	Service         = attribute.Key("asyncredis.sentinel.service")
)

type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	attrs []attribute.KeyValue
}

// Option configures Hooks, ObservePool and ObserveSentinel.
type Option func(*config)

// WithTracerProvider sets the tracer provider (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets the meter provider (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithAttributes adds attributes to every span and measurement.
func WithAttributes(kv ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, kv...) }
}

func newConfig(opts []Option) config {
	c := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Hooks returns hooks for pool.Config.Hooks: a client span per command
// (named after the command, a child of the span in the command's
// context), the db.client.operation.duration histogram, and a counter of
// connection events (asyncredis.client.connection.events). Combine them
// with others with core.JoinHooks.
func Hooks(opts ...Option) (*core.Hooks, error) {
	cfg := newConfig(opts)
	tracer := cfg.tp.Tracer(ScopeName)
	meter := cfg.mp.Meter(ScopeName)
	duration, err := meter.Float64Histogram("db.client.operation.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of database client operations."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, err
	}
	connEvents, err := meter.Int64Counter("asyncredis.client.connection.events",
		metric.WithUnit("{event}"), metric.WithDescription("Connections dialled, failing to dial and closed."))
	if err != nil {
		return nil, err
	}
	return &core.Hooks{
		Command: func(ctx context.Context, info core.CommandInfo) func(core.CommandResult) {
			attrs := append(commandAttrs(info), cfg.attrs...)
			ctx, span := tracer.Start(ctx, info.Name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
			return func(r core.CommandResult) {
				if r.Err != nil {
					et := errorType(r.Err)
					attrs = append(attrs, ErrorType.String(et))
					span.SetStatus(codes.Error, r.Err.Error())
					span.SetAttributes(ErrorType.String(et))
				}
				span.SetAttributes(Sent.Bool(r.Sent))
				if r.Requeued {
					span.SetAttributes(Requeued.Bool(true))
				}
				duration.Record(ctx, r.Duration.Seconds(), metric.WithAttributes(attrs...))
				span.End()
			}
		},
		Conn: func(e core.ConnEvent) {
			attrs := append(serverAttrs(e.Addr), ConnEventKind.String(e.Kind), Dedicated.Bool(e.Dedicated))
			connEvents.Add(context.Background(), 1, metric.WithAttributes(append(attrs, cfg.attrs...)...))
		},
	}, nil
}

// commandAttrs are a command's span and metric attributes.
func commandAttrs(info core.CommandInfo) []attribute.KeyValue {
	attrs := append(serverAttrs(info.Addr),
		DBSystemName.String("redis"),
		DBOperationName.String(strings.ToUpper(info.Name)),
		DBNamespace.String(strconv.Itoa(info.DB)))
	if info.Pipeline > 1 {
		attrs = append(attrs, DBBatchSize.Int(info.Pipeline))
	}
	return attrs
}

// serverAttrs splits addr into server.address and server.port (a unix
// socket's path has no port).
func serverAttrs(addr string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []attribute.KeyValue{ServerAddress.String(addr)}
	}
	p, _ := strconv.Atoi(port)
	return []attribute.KeyValue{ServerAddress.String(host), ServerPort.Int(p)}
}

// errorType is error.type: the prefix of a Redis error reply (ERR,
// WRONGTYPE, READONLY...), the context's error, or the Go type of the
// error.
func errorType(err error) string {
	var re *protocol.RedisError
	switch {
	case errors.As(err, &re):
		if re.Prefix != "" && re.Prefix == strings.ToUpper(re.Prefix) {
			return re.Prefix
		}
		return "ERR"
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	}
	return reflect.TypeOf(err).String()
}

// ObservePool publishes a pool's statistics as gauges, read at each
// collection: asyncredis.pool.connections (state: shared, dedicated, lent,
// idle), asyncredis.pool.in_flight (commands queued or awaiting replies)
// and asyncredis.pool.waiting (commands waiting for a connection, or for
// a master in a managed pool). name tells pools apart (attribute
// asyncredis.pool.name). Unregister it when the pool closes.
func ObservePool(p interface{ Stats() pool.Stats }, name string, opts ...Option) (metric.Registration, error) {
	cfg := newConfig(opts)
	meter := cfg.mp.Meter(ScopeName)
	g, err := newPoolGauges(meter)
	if err != nil {
		return nil, err
	}
	base := append([]attribute.KeyValue{attribute.String("asyncredis.pool.name", name)}, cfg.attrs...)
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		g.observe(o, p.Stats(), base)
		return nil
	}, g.conns, g.inFlight, g.waiting)
}

// poolGauges are the gauges of one pool's statistics.
type poolGauges struct {
	conns, inFlight, waiting metric.Int64ObservableGauge
}

func newPoolGauges(meter metric.Meter) (poolGauges, error) {
	var g poolGauges
	var err1, err2, err3 error
	g.conns, err1 = meter.Int64ObservableGauge("asyncredis.pool.connections", metric.WithUnit("{connection}"))
	g.inFlight, err2 = meter.Int64ObservableGauge("asyncredis.pool.in_flight", metric.WithUnit("{command}"))
	g.waiting, err3 = meter.Int64ObservableGauge("asyncredis.pool.waiting", metric.WithUnit("{command}"))
	return g, errors.Join(err1, err2, err3)
}

func (g poolGauges) observe(o metric.Observer, s pool.Stats, base []attribute.KeyValue) {
	with := func(extra ...attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributes(append(append([]attribute.KeyValue(nil), base...), extra...)...)
	}
	for state, n := range map[string]int{"shared": s.Conns, "dedicated": s.Dedicated, "lent": s.Lent, "idle": s.Idle} {
		o.ObserveInt64(g.conns, int64(n), with(attribute.String("state", state)))
	}
	o.ObserveInt64(g.inFlight, s.InFlight, with())
	o.ObserveInt64(g.waiting, int64(s.Waiting), with())
}

// ObserveSentinel publishes, per monitored master (attribute
// asyncredis.sentinel.service), the managed pools' statistics as
// ObservePool does (asyncredis.pool.name "master" and "replica"; waiting
// on the master pool counts commands waiting for a master),
// asyncredis.sentinel.switches (how often the client moved to a new
// master), asyncredis.sentinel.fenced (1 while a failover holds writes)
// and asyncredis.sentinel.replicas (replicas read from).
func ObserveSentinel(s *sentinel.SentinelPool, opts ...Option) (metric.Registration, error) {
	cfg := newConfig(opts)
	meter := cfg.mp.Meter(ScopeName)
	g, err1 := newPoolGauges(meter)
	switches, err2 := meter.Int64ObservableCounter("asyncredis.sentinel.switches", metric.WithUnit("{switch}"))
	fenced, err3 := meter.Int64ObservableGauge("asyncredis.sentinel.fenced")
	replicas, err4 := meter.Int64ObservableGauge("asyncredis.sentinel.replicas", metric.WithUnit("{replica}"))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, st := range s.Stats() {
			svc := append([]attribute.KeyValue{Service.String(st.Name)}, cfg.attrs...)
			opt := metric.WithAttributes(svc...)
			o.ObserveInt64(switches, int64(st.Switches), opt)
			f := int64(0)
			if st.Fenced {
				f = 1
			}
			o.ObserveInt64(fenced, f, opt)
			o.ObserveInt64(replicas, int64(len(st.Replicas)), opt)
			g.observe(o, st.MasterPool, append(svc, attribute.String("asyncredis.pool.name", "master")))
			g.observe(o, st.ReplicaPool, append(svc, attribute.String("asyncredis.pool.name", "replica")))
		}
		return nil
	}, g.conns, g.inFlight, g.waiting, switches, fenced, replicas)
}

// ObserveCluster publishes a cluster client's state: each node's pool as
// ObservePool does (asyncredis.pool.name is the node's address, with
// "replica " before a replica read from),
// asyncredis.cluster.redirects (attribute kind: moved, ask, tryagain,
// clusterdown, requeued — handled by the client, none reached a
// caller), asyncredis.cluster.refreshes (slot-map reads) and
// asyncredis.cluster.waiting (commands waiting for their slot). Spans
// name the node that served each attempt (server.address); an attempt
// answered with a redirect ends with error.type MOVED or ASK.
func ObserveCluster(c *cluster.Cluster, opts ...Option) (metric.Registration, error) {
	cfg := newConfig(opts)
	meter := cfg.mp.Meter(ScopeName)
	g, err1 := newPoolGauges(meter)
	redirects, err2 := meter.Int64ObservableCounter("asyncredis.cluster.redirects", metric.WithUnit("{command}"))
	refreshes, err3 := meter.Int64ObservableCounter("asyncredis.cluster.refreshes", metric.WithUnit("{refresh}"))
	slotWait, err4 := meter.Int64ObservableGauge("asyncredis.cluster.waiting", metric.WithUnit("{command}"))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.Stats()
		for kind, n := range map[string]int64{"moved": st.Moved, "ask": st.Ask, "tryagain": st.TryAgain,
			"clusterdown": st.ClusterDown, "requeued": st.Requeued} {
			o.ObserveInt64(redirects, n, metric.WithAttributes(append([]attribute.KeyValue{attribute.String("kind", kind)}, cfg.attrs...)...))
		}
		o.ObserveInt64(refreshes, st.Refreshes, metric.WithAttributes(cfg.attrs...))
		o.ObserveInt64(slotWait, int64(st.Waiting), metric.WithAttributes(cfg.attrs...))
		for name, ns := range st.Nodes {
			g.observe(o, ns.Pool, append([]attribute.KeyValue{attribute.String("asyncredis.pool.name", name)}, cfg.attrs...))
		}
		return nil
	}, g.conns, g.inFlight, g.waiting, redirects, refreshes, slotWait)
}

package asyncotel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/asyncotel"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// telemetry is an in-memory OpenTelemetry pipeline.
type telemetry struct {
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	opts   []asyncotel.Option
	tp     *sdktrace.TracerProvider
}

func newTelemetry(t *testing.T) *telemetry {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
	return &telemetry{spans: spans, reader: reader, tp: tp,
		opts: []asyncotel.Option{asyncotel.WithTracerProvider(tp), asyncotel.WithMeterProvider(mp)}}
}

func (tm *telemetry) metrics(t *testing.T) map[string]metricdata.Aggregation {
	var rm metricdata.ResourceMetrics
	require.NoError(t, tm.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func attr(attrs []attribute.KeyValue, k attribute.Key) string {
	for _, a := range attrs {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}

func TestSpansAndMetricsFollowTheConventions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	tm := newTelemetry(t)
	hooks, err := asyncotel.Hooks(tm.opts...)
	require.NoError(t, err)
	p, err := pool.New(pool.Config{Addr: r.Addr(), DB: 3, Hooks: hooks})
	require.NoError(t, err)
	defer p.Close()
	reg, err := asyncotel.ObservePool(p, "main", tm.opts...)
	require.NoError(t, err)
	defer reg.Unregister()
	c := async.NewClient(p)

	parentCtx, parent := tm.tp.Tracer("test").Start(ctx, "request")
	require.NoError(t, c.Set(parentCtx, "k", "v").Err())
	require.Error(t, c.LPush(parentCtx, "k", "x").Err()) // WRONGTYPE
	parent.End()

	spans := tm.spans.GetSpans()
	require.Len(t, spans, 3)
	set, lpush := spans[0], spans[1]
	host, port, _ := strings.Cut(r.Addr(), ":")
	for _, s := range []tracetest.SpanStub{set, lpush} {
		assert.Equal(t, trace.SpanKindClient, s.SpanKind)
		assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext.TraceID(), "a child of the request's span")
		assert.Equal(t, "redis", attr(s.Attributes, asyncotel.DBSystemName))
		assert.Equal(t, host, attr(s.Attributes, asyncotel.ServerAddress))
		assert.Equal(t, port, attr(s.Attributes, asyncotel.ServerPort))
		assert.Equal(t, "3", attr(s.Attributes, asyncotel.DBNamespace))
		assert.Equal(t, "true", attr(s.Attributes, asyncotel.Sent))
	}
	assert.Equal(t, "SET", set.Name)
	assert.Equal(t, "SET", attr(set.Attributes, asyncotel.DBOperationName))
	assert.Equal(t, codes.Unset, set.Status.Code)
	assert.Equal(t, "LPUSH", attr(lpush.Attributes, asyncotel.DBOperationName))
	assert.Equal(t, codes.Error, lpush.Status.Code)
	assert.Equal(t, "WRONGTYPE", attr(lpush.Attributes, asyncotel.ErrorType))

	m := tm.metrics(t)
	hist, ok := m["db.client.operation.duration"].(metricdata.Histogram[float64])
	require.True(t, ok)
	ops := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		op, _ := dp.Attributes.Value(asyncotel.DBOperationName)
		et, _ := dp.Attributes.Value(asyncotel.ErrorType)
		ops[op.AsString()+"/"+et.AsString()] += dp.Count
	}
	assert.Equal(t, map[string]uint64{"SET/": 1, "LPUSH/WRONGTYPE": 1}, ops)
	conns, ok := m["asyncredis.pool.connections"].(metricdata.Gauge[int64])
	require.True(t, ok)
	shared := int64(-1)
	for _, dp := range conns.DataPoints {
		if st, _ := dp.Attributes.Value("state"); st.AsString() == "shared" {
			shared = dp.Value
		}
	}
	assert.Equal(t, int64(1), shared)
	events, ok := m["asyncredis.client.connection.events"].(metricdata.Sum[int64])
	require.True(t, ok)
	require.NotEmpty(t, events.DataPoints)
}

// A server error that quotes the command's arguments (an unknown
// command, here) reaches spans and metrics as its kind and the message
// cut before the quotes; the caller's own error keeps the whole text.
func TestSpansDoNotRepeatArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := integration.StartRedisT(t, integration.RedisConfig{})
	tm := newTelemetry(t)
	hooks, err := asyncotel.Hooks(tm.opts...)
	require.NoError(t, err)
	p, err := pool.New(pool.Config{Addr: r.Addr(), Hooks: hooks})
	require.NoError(t, err)
	defer p.Close()
	c := async.NewClient(p)
	const secret = "hunter2-secret"
	_, err = c.Do(ctx, "NOSUCHCMD", secret).Result()
	require.ErrorContains(t, err, secret, "the caller's error is complete")
	_, err = c.Do(ctx, "SET", "k", "v", "EX", secret).Result()
	require.Error(t, err)

	spans := tm.spans.GetSpans()
	require.Len(t, spans, 2)
	for _, sp := range spans {
		assert.Equal(t, codes.Error, sp.Status.Code)
		assert.NotContains(t, sp.Status.Description, secret)
		assert.NotEmpty(t, sp.Status.Description)
		assert.Equal(t, "ERR", attr(sp.Attributes, asyncotel.ErrorType))
		for _, ev := range sp.Events {
			for _, a := range ev.Attributes {
				assert.NotContains(t, a.Value.Emit(), secret, "span event %s", ev.Name)
			}
		}
	}
	assert.Equal(t, "redis: ERR unknown command", spans[0].Status.Description)
}

// Through a sentinel-managed client, the spans name the node that served
// each command: the old master before a failover, the new one after; the
// sentinel gauges count the switch.
func TestSpansShowWhichNodeServedAcrossFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := integration.StartSentinelT(t, integration.SentinelConfig{})
	tm := newTelemetry(t)
	hooks, err := asyncotel.Hooks(tm.opts...)
	require.NoError(t, err)
	s, err := sentinel.New(sentinel.Config{Sentinels: d.SentinelAddrs(), Pool: pool.Config{Hooks: hooks}})
	require.NoError(t, err)
	defer s.Close()
	reg, err := asyncotel.ObserveSentinel(s.SentinelPool, tm.opts...)
	require.NoError(t, err)
	defer reg.Unregister()
	m := s.MasterFor(d.Config.MasterName)
	old := d.Master
	// The managed pool asks nodes for their ROLE in the background: those
	// spans come and go beside the command's own.
	sets := func() (addrs []string) { // the SET spans' server addresses
		for _, sp := range tm.spans.GetSpans() {
			if sp.Name == "SET" {
				addrs = append(addrs, attr(sp.Attributes, asyncotel.ServerAddress))
			}
		}
		return addrs
	}
	require.NoError(t, m.Set(ctx, "before", "1").Err())
	before := sets()
	require.Len(t, before, 1)
	assert.Equal(t, old.IP, before[0], "served by the first master")

	require.NoError(t, d.Failover(ctx))
	next, err := d.WaitForNewMaster(ctx, old.Addr(), 30*time.Second)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		role, err := m.Role(cctx).Result()
		return err == nil && role.Role == "master"
	}, 30*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		tm.spans.Reset()
		require.NoError(t, m.Set(ctx, "after", "1").Err())
		after := sets()
		return len(after) == 1 && after[0] == next.IP
	}, 10*time.Second, 10*time.Millisecond, "writes are served by the new master")

	sw, ok := tm.metrics(t)["asyncredis.sentinel.switches"].(metricdata.Sum[int64])
	require.True(t, ok)
	require.Len(t, sw.DataPoints, 1)
	assert.Equal(t, int64(1), sw.DataPoints[0].Value, "one switch: the failover")
	assert.NotEqual(t, old.IP, next.IP)
}

func TestClusterSpansNameTheNodeAndMetricsCountRedirects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc := integration.StartClusterT(t, integration.ClusterConfig{ReplicasPerMaster: -1})
	tm := newTelemetry(t)
	hooks, err := asyncotel.Hooks(tm.opts...)
	require.NoError(t, err)
	c, err := cluster.New(ctx, cluster.Config{Seeds: rc.Seeds()[:1], Pool: pool.Config{Hooks: hooks}, RefreshInterval: -1})
	require.NoError(t, err)
	defer c.Close()
	reg, err := asyncotel.ObserveCluster(c, tm.opts...)
	require.NoError(t, err)
	defer reg.Unregister()
	cl := c.Client()
	key := "otel-key"
	require.NoError(t, cl.Set(ctx, key, "1").Err())
	owner := c.SlotOwner(cluster.Slot(key))
	var spanAddrs []string
	for _, sp := range tm.spans.GetSpans() {
		if sp.Name == "SET" {
			spanAddrs = append(spanAddrs, attr(sp.Attributes, asyncotel.ServerAddress)+":"+attr(sp.Attributes, asyncotel.ServerPort))
		}
	}
	assert.Equal(t, []string{owner}, spanAddrs, "the span names the slot's master")

	// The slot moves behind the client's back: one MOVED, handled.
	var from, to *integration.Node
	for _, m := range rc.Masters {
		if m.Addr() == owner {
			from = m
		} else if to == nil {
			to = m
		}
	}
	require.NoError(t, rc.MoveSlots(ctx, []int{int(cluster.Slot(key))}, from, to))
	tm.spans.Reset()
	v, err := cl.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "1", v)
	var kinds []string
	for _, sp := range tm.spans.GetSpans() {
		if sp.Name == "GET" {
			kinds = append(kinds, attr(sp.Attributes, asyncotel.ServerAddress)+" "+attr(sp.Attributes, asyncotel.ErrorType))
		}
	}
	assert.Equal(t, []string{from.IP + " MOVED", to.IP + " "}, kinds, "the first attempt was redirected, the second served")
	red, ok := tm.metrics(t)["asyncredis.cluster.redirects"].(metricdata.Sum[int64])
	require.True(t, ok)
	moved := int64(0)
	for _, dp := range red.DataPoints {
		if k, _ := dp.Attributes.Value("kind"); k.AsString() == "moved" {
			moved = dp.Value
		}
	}
	assert.Equal(t, int64(1), moved)
}

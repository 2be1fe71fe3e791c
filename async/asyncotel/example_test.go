package asyncotel_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/asyncotel"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Trace every command of a pool: the hooks go into pool.Config (for a
// sentinel client, into sentinel.Config.Pool). Here the spans go to an
// in-memory exporter; a service would use its OTLP exporter.
func ExampleHooks() {
	ctx := context.Background()
	r, err := integration.StartRedis(ctx, integration.RedisConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close(ctx)

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)
	hooks, err := asyncotel.Hooks(asyncotel.WithTracerProvider(tp))
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := pool.New(pool.Config{Addr: r.Addr(), Hooks: hooks})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	c := async.NewClient(p)
	c.Set(ctx, "greeting", "hello").Err()
	c.Get(ctx, "greeting").Err()
	c.LPush(ctx, "greeting", "x").Err() // a WRONGTYPE error reply

	for _, s := range spans.GetSpans() {
		fmt.Println(strings.TrimSpace(fmt.Sprint(s.Name, " ", s.Status.Code, " ", attr(s.Attributes, asyncotel.ErrorType))))
	}
	// Output:
	// SET Unset
	// GET Unset
	// LPUSH Error WRONGTYPE
}

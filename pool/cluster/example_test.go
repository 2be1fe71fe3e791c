package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
)

// Connect to a cluster and use it as one Redis. (Compiled, not run: it
// needs a cluster.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := cluster.New(ctx, cluster.Config{
		Seeds: []string{"10.0.0.1:6379", "10.0.0.2:6379"},
		Pool:  pool.Config{Password: "secret"},
		Reads: core.ReadReplicaPreferred,
	})
	if err != nil {
		log.Fatal(err) // no seed answered: errors.Is(err, cluster.ErrNoNodes)
	}
	defer c.Close()
	cl := c.Client()

	cl.Set(ctx, "user:1", "ada") // unawaited: still runs before the GET
	name, err := cl.Get(ctx, "user:1").Result()
	fmt.Println(name, err)

	// Keys of several slots: split and merged in key order.
	vals, err := cl.MGet(ctx, "user:1", "user:2", "user:3").Result()
	fmt.Println(len(vals), err)

	// A transaction needs one slot: give the keys one {hash tag}.
	tx := cl.TxPipeline()
	tx.Client().Incr(ctx, "{user:1}:visits")
	tx.Client().Set(ctx, "{user:1}:seen", "now")
	if err := tx.Exec(ctx); errors.Is(err, cluster.ErrCrossSlot) {
		fmt.Println("keys in several slots")
	}

	for key, err := range c.Scan(ctx, async.ScanArgs{Match: "user:*"}) {
		fmt.Println(key, err)
	}
}

package integration_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/asyncredis/asyncredis/integration"
)

// Start a deployment, kill its master and wait for the sentinels to agree
// on a new one. (Compiled, not run: it needs a Docker engine.)
func Example() {
	ctx := context.Background()
	d, err := integration.StartSentinel(ctx, integration.SentinelConfig{Replicas: 2, Sentinels: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(ctx)

	fmt.Println("sentinels:", d.SentinelAddrs())
	if err := d.Master.Kill(ctx); err != nil {
		log.Fatal(err)
	}
	nm, err := d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new master:", nm.Addr())
}

package sentinel_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/sentinel"
)

// Follow a master across failovers. (Compiled, not run: it needs sentinels.)
func Example() {
	ctx := context.Background()
	s, err := sentinel.New(sentinel.Config{
		Sentinels: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		Pool:      pool.Config{Password: "data-password"},
		Sentinel:  pool.Config{Password: "sentinel-password"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	master := s.MasterFor("mymaster")
	replica := s.ReplicaFor("mymaster")

	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = master.Set(cctx, "greeting", "hello").Err()
	switch {
	case errors.Is(err, pool.ErrInFlight):
		fmt.Println("the master failed with the write in flight: it may have run")
	case errors.Is(err, sentinel.ErrUnknownName):
		fmt.Println("no sentinel monitors mymaster")
	case err != nil:
		fmt.Println(err)
	}
	v, err := replica.Get(cctx, "greeting").Result()
	fmt.Println(v, err)

	for ev := range s.Events() {
		if ev.Kind == sentinel.EventMasterChanged {
			fmt.Println("now writing to", ev.Addr)
		}
	}
}

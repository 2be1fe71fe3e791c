package cluster

import (
	"time"

	"github.com/asyncredis/asyncredis/pool"
)

func poolQuick() pool.Config {
	return pool.Config{DialTimeout: 200 * time.Millisecond, ReconnectBackoff: 5 * time.Millisecond, MaxReconnectBackoff: 20 * time.Millisecond}
}

func poolBadProtocol() pool.Config { return pool.Config{Protocol: 7} }

package integration

import (
	"context"
	"os"
	"strings"
)

// SentinelsFromEnv returns the deployment a program should use: the
// sentinels listed in REDIS_SENTINELS (comma-separated) and the name in
// REDIS_MASTER_NAME (default "mymaster"), or, when REDIS_SENTINELS is
// unset, a sandbox started here (1 master, 2 replicas, 3 sentinels), which
// is returned so the caller can inject faults and must Close it. progress,
// if set, hears what is happening while containers start.
func SentinelsFromEnv(ctx context.Context, progress func(msg string)) (addrs []string, name string, sandbox *Deployment, err error) {
	say := func(msg string) {
		if progress != nil {
			progress(msg)
		}
	}
	if env := os.Getenv("REDIS_SENTINELS"); env != "" {
		name = os.Getenv("REDIS_MASTER_NAME")
		if name == "" {
			name = "mymaster"
		}
		return strings.Split(env, ","), name, nil, nil
	}
	say("REDIS_SENTINELS not set: starting a sandbox (1 master, 2 replicas, 3 sentinels) in Docker...")
	if err := DockerAvailable(ctx); err != nil {
		return nil, "", nil, err
	}
	img, err := Image(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	say("image " + img + " ready; starting containers and waiting until every sentinel sees everything...")
	d, err := StartSentinel(ctx, SentinelConfig{})
	if err != nil {
		return nil, "", nil, err
	}
	return d.SentinelAddrs(), d.Config.MasterName, d, nil
}

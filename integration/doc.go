// Package integration starts real Redis servers and Sentinel deployments in
// Docker, through testcontainers-go, for the project's end-to-end tests and
// examples, and injects faults into them.
//
// Each deployment gets its own bridge network with a subnet chosen by Docker
// and fixed addresses per node, so a node keeps its address across kills,
// restarts and network disconnects. The host reaches nodes at those
// addresses directly; no ports are published.
//
// # Image
//
// [Image] picks the Redis image: ASYNCREDIS_REDIS_IMAGE if set; otherwise
// a local image imported from the host's redis-server and redis-cli and the
// shared libraries they load (no registry needed: on Debian,
// apt-get install redis-server); otherwise the official redis:7 image.
// The testcontainers reaper is disabled unless TESTCONTAINERS_RYUK_DISABLED
// is set, because its image cannot be pulled without a registry; the
// harness removes what it creates itself ([Deployment.Close],
// [Redis.Close], or the test's Cleanup with [StartSentinelT] and
// [StartRedisT]).
//
// # Faults
//
// [Node] offers Kill (SIGKILL), Start, Restart, Pause and Unpause (a hung
// process with open sockets), Disconnect and Reconnect (cut off the
// network). [Deployment.Failover] sends SENTINEL FAILOVER;
// [Deployment.WaitForNewMaster] waits until every running sentinel names
// the same new master and its ROLE agrees.
//
// # Concurrency
//
// Node and Deployment methods are safe to call from several goroutines.
// The harness talks to servers with its own minimal RESP2 client, so that
// it does not depend on the client under test.
//
// # Errors
//
// Without a reachable Docker engine, [RequireDocker] skips a test with one
// line, or fails it when CI=true. Error replies from servers are
// *[ServerError].
package integration

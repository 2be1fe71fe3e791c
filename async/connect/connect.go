// Package connect opens a ready *async.Client in one call — from a URL
// (REDIS_URL) or from a configuration — for a standalone server, a
// master behind Redis Sentinel, or a Redis Cluster:
//
//	c, err := connect.URL(ctx, os.Getenv("REDIS_URL"))
//	if err != nil { ... }
//	defer c.Close()
//	c.Set(ctx, "k", "v")
//
// It sits above the pool, sentinel and cluster packages (none of them
// imports it). The client's Close closes everything the call opened.
// For what the client offers beyond one call — a RedisSentinel's
// SENTINEL commands and several services, a Cluster's Events and Scan —
// use those packages directly.
package connect

import (
	"context"
	"errors"
	"fmt"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/asyncredis/asyncredis/pool"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/asyncredis/asyncredis/sentinel"
)

// URL parses raw (see ParseURL) and opens a client for it (see Open).
func URL(ctx context.Context, raw string) (*async.Client, error) {
	o, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return Open(ctx, o)
}

// Open opens a client for the deployment o describes. ctx bounds the
// first contact, which Open waits for so that a wrong address or
// password is reported here: a PING answered (standalone), the master
// discovered and answering (Sentinel), the slot map read (Cluster). On
// an error nothing stays open.
func Open(ctx context.Context, o *Options) (*async.Client, error) {
	switch o.Kind {
	case KindSentinel:
		cfg := o.Sentinel
		cfg.Pool = o.Pool
		return Sentinel(ctx, cfg, o.MasterName, o.Reads)
	case KindCluster:
		cfg := o.Cluster
		cfg.Pool, cfg.Reads = o.Pool, o.Reads
		return Cluster(ctx, cfg)
	case KindStandalone:
		return Standalone(ctx, o.Pool)
	}
	return nil, fmt.Errorf("connect: unknown deployment kind %d", o.Kind)
}

// Standalone opens a pool to one server and returns a client over it,
// once a PING has been answered within ctx.
func Standalone(ctx context.Context, cfg pool.Config) (*async.Client, error) {
	p, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	return ready(ctx, async.NewOwningClient(p, p.Close))
}

// Sentinel opens a RedisSentinel and returns a client of the master
// named name — MasterFor(name), or ClientFor(name, reads) under a replica
// policy — once the master has been discovered and has answered a PING
// within ctx. The client follows failovers; Close closes the
// RedisSentinel.
func Sentinel(ctx context.Context, cfg sentinel.Config, name string, reads core.ReadPolicy) (*async.Client, error) {
	if name == "" {
		return nil, errors.New("connect: no master name")
	}
	s, err := sentinel.New(cfg)
	if err != nil {
		return nil, err
	}
	c := s.MasterFor(name)
	if reads != core.ReadMaster {
		c = s.ClientFor(name, reads)
	}
	return ready(ctx, async.NewOwningClient(c.Executor(), s.Close))
}

// Cluster opens a cluster client, once the slot map has been read within
// ctx, and returns its *async.Client; Close closes the cluster client.
func Cluster(ctx context.Context, cfg cluster.Config) (*async.Client, error) {
	c, err := cluster.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return async.NewOwningClient(c, c.Close), nil
}

// ready waits for a PING through c within ctx; on failure it closes c.
func ready(ctx context.Context, c *async.Client) (*async.Client, error) {
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect: first PING: %w", err)
	}
	return c, nil
}

package async

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"

	"github.com/asyncredis/asyncredis/protocol"
)

// Script is a Lua script known by its SHA1. Run sends EVALSHA and, when the
// server answers NOSCRIPT (a new server, a failover to a master that never
// saw the script, SCRIPT FLUSH), sends EVAL with the source, which also
// caches it for the next EVALSHA.
type Script struct {
	src string
	sha string
}

// NewScript prepares a script; nothing is sent.
func NewScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(sum[:])}
}

// Hash returns the script's SHA1 in hex.
func (s *Script) Hash() string { return s.sha }

// Source returns the script's Lua source.
func (s *Script) Source() string { return s.src }

// Run runs the script with keys and args and returns its raw reply. In a
// plain pipeline the EVAL fallback is sent on its own after the pipeline;
// in a transaction (TxPipeline, Watch) the fallback would run outside the
// transaction, so Load the script first there.
func (s *Script) Run(ctx context.Context, c *Client, keys []string, args ...any) *Future[protocol.Value] {
	return s.run(ctx, c, "EVALSHA", "EVAL", keys, args)
}

// RunRO runs the script with EVALSHA_RO / EVAL_RO, which replicas accept.
func (s *Script) RunRO(ctx context.Context, c *Client, keys []string, args ...any) *Future[protocol.Value] {
	return s.run(ctx, c, "EVALSHA_RO", "EVAL_RO", keys, args)
}

// Load sends SCRIPT LOAD and resolves the SHA1 the server computed.
func (s *Script) Load(ctx context.Context, c *Client) *Future[string] {
	return Cmd(ctx, c, ToString, "SCRIPT", "LOAD", s.src)
}

// Exists reports whether the server has the script cached.
func (s *Script) Exists(ctx context.Context, c *Client) *Future[bool] {
	return Map(Cmd(ctx, c, ToBools, "SCRIPT", "EXISTS", s.sha), func(b []bool) (bool, error) {
		return len(b) == 1 && b[0], nil
	})
}

func (s *Script) run(ctx context.Context, c *Client, bySHA, bySource string, keys []string, args []any) *Future[protocol.Value] {
	tail := make([]any, 0, 1+len(keys)+len(args))
	tail = append(tail, len(keys))
	for _, k := range keys {
		tail = append(tail, k)
	}
	tail = append(tail, args...)
	first := Cmd(ctx, c, ToValue, append([]any{bySHA, s.sha}, tail...)...)
	out := newFuture[protocol.Value](nil)
	first.whenDone(func() {
		v, err := first.Result()
		if !errors.Is(err, protocol.ErrNoScript) {
			out.resolve(v, err)
			return
		}
		second := Cmd(ctx, c.later(), ToValue, append([]any{bySource, s.src}, tail...)...)
		second.whenDone(func() { out.resolve(second.Result()) })
	})
	return out
}

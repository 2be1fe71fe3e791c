package cluster

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/async/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A split DEL or MSET one part of which ran while another could not be
// sent reports each part: it is not "never sent", not safe to retry, and
// WithRetries does not send the part that ran again.
func TestSplitWritesReportEachPart(t *testing.T) {
	for _, name := range []string{"DEL", "MSET"} {
		t.Run(name, func(t *testing.T) {
			f := newFakeCluster(t, 3)
			c := start(t, f, Config{Pool: poolQuick(), RetryTimeout: 300 * 1e6})
			live, dead := keyIn(f, 0, 1), keyIn(f, 1, 1)
			cl := c.Client()
			require.NoError(t, cl.MSet(ctx5(t), live, "a", dead, "b").Err())
			f.nodes[1].srv.Close()
			run := func(cl *async.Client) error {
				if name == "DEL" {
					return cl.Del(context.Background(), live, dead).Err()
				}
				return cl.MSet(context.Background(), live, "x", dead, "y").Err()
			}
			before := f.countAt(0, name)
			err := run(cl.WithRetries(async.Retries{MaxAttempts: 3}))
			var se *SplitError
			require.ErrorAs(t, err, &se)
			assert.False(t, core.SafeToRetry(err), "a part ran")
			assert.NotErrorIs(t, err, core.ErrNotSent)
			assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the failed part's cause")
			assert.ErrorIs(t, err, ErrRetryTimeout)
			assert.Equal(t, 1, f.countAt(0, name)-before, "the part that ran was sent once")
			require.Len(t, se.Parts, 2)
			for _, p := range se.Parts {
				require.Len(t, p.Keys, 1)
				if p.Keys[0] == 0 { // live
					assert.True(t, p.Ran(), "%+v", p)
					assert.False(t, p.NotRun())
				} else {
					assert.True(t, p.NotRun(), "%+v", p)
					assert.False(t, p.InDoubt())
				}
			}
			v, ok := f.value(live)
			if name == "DEL" {
				assert.False(t, ok, "the live part deleted its key")
			} else {
				assert.Equal(t, "x", v)
			}

			// No part ran: safe to retry, and "not sent".
			f.nodes[0].srv.Close()
			err = run(cl)
			require.ErrorAs(t, err, &se)
			assert.True(t, core.SafeToRetry(err))
			assert.ErrorIs(t, err, core.ErrNotSent)
			assert.True(t, errors.Is(err, syscall.ECONNREFUSED))
		})
	}
}

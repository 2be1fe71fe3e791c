package integration_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/pool/cluster"
	"github.com/asyncredis/asyncredis/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chainLoad runs goroutines that each own keys spread over every slot
// and, on one key after another, issue without awaiting SET key base,
// a run of INCRs and a GET, then check every reply: the INCRs must count
// up from base in issue order and the GET see the last one. It records
// the last acknowledged value of each key and every error by kind.
type chainLoad struct {
	cl   *async.Client
	keys [][]string // per goroutine

	mu        sync.Mutex // guards the fields below
	acked     map[string]int64
	errs      map[string]int // by kind
	wrong     []string
	chains    atomic.Int64
	redirects atomic.Int64
}

const chainIncrs = 6

func newChainLoad(cl *async.Client, goroutines, keysEach int) *chainLoad {
	l := &chainLoad{cl: cl, acked: map[string]int64{}, errs: map[string]int{}}
	for g := range goroutines {
		var ks []string
		for k := range keysEach {
			ks = append(ks, fmt.Sprintf("{chain:%d:%d}", g, k))
		}
		l.keys = append(l.keys, ks)
	}
	return l
}

// run drives the load until stop closes; each call's deadline is 10 s.
func (l *chainLoad) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	for g, keys := range l.keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l.chain(keys[i%len(keys)], int64(g)*1_000_000_000+int64(i)*1000)
			}
		}()
	}
	wg.Wait()
}

func (l *chainLoad) chain(key string, base int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	set := l.cl.Set(ctx, key, base)
	twin := l.cl.Set(ctx, key+":twin", base) // same slot: the MGET below gets TRYAGAIN while they are split
	incrs := make([]*async.Future[int64], chainIncrs)
	for i := range incrs {
		incrs[i] = l.cl.Incr(ctx, key)
	}
	get := l.cl.Get(ctx, key)
	both := l.cl.MGet(ctx, key, key+":twin")
	for _, f := range []*async.Future[string]{set, twin} {
		if err := f.Err(); err != nil {
			l.fail(key, err)
			return
		}
	}
	l.ack(key, base)
	for i, f := range incrs {
		v, err := f.Result()
		if err != nil {
			l.fail(key, err)
			return
		}
		if v != base+int64(i)+1 {
			l.wrongReply(fmt.Sprintf("%s: INCR %d of the chain from %d gave %d", key, i+1, base, v))
			return
		}
		l.ack(key, v)
	}
	v, err := get.Result()
	if err != nil {
		l.fail(key, err)
		return
	}
	if v != strconv.FormatInt(base+chainIncrs, 10) {
		l.wrongReply(fmt.Sprintf("%s: GET after the chain from %d gave %s", key, base, v))
		return
	}
	vals, err := both.Result()
	if err != nil {
		l.fail(key, err)
		return
	}
	if len(vals) != 2 || vals[0].String != v || vals[1].String != strconv.FormatInt(base, 10) {
		l.wrongReply(fmt.Sprintf("%s: MGET after the chain from %d gave %v", key, base, vals))
		return
	}
	l.chains.Add(1)
}

func (l *chainLoad) ack(key string, v int64) {
	l.mu.Lock()
	l.acked[key] = v
	l.mu.Unlock()
}

func (l *chainLoad) wrongReply(msg string) {
	l.mu.Lock()
	l.wrong = append(l.wrong, msg)
	l.mu.Unlock()
}

func (l *chainLoad) fail(key string, err error) {
	kind := "other: " + err.Error()
	switch {
	case errors.Is(err, protocol.ErrMoved), errors.Is(err, protocol.ErrAsk), errors.Is(err, protocol.ErrTryAgain):
		kind = "redirect: " + err.Error()
	case errors.Is(err, protocol.ErrClusterDown):
		kind = "CLUSTERDOWN"
	}
	l.mu.Lock()
	l.errs[kind]++
	// The key's state is unknown after a failure: stop checking it.
	l.acked[key] = -1
	l.mu.Unlock()
}

// lost returns the keys whose value is not the last acknowledged one.
func (l *chainLoad) lost(ctx context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lost []string
	for key, want := range l.acked {
		if want < 0 {
			continue
		}
		got, err := l.cl.Get(ctx, key).Result()
		if err != nil {
			return nil, err
		}
		if got != strconv.FormatInt(want, 10) {
			lost = append(lost, fmt.Sprintf("%s: acknowledged %d, holds %s", key, want, got))
		}
	}
	return lost, nil
}

// TestClusterReshardingUnderLoad moves every slot of one master to
// another, in batches, while 64 goroutines run unawaited SET/INCR/GET
// chains on keys over every slot; then back, five times in all. No
// caller may see a redirect or a wrong reply, and no acknowledged write
// may be lost.
func TestClusterReshardingUnderLoad(t *testing.T) {
	integration.CheckGoroutines(t)
	rc := integration.StartClusterT(t, integration.ClusterConfig{})
	c := connectCluster(t, rc, cluster.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	slots, err := rc.SlotsOf(ctx, rc.Masters[0])
	require.NoError(t, err)
	require.NotEmpty(t, slots)

	const rounds, batch = 5, 512
	from, to := rc.Masters[0], rc.Masters[1]
	for round := range rounds {
		l := newChainLoad(c.Client(), 64, 64)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { l.run(stop); close(done) }()
		began := time.Now()
		for i := 0; i < len(slots); i += batch {
			require.NoError(t, rc.MoveSlots(ctx, slots[i:min(i+batch, len(slots))], from, to), "round %d", round)
		}
		moved := time.Since(began)
		close(stop)
		<-done
		lost, err := l.lost(ctx)
		require.NoError(t, err)
		st := c.Stats()
		t.Logf("round %d: %d slots %s -> %s in %v; %d chains; MOVED %d, ASK %d, TRYAGAIN %d handled",
			round, len(slots), from.Name, to.Name, moved.Round(time.Millisecond), l.chains.Load(), st.Moved, st.Ask, st.TryAgain)
		assert.Empty(t, l.errs, "round %d: errors reaching callers", round)
		assert.Empty(t, l.wrong, "round %d: wrong replies", round)
		assert.Empty(t, lost, "round %d: acknowledged writes lost", round)
		assert.Positive(t, l.chains.Load())
		from, to = to, from
	}
	st := c.Stats()
	assert.Positive(t, st.Moved, "the load did run into the moves")
	assert.Positive(t, st.Ask, "and into keys half-way through them")
}

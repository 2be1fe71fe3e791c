package waitline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type item struct {
	id   int
	done *atomic.Int32 // completions: by expiry here, by the test for taken ones
}

func newTestLine(maxCount, maxBytes int) (*Line[item], *sync.Mutex, chan int) {
	var mu sync.Mutex
	expired := make(chan int, 1024)
	l := New(&mu, maxCount, maxBytes, func(it item, err error) {
		it.done.Add(1)
		expired <- it.id
	})
	return l, &mu, expired
}

func TestLineBounds(t *testing.T) {
	for _, tt := range []struct {
		name            string
		count, bytes    int
		sizes           []int
		wantRoomForNext bool
	}{
		{"empty line admits an oversized command", 10, 100, nil, true},
		{"count reached", 2, 1 << 20, []int{1, 1}, false},
		{"bytes reached", 100, 100, []int{60}, false},
		{"bytes fit", 100, 100, []int{30}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, mu, _ := newTestLine(tt.count, tt.bytes)
			mu.Lock()
			defer mu.Unlock()
			for i, sz := range tt.sizes {
				l.Push(context.Background(), 0, item{id: i, done: new(atomic.Int32)}, sz)
			}
			size := 50
			if len(tt.sizes) == 0 {
				size = 1000
			}
			assert.Equal(t, tt.wantRoomForNext, l.HasRoom(size))
		})
	}
}

// Take hands over the commands of one key in the order they came; the
// others stay, in order.
func TestLineTakeKeepsOrder(t *testing.T) {
	l, mu, _ := newTestLine(100, 1<<20)
	mu.Lock()
	defer mu.Unlock()
	for i := range 10 {
		l.Push(context.Background(), i%2, item{id: i, done: new(atomic.Int32)}, 1)
	}
	ids := func(its []item) (out []int) {
		for _, it := range its {
			out = append(out, it.id)
		}
		return out
	}
	assert.Equal(t, []int{1, 3, 5, 7, 9}, ids(l.Take(1)))
	assert.Equal(t, 5, l.Len())
	assert.Equal(t, []int{0, 2, 4, 6, 8}, ids(l.TakeAll()))
	assert.Zero(t, l.Len())
	assert.Zero(t, l.Bytes())
}

// A command whose context ends leaves at once, is failed exactly once,
// and its room goes to the caller waiting for it.
func TestLineExpiryFreesRoom(t *testing.T) {
	l, mu, expired := newTestLine(1, 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	first := item{id: 1, done: new(atomic.Int32)}
	mu.Lock()
	l.Push(ctx, 0, first, 10)
	require.False(t, l.HasRoom(10))
	me := l.Room.Join(nil, 1, 10)
	mu.Unlock()
	admitted := make(chan error, 1)
	go func() {
		mu.Lock()
		err := l.Room.Await(mu, me, context.Background(), nil, l.Freed)
		mu.Unlock()
		admitted <- err
	}()
	cancel()
	select {
	case id := <-expired:
		assert.Equal(t, 1, id)
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled command was not failed")
	}
	require.NoError(t, <-admitted, "the waiting caller got the room")
	mu.Lock()
	assert.Zero(t, l.Len())
	assert.Empty(t, l.TakeAll())
	mu.Unlock()
	l.Wait()
	assert.EqualValues(t, 1, first.done.Load())
}

// Expiries racing hand-overs: every command is either taken or failed by
// its expiry, never both, never neither.
func TestLineExpiryRacesTake(t *testing.T) {
	l, mu, _ := newTestLine(1<<20, 1<<30)
	const n = 2000
	items := make([]item, n)
	cancels := make([]context.CancelFunc, n)
	mu.Lock()
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		items[i], cancels[i] = item{id: i, done: new(atomic.Int32)}, cancel
		l.Push(ctx, i%3, items[i], 8)
	}
	mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if i%2 == 0 {
				cancels[i]()
			}
		}
	}()
	var taken []item
	for k := range 3 {
		mu.Lock()
		taken = append(taken, l.Take(k)...)
		mu.Unlock()
	}
	wg.Wait()
	for _, it := range taken {
		it.done.Add(1)
	}
	for _, c := range cancels {
		c()
	}
	l.Wait()
	for _, it := range items {
		assert.EqualValues(t, 1, it.done.Load(), "item %d", it.id)
	}
}

// Commands given back from where they were sent go before those waiting,
// in the order they were given back.
func TestLinePushFrontKeepsIssueOrder(t *testing.T) {
	l, mu, _ := newTestLine(100, 1<<20)
	mu.Lock()
	defer mu.Unlock()
	it := func(id int) item { return item{id: id, done: new(atomic.Int32)} }
	l.Push(context.Background(), 0, it(10), 1)
	l.Push(context.Background(), 0, it(11), 1)
	l.PushFront(context.Background(), 0, it(1), 1)
	l.PushFront(context.Background(), 0, it(2), 1)
	var ids []int
	for _, v := range l.TakeAll() {
		ids = append(ids, v.id)
	}
	assert.Equal(t, []int{1, 2, 10, 11}, ids)
	l.PushFront(context.Background(), 0, it(3), 1)
	l.Push(context.Background(), 0, it(12), 1)
	l.PushFront(context.Background(), 0, it(4), 1)
	ids = nil
	for _, v := range l.TakeAll() {
		ids = append(ids, v.id)
	}
	assert.Equal(t, []int{3, 4, 12}, ids)
}

// Taking one key's commands costs what that key holds, not what the whole
// line holds: the cluster client takes each slot's line on its own, and
// with 10 000 commands waiting over thousands of slots (a master lost
// under 10 000 writers) a scan of the whole line per slot held the lock
// for tens of milliseconds at a time. Measured against TakeAll of the
// same line: a scan per key is hundreds of times slower, an index per
// key within a small factor.
func TestLineTakeByKeyDoesNotScanOtherKeys(t *testing.T) {
	const keys, perKey = 10000, 2
	fill := func() (*Line[item], *sync.Mutex) {
		l, mu, _ := newTestLine(keys*perKey, 1<<30)
		mu.Lock()
		for i := range keys * perKey {
			l.Push(context.Background(), i%keys, item{id: i, done: new(atomic.Int32)}, 1)
		}
		mu.Unlock()
		return l, mu
	}
	timed := func(take func(l *Line[item]) int) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			l, mu := fill()
			mu.Lock()
			start := time.Now()
			n := take(l)
			d := time.Since(start)
			mu.Unlock()
			require.Equal(t, keys*perKey, n)
			require.Zero(t, l.Len())
			best = min(best, d)
		}
		return best
	}
	all := timed(func(l *Line[item]) int { return len(l.TakeAll()) })
	byKey := timed(func(l *Line[item]) int {
		n := 0
		for k := range keys {
			got := l.Take(k)
			if len(got) != perKey || got[0].id != k || got[1].id != k+keys {
				t.Fatalf("key %d: got %v", k, got)
			}
			n += len(got)
		}
		return n
	})
	t.Logf("TakeAll %v, Take per key %v", all, byKey)
	assert.Less(t, byKey, 100*all+20*time.Millisecond, "taking key by key scans the whole line (a scan per key would cost thousands of times TakeAll)")
}

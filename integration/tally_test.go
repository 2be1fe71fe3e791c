package integration_test

import (
	"strconv"
	"sync"
	"time"

	"github.com/asyncredis/asyncredis/async"
)

// tally counts a subscriber's sharded messages, whose payloads are the
// publishers' numbers, per channel, and when each first came.
type tally struct {
	mu    sync.Mutex
	got   map[string]map[int]int       // channel -> message -> times received
	first map[string]map[int]time.Time // channel -> message -> first arrival
	done  chan struct{}                // closed when Messages is
}

// startTally reads ps's messages until ps is closed.
func startTally(ps *async.PubSub) *tally {
	tl := &tally{got: map[string]map[int]int{}, first: map[string]map[int]time.Time{}, done: make(chan struct{})}
	go func() {
		defer close(tl.done)
		for m := range ps.Messages() {
			if m.Kind != "smessage" {
				continue
			}
			n, _ := strconv.Atoi(m.Payload)
			tl.mu.Lock()
			if tl.got[m.Channel] == nil {
				tl.got[m.Channel], tl.first[m.Channel] = map[int]int{}, map[int]time.Time{}
			}
			if tl.got[m.Channel][n]++; tl.got[m.Channel][n] == 1 {
				tl.first[m.Channel][n] = time.Now()
			}
			tl.mu.Unlock()
		}
	}()
	return tl
}

// count is how many distinct messages of ch came.
func (tl *tally) count(ch string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.got[ch])
}

// allIn reports whether every acknowledged publish on ch came.
func (tl *tally) allIn(ch string, acks []publish) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, a := range acks {
		if tl.got[ch][a.n] == 0 {
			return false
		}
	}
	return true
}

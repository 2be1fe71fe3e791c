package integration_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asyncredis/asyncredis/async"
	"github.com/asyncredis/asyncredis/integration"
	"github.com/asyncredis/asyncredis/sentinel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// masterFaults are the faults a master's followers (replica readers,
// subscribers) are tested through.
var masterFaults = []struct {
	name  string
	fault func(ctx context.Context, d *integration.Deployment) error
}{
	{"master killed", func(ctx context.Context, d *integration.Deployment) error { return d.Master.Kill(ctx) }},
	{"master disconnected", func(ctx context.Context, d *integration.Deployment) error { return d.Master.Disconnect(ctx) }},
	{"manual failover", func(ctx context.Context, d *integration.Deployment) error { return d.Failover(ctx) }},
}

// A subscriber on MasterFor follows a failover as fast as commands do: a
// publisher publishes every 500 µs through MasterFor, and the subscriber's
// first message after the fault arrives at most 50 ms after the
// publisher's first publish acknowledged after the fault. Missed
// acknowledged publishes are counted (a subscriber misses what is
// published on the new master before it has subscribed there).
func TestSubscriberFollowsFailoverAsFastAsCommands(t *testing.T) {
	for _, tt := range timingScenarios(masterFaults) {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d := integration.StartSentinelT(t, integration.SentinelConfig{})
			s := newSentinel(t, sentinel.Config{Sentinels: d.SentinelAddrs()})
			events := collectEvents(s)
			m := s.MasterFor(d.Config.MasterName)
			ps, err := m.PubSub(async.PubSubConfig{Buffer: 1 << 16})
			require.NoError(t, err)
			defer ps.Close()
			require.NoError(t, ps.Subscribe(ctx, "ticks"))

			// received: when each sequence number arrived.
			var mu sync.Mutex
			received := map[int]time.Time{}
			var lost, back []time.Time // KindDisconnected, KindResubscribed
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				for msg := range ps.Messages() {
					now := time.Now()
					mu.Lock()
					switch msg.Kind {
					case "message":
						n, _ := strconv.Atoi(msg.Payload)
						received[n] = now
					case async.KindDisconnected:
						lost = append(lost, now)
					case async.KindResubscribed:
						back = append(back, now)
					}
					mu.Unlock()
				}
			}()

			pub := startPublisher(t, func(ctx context.Context, msg string) (int64, error) {
				return m.Publish(ctx, "ticks", msg).Result()
			})
			// Publishing works before the fault.
			require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(received) > 100 }, 30*time.Second, time.Millisecond)
			require.NoError(t, tt.fault(ctx, d))
			fault := time.Now()
			_, err = d.WaitForNewMaster(ctx, d.Master.Addr(), 30*time.Second)
			require.NoError(t, err)
			// Publishing and receiving work on the new master.
			mu.Lock()
			before := len(received)
			mu.Unlock()
			require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(received) > before+200 }, 30*time.Second, time.Millisecond)
			acks := pub.finish()
			require.NoError(t, ps.Close())
			<-readDone

			// Publishes acknowledged after the client followed the switch
			// went to the new master.
			at := events.clientSwitch(t)
			mu.Lock()
			defer mu.Unlock()
			// The first publish acknowledged on the new master, and the
			// first message received that was published from then on.
			var firstAck publish
			missed := 0
			for _, a := range acks {
				if a.at.After(at) && firstAck.at.IsZero() {
					firstAck = a
				}
				if _, ok := received[a.n]; !ok {
					missed++
				}
			}
			require.False(t, firstAck.at.IsZero(), "publishes acknowledged after the switch")
			firstMsg := firstReceivedFrom(received, firstAck.n)
			require.False(t, firstMsg.IsZero(), "messages received after the fault")
			lag := firstMsg.Sub(firstAck.at)
			t.Logf("%d publishes acknowledged, %d of them never received; the client followed the switch %v after the fault, first ack on the new master %v after that, the subscriber's first message %v after that; disconnected %d, resubscribed %d",
				len(acks), missed, at.Sub(fault).Round(time.Millisecond), firstAck.at.Sub(at).Round(100*time.Microsecond), lag.Round(100*time.Microsecond), len(lost), len(back))
			assert.LessOrEqual(t, lag, time.Second+raceSlack, "the subscriber's first message after the publisher's first acknowledged publish (a tail guard; the tight figure is bench/results/followers.md's)")
			assert.Equal(t, len(lost), len(back), "each disconnection is followed by a resubscription")
			assert.NotEmpty(t, back, "the subscriber resubscribed")
		})
	}
}

// firstReceivedFrom returns when the first message numbered n or later
// arrived; zero when none did.
func firstReceivedFrom(received map[int]time.Time, n int) time.Time {
	var first time.Time
	for m, when := range received {
		if m >= n && (first.IsZero() || when.Before(first)) {
			first = when
		}
	}
	return first
}

// publish is one acknowledged publish: its number, how many subscribers
// the server said received it, and when the ack came.
type publish struct {
	n, receivers int
	at           time.Time // acknowledged
	sent         time.Time // sent: the server ran it after this
}

// publisher publishes a numbered message every 500 µs until finish.
type publisher struct {
	stop, done chan struct{}
	stopOnce   sync.Once
	acks       []publish
}

// startPublisher runs send (10 s deadline each) with messages "0", "1",
// ... until finish, or the end of t if a failed assertion came first.
func startPublisher(t testing.TB, send func(ctx context.Context, msg string) (int64, error)) *publisher {
	p := &publisher{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { p.finish() })
	go func() {
		defer close(p.done)
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			sent := time.Now()
			got, err := send(ctx, strconv.Itoa(n))
			cancel()
			if err == nil {
				p.acks = append(p.acks, publish{n, int(got), time.Now(), sent})
			}
		}
	}()
	return p
}

// waitAtMost waits until cond holds or limit has passed, looking every
// millisecond: for messages still on their way, which the assertions
// after it report if they never come.
func waitAtMost(limit time.Duration, cond func() bool) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(limit); !cond() && time.Now().Before(deadline); {
		<-tick.C
	}
}

// finish stops the publisher and returns its acknowledged publishes.
func (p *publisher) finish() []publish {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	return p.acks
}

// timingScenarios returns the scenarios of a test whose point is a
// time bound: all of them without the race detector (.ci/run's last
// step, where the bounds hold as written), the first alone under it —
// enough for the detector to see the code paths, at a third of the
// suite's time, since its bounds there are sanity checks.
func timingScenarios[T any](all []T) []T {
	if raceOn {
		return all[:1]
	}
	return all
}

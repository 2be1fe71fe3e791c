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
	for _, tt := range masterFaults {
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

			type ack struct {
				n  int
				at time.Time
			}
			var acks []ack
			stop := make(chan struct{})
			pubDone := make(chan struct{})
			go func() {
				defer close(pubDone)
				tick := time.NewTicker(500 * time.Microsecond)
				defer tick.Stop()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err := m.Publish(pctx, "ticks", strconv.Itoa(n)).Err()
					cancel()
					if err == nil {
						acks = append(acks, ack{n, time.Now()})
					}
				}
			}()
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
			close(stop)
			<-pubDone
			require.NoError(t, ps.Close())
			<-readDone

			// Publishes acknowledged after the client followed the switch
			// went to the new master.
			at := events.clientSwitch(t)
			mu.Lock()
			defer mu.Unlock()
			// The first publish acknowledged on the new master, and the
			// first message received that was published from then on.
			var firstAck ack
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
			var firstMsg time.Time
			for n, when := range received {
				if n >= firstAck.n && (firstMsg.IsZero() || when.Before(firstMsg)) {
					firstMsg = when
				}
			}
			require.False(t, firstMsg.IsZero(), "messages received after the fault")
			lag := firstMsg.Sub(firstAck.at)
			t.Logf("%d publishes acknowledged, %d of them never received; the client followed the switch %v after the fault, first ack on the new master %v after that, the subscriber's first message %v after that; disconnected %d, resubscribed %d",
				len(acks), missed, at.Sub(fault).Round(time.Millisecond), firstAck.at.Sub(at).Round(100*time.Microsecond), lag.Round(100*time.Microsecond), len(lost), len(back))
			assert.LessOrEqual(t, lag, 50*time.Millisecond+raceSlack, "the subscriber's first message after the publisher's first acknowledged publish")
			assert.Equal(t, len(lost), len(back), "each disconnection is followed by a resubscription")
			assert.NotEmpty(t, back, "the subscriber resubscribed")
		})
	}
}

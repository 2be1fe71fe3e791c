//go:build !race

package integration_test

import (
	"testing"

	"github.com/asyncredis/asyncredis/async"
)

// TestClusterMasterLostUnder10000Writers is TestClusterMasterKilledUnderLoad
// with 10 000 writers, for a crash and for a host cut off: the users this
// is for have thousands of commands out when a master goes. It is built
// without the race detector only (.ci/run's timing step runs it): with
// even 2 000 writers under the detector, beside the suite on two cores,
// the test measured the detector (first write 3.2 s after the promotion)
// and took a minute of the suite. The 64-writer test runs under it.
func TestClusterMasterLostUnder10000Writers(t *testing.T) {
	for _, fault := range []string{"crash", "disconnect"} {
		t.Run(fault, func(t *testing.T) { masterGoneUnderLoad(t, fault, 10000) })
	}
}

// TestClusterFollowersUnder10000Readers is TestClusterFollowersThroughAMasterLoss
// with 10 000 goroutines reading from replicas, each its own key, beside
// the publisher and the sharded subscriber.
func TestClusterFollowersUnder10000Readers(t *testing.T) {
	for _, fault := range []string{"crash", "disconnect"} {
		t.Run(fault, func(t *testing.T) { followersThroughMasterLoss(t, fault, false, true, 10000) })
	}
}

// TestClusterSubscriberKeepsHealthyChannelsUnder10000Writers is
// TestClusterSubscriberKeepsTheHealthyMastersChannels with the crowd of
// TestFailoverAt10000Goroutines on the subscriber's client: 10 000
// goroutines issuing eight SETs each without awaiting them, then an
// INCR, over keys of every master. A crash only, for the suite's time
// (~35 s a case; a cut-off host passed twice in two runs each as well).
func TestClusterSubscriberKeepsHealthyChannelsUnder10000Writers(t *testing.T) {
	subscriberKeepsHealthyChannels(t, "crash", func(cl *async.Client) func() {
		return startCrowd(cl, "subcrowd", 10000, 8).finish
	})
}

// TestClusterSubscriberKeepsItsConnectionThroughAMovedUnder10000Writers is
// TestClusterSubscriberKeepsItsConnectionThroughAMoved with the crowd of
// TestFailoverAt10000Goroutines on the subscriber's client, its keys in
// one slot of the master that takes no part in the move.
func TestClusterSubscriberKeepsItsConnectionThroughAMovedUnder10000Writers(t *testing.T) {
	subscriberKeepsConnThroughMoved(t, func(cl *async.Client, prefix string) func() {
		return startCrowd(cl, prefix+"crowd", 10000, 8).finish
	})
}

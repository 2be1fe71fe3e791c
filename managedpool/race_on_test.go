//go:build race

package managedpool_test

import "time"

// raceSlack widens timing bounds under the race detector, which slows
// every goroutine several times over (and, with the whole suite running in
// parallel on two cores, stalls some by several hundred milliseconds); the
// bounds themselves are checked without it: .ci/run runs these tests again
// without -race.
const raceSlack = time.Second

//go:build race

package integration_test

import "time"

// raceSlack widens the failover-gap bounds under the race detector, which
// slows every goroutine several times over while the rest of the suite
// runs beside on two cores; .ci/run runs these tests again without
// -race, where the bounds hold as written.
const raceSlack = 25 * time.Millisecond

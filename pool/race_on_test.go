//go:build race

package pool_test

import "time"

// raceSlack widens timing bounds under the race detector, which slows
// every goroutine several times over; the bounds themselves are checked
// without it (go test without -race, as bench/ runs).
const raceSlack = 250 * time.Millisecond

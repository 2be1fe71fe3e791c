//go:build race

package cluster

import "time"

// raceSlack widens timing bounds under the race detector, which slows
// every goroutine several times over.
const raceSlack = 200 * time.Millisecond

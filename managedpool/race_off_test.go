//go:build !race

package managedpool_test

// raceSlack is zero without the race detector: timing bounds are exact.
const raceSlack = 0

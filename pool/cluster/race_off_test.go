//go:build !race

package cluster

// raceSlack is zero without the race detector: the bounds as written.
const raceSlack = 0

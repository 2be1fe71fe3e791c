//go:build !race

package integration_test

// raceSlack is zero without the race detector: the bounds as written.
const raceSlack = 0

// raceOn reports whether the race detector is built in.
const raceOn = false

//go:build race

package protocol

// raceOn: the race detector makes sync.Pool drop some of what it is
// given, so reuse is not certain under it.
const raceOn = true

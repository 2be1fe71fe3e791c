//go:build !race

package protocol

// raceOn is false: sync.Pool keeps what it is given (until a GC).
const raceOn = false

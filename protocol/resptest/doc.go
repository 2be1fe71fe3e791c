// Package resptest provides a scripted in-process RESP server for unit
// tests of protocol edge cases that a real Redis does not produce: partial
// frames, garbage, slow replies, connections reset mid-reply. Like
// net/http/httptest, it listens on a loopback port; NewServer closes it
// when the test ends, Start leaves that to the caller.
//
// # Concurrency
//
// Each accepted connection runs its handler on its own goroutine; Close
// closes every connection and waits for all handlers.
//
// # Errors
//
// ReadCommand returns the decoder's errors (io.EOF when the client hung
// up); a handler's return closes its connection.
package resptest

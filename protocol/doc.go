// Package protocol encodes commands and decodes replies of the Redis
// serialization protocol, RESP2 and RESP3. It never touches sockets: a
// [Reader] decodes from a *bufio.Reader, and the Append functions encode
// into a caller-owned buffer.
//
// Every RESP3 type is decoded into a [Value]: simple and bulk strings,
// errors (simple and blob), integers, nulls (RESP2's $-1 and *-1 too),
// doubles, booleans, big numbers, verbatim strings, arrays, maps, sets,
// pushes, attributes (attached to the value that follows them), and
// streamed strings and aggregates.
//
// # Limits
//
// [Limits] bound bulk length, aggregate length and nesting depth. A header
// over a limit fails before anything is allocated for it, and memory for
// large values grows only as bytes arrive, so a hostile length such as
// $999999999999 costs nothing.
//
// # Memory
//
// A reply's small strings are cut from one slab per reply. The array of
// an aggregate's elements can be handed back with [Reuse] once nothing
// will look at it again (an executor does so after a consumer has copied
// the elements out, see core.Consumer); the next reply of that length
// then takes it instead of allocating. A value nobody hands back is never
// reused: values a caller keeps stay intact.
//
// # Concurrency
//
// A Reader is used by one goroutine at a time. The Append functions are
// pure; Reuse may be called from any goroutine.
//
// # Errors
//
// Error replies become *[RedisError], matched with errors.Is against
// [ErrReadOnly], [ErrNoScript], [ErrWrongType], [ErrAuth] and the other
// sentinels, keeping the full message. Input that is not RESP, or that
// exceeds a limit, gives a *[ProtocolError] matching [ErrMalformed] or
// [ErrLimit]; the stream cannot be used after it.
package protocol

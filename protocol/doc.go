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
// # Concurrency
//
// A Reader is used by one goroutine at a time. The Append functions are
// pure.
//
// # Errors
//
// Error replies become *[RedisError], matched with errors.Is against
// [ErrReadOnly], [ErrNoScript], [ErrWrongType], [ErrAuth] and the other
// sentinels, keeping the full message. Input that is not RESP, or that
// exceeds a limit, gives a *[ProtocolError] matching [ErrMalformed] or
// [ErrLimit]; the stream cannot be used after it.
package protocol

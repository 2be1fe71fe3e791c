//go:build amd64 || arm64

package protocol

import "unsafe"

// noescape returns p, hidden from escape analysis. A dynamic call such as
// MarshalBinary counts as keeping its receiver, which would make every
// argument of AppendArg (a string boxed in an any, on every command)
// escape to the heap. Passing the receiver through noescape is sound
// because MarshalBinary returns new bytes and keeps nothing of the value
// it encodes (the contract AppendArg states). Implemented in assembly:
// //go:noescape promises that the result does not come from p.
//
//go:noescape
func noescape(p unsafe.Pointer) unsafe.Pointer

//go:build !cgo

package argon2id

// fillOneLane is not available without cgo: every derivation then runs in Go.
func fillOneLane(B []block, memory, time uint32) { panic("argon2id: built without cgo") }

// haveFillOneLane reports whether fillOneLane can be used (cgo builds).
const haveFillOneLane = false

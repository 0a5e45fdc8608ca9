package apiserver

// stackAhead is how much stack a request handler reserves before it starts. The
// HTTP/2 server runs every request on a new goroutine with a small stack, and a
// write goes deep (protobuf decoding, admission, the field manager's recursive
// compare), so the runtime grew and copied each handler's stack two or three
// times, when it was already deep and the copy dear: about 8% of the CPU of a
// pod create. Growing it once at the top, where the stack is shallow, is cheap.
const stackAhead = 16 << 10

// growStack makes the calling goroutine's stack hold stackAhead more bytes.
//
//go:noinline
func growStack() {
	var buf [stackAhead]byte
	touch(buf[:])
}

//go:noinline
func touch([]byte) {}

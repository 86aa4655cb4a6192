package codec

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// strictSource wraps Bytes and fails the test when a decoder breaks the
// Source contract by peeking beyond Buffered. Like a ring that must copy
// wrapped bytes, it returns a fresh copy from every Peek, so a decoder that
// relied on two peeks sharing memory would fail. It records the largest
// Peek.
type strictSource struct {
	t testing.TB
	Bytes
	maxPeek int
}

func (s *strictSource) Peek(n int) ([]byte, error) {
	if n > s.Buffered() {
		s.t.Fatalf("Peek(%d) with only %d buffered", n, s.Buffered())
	}
	s.maxPeek = max(s.maxPeek, n)
	b, err := s.Bytes.Peek(n)
	return bytes.Clone(b), err
}

// decodeFunc is the shape every framing decoder has.
type decodeFunc func(Source) ([]byte, int, error)

// feed writes chunks into a source one at a time and decodes every frame
// that becomes complete, copying each (the source reuses memory). It returns
// the frames and the first error other than ErrNeedMore, and checks that a
// frame is only returned with n > 0 and n <= Buffered.
func feed(t testing.TB, dec decodeFunc, chunks ...[]byte) ([][]byte, error) {
	t.Helper()
	src := &strictSource{t: t}
	var frames [][]byte
	for _, c := range chunks {
		src.Write(c)
		for {
			f, n, err := dec(src)
			if errors.Is(err, ErrNeedMore) {
				break
			}
			if err != nil {
				return frames, err
			}
			if n <= 0 || n > src.Buffered() {
				t.Fatalf("frame wire length %d with %d buffered", n, src.Buffered())
			}
			frames = append(frames, bytes.Clone(f))
			src.Discard(n)
		}
	}
	if src.Buffered() != 0 {
		return frames, errLeftover
	}
	return frames, nil
}

var errLeftover = errors.New("bytes left undecoded")

// splits returns the ways of cutting wire in two at every byte boundary,
// plus the one-byte-at-a-time feed.
func splits(wire []byte) [][][]byte {
	var out [][][]byte
	for i := 0; i <= len(wire); i++ {
		out = append(out, [][]byte{wire[:i], wire[i:]})
	}
	return append(out, bytewise(wire))
}

// bytewise cuts wire into one-byte chunks, for feeding it a byte at a time.
func bytewise(wire []byte) [][]byte {
	var out [][]byte
	for i := range wire {
		out = append(out, wire[i:i+1])
	}
	return out
}

// checkSplits decodes wire under every split and requires the same frames.
func checkSplits(t *testing.T, dec decodeFunc, wire []byte, want [][]byte) {
	t.Helper()
	for _, chunks := range splits(wire) {
		got, err := feed(t, dec, chunks...)
		if err != nil {
			t.Fatalf("split %d chunks (first %d bytes): %v", len(chunks), len(chunks[0]), err)
		}
		if !equalFrames(got, want) {
			t.Fatalf("split %d chunks (first %d bytes): got %q, want %q", len(chunks), len(chunks[0]), got, want)
		}
	}
}

// cutAt maps a fuzzed split to a place to cut n bytes in two: 0 to n.
func cutAt(split, n int) int {
	if n == 0 {
		return 0
	}
	return split % (n + 1)
}

// checkSplitSame feeds data whole, then cut in two at cutAt(split,
// len(data)), each time to a decoder fresh from newDec, and fails the test
// unless both feeds give the same frames and both fail or neither does. It
// returns the frames of the whole feed.
func checkSplitSame(t *testing.T, newDec func() decodeFunc, split int, data []byte) [][]byte {
	t.Helper()
	cut := cutAt(split, len(data))
	whole, errWhole := feed(t, newDec(), data)
	parts, errParts := feed(t, newDec(), data[:cut], data[cut:])
	if !equalFrames(whole, parts) || (errWhole == nil) != (errParts == nil) {
		t.Fatalf("split at %d changed the result: %q/%v vs %q/%v", cut, whole, errWhole, parts, errParts)
	}
	return whole
}

func equalFrames(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// fuzzAllocBound is the most a decoder may allocate while decoding one fuzz
// input to its end or first error: an error message and a few argument
// slots, never anything in proportion to a declared length.
const fuzzAllocBound = 16 << 10

// allocatedBy returns the bytes the heap allocated while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkAllocs decodes every frame in data (no copies, a plain Bytes) until
// the first error, and fails if that allocated more than fuzzAllocBound.
func checkAllocs(t *testing.T, data []byte, next func(Source) (int, error)) {
	t.Helper()
	src := NewBytes(data)
	got := allocatedBy(func() {
		for {
			n, err := next(src)
			if err != nil {
				return
			}
			src.Discard(n)
		}
	})
	if got > fuzzAllocBound {
		t.Fatalf("decoding %d bytes allocated %d bytes", len(data), got)
	}
}

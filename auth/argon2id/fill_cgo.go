//go:build cgo

package argon2id

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <string.h>

// The passes of a one-lane Argon2id derivation: a line-by-line port of processSegment
// (argon2id.go) and processBlockGeneric (blamka_generic.go) with lane = 0 and threads = 1.

typedef struct { uint64_t v[128]; } argon2_block;

static inline uint64_t fbm(uint64_t x, uint64_t y) {
	return x + y + 2 * (uint64_t)(uint32_t)x * (uint64_t)(uint32_t)y;
}

static inline uint64_t rotr(uint64_t w, unsigned c) { return (w >> c) | (w << (64 - c)); }

#define GB(a, b, c, d) do { \
	a = fbm(a, b); d = rotr(d ^ a, 32); \
	c = fbm(c, d); b = rotr(b ^ c, 24); \
	a = fbm(a, b); d = rotr(d ^ a, 16); \
	c = fbm(c, d); b = rotr(b ^ c, 63); \
} while (0)

#define ROUND(v00, v01, v02, v03, v04, v05, v06, v07, v08, v09, v10, v11, v12, v13, v14, v15) do { \
	GB(v00, v04, v08, v12); GB(v01, v05, v09, v13); GB(v02, v06, v10, v14); GB(v03, v07, v11, v15); \
	GB(v00, v05, v10, v15); GB(v01, v06, v11, v12); GB(v02, v07, v08, v13); GB(v03, v04, v09, v14); \
} while (0)

static void process_block(argon2_block *out, const argon2_block *in1, const argon2_block *in2, int xor) {
	uint64_t t[128];
	for (int i = 0; i < 128; i++) t[i] = in1->v[i] ^ in2->v[i];
	for (int i = 0; i < 128; i += 16) {
		ROUND(t[i+0], t[i+1], t[i+2], t[i+3], t[i+4], t[i+5], t[i+6], t[i+7],
			t[i+8], t[i+9], t[i+10], t[i+11], t[i+12], t[i+13], t[i+14], t[i+15]);
	}
	for (int i = 0; i < 16; i += 2) {
		ROUND(t[i], t[i+1], t[16+i], t[16+i+1], t[32+i], t[32+i+1], t[48+i], t[48+i+1],
			t[64+i], t[64+i+1], t[80+i], t[80+i+1], t[96+i], t[96+i+1], t[112+i], t[112+i+1]);
	}
	if (xor) {
		for (int i = 0; i < 128; i++) out->v[i] ^= in1->v[i] ^ in2->v[i] ^ t[i];
	} else {
		for (int i = 0; i < 128; i++) out->v[i] = in1->v[i] ^ in2->v[i] ^ t[i];
	}
}

static uint32_t phi(uint64_t rand, uint64_t m, uint64_t s, uint32_t lane, uint32_t lanes) {
	uint64_t p = rand & 0xFFFFFFFFu;
	p = (p * p) >> 32;
	p = (p * m) >> 32;
	return lane * lanes + (uint32_t)((s + m - (p + 1)) % (uint64_t)lanes);
}

static uint32_t index_alpha(uint64_t rand, uint32_t lanes, uint32_t segments, uint32_t threads,
		uint32_t n, uint32_t slice, uint32_t lane, uint32_t index) {
	uint32_t ref_lane = (uint32_t)(rand >> 32) % threads;
	if (n == 0 && slice == 0) ref_lane = lane;
	uint32_t m = 3 * segments, s = ((slice + 1) % 4) * segments;
	if (lane == ref_lane) m += index;
	if (n == 0) {
		m = slice * segments;
		s = 0;
		if (slice == 0 || lane == ref_lane) m += index;
	}
	if (index == 0 || lane == ref_lane) m--;
	return phi(rand, m, s, ref_lane, lanes);
}

static void process_segment(argon2_block *B, uint32_t n, uint32_t slice, uint32_t memory, uint32_t time) {
	const uint32_t threads = 1, lane = 0, lanes = memory, segments = lanes / 4;
	argon2_block addresses, in, zero;
	memset(&addresses, 0, sizeof addresses);
	memset(&in, 0, sizeof in);
	memset(&zero, 0, sizeof zero);
	int data_independent = n == 0 && slice < 2;
	if (data_independent) {
		in.v[0] = n; in.v[1] = lane; in.v[2] = slice; in.v[3] = memory; in.v[4] = time; in.v[5] = 2;
	}
	uint32_t index = 0;
	if (n == 0 && slice == 0) {
		index = 2;
		in.v[6]++;
		process_block(&addresses, &in, &zero, 0);
		process_block(&addresses, &addresses, &zero, 0);
	}
	uint32_t offset = lane * lanes + slice * segments + index;
	while (index < segments) {
		uint32_t prev = offset - 1;
		if (index == 0 && slice == 0) prev += lanes;
		uint64_t random;
		if (data_independent) {
			if (index % 128 == 0) {
				in.v[6]++;
				process_block(&addresses, &in, &zero, 0);
				process_block(&addresses, &addresses, &zero, 0);
			}
			random = addresses.v[index % 128];
		} else {
			random = B[prev].v[0];
		}
		uint32_t ref = index_alpha(random, lanes, segments, threads, n, slice, lane, index);
		process_block(&B[offset], &B[prev], &B[ref], n != 0);
		index++;
		offset++;
	}
}

static void fill_one_lane(argon2_block *B, uint32_t memory, uint32_t time) {
	for (uint32_t n = 0; n < time; n++) {
		for (uint32_t slice = 0; slice < 4; slice++) process_segment(B, n, slice, memory, time);
	}
}
*/
import "C"

import "unsafe"

// fillOneLane runs every pass of a one-lane derivation over B in C. A thread in a C call is
// one the Go runtime need not stop: a garbage collection's stop-the-world never waits for
// the hashing thread, which on a busy server gets the CPU only when it is idle (a wait of
// milliseconds for every page in flight, during bursts of logins). B holds only integers,
// so handing it to C for the call is allowed.
func fillOneLane(B []block, memory, time uint32) {
	C.fill_one_lane((*C.argon2_block)(unsafe.Pointer(&B[0])), C.uint32_t(memory), C.uint32_t(time))
}

// haveFillOneLane reports whether fillOneLane can be used (cgo builds).
const haveFillOneLane = true

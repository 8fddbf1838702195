/*
 * fuzz_packet.c — framing: proto_packet_scan/join over a byte stream and
 * the per-direction framer over the same frame headers.
 *
 * Input: 1 byte choosing max_payload (2^(b % 26), or no limit for 255),
 * then the stream. Invariants: scan and the framer agree on every packet's
 * length, sequence ids and the size limit; join yields exactly the payload
 * bytes; a packet one byte short is incomplete.
 */
#include "fuzz.h"

#include "protocol/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t b = (uint8_t)fuzz_take_le(&data, &size, 1);
	uint64_t max = b == 255 ? UINT64_MAX : 1ULL << (b % 26);
	struct proto_framer fr;
	proto_framer_init(&fr, max, true);
	size_t off = 0;
	bool first = true;
	while (off < size) {
		uint64_t len = 0;
		uint8_t fseq = 0, lseq = 0;
		int rc = proto_packet_scan(data + off, size - off, max, &len, &fseq, &lseq);
		if (rc == 0)
			break;

		/* the framer, over the same headers, frame by frame */
		size_t pos = off;
		uint64_t total = 0;
		int frc = PROTO_OK;
		bool starts = false, ends = false;
		if (first) {
			proto_framer_reset_seq(&fr, data[off + 3]);
			first = false;
		}
		size_t frames = 0;
		do {
			struct proto_frame f;
			FUZZ_CHECK(proto_frame_parse(data + pos, size - pos, &f) ==
				   PROTO_HEADER_LEN);
			frc = proto_framer_next(&fr, &f, &starts, &ends);
			if (frc == PROTO_E_SEQUENCE) {
				/* resync the framer on this frame and carry on */
				proto_framer_reset_seq(&fr, f.seq);
				frc = proto_framer_next(&fr, &f, &starts, &ends);
			}
			FUZZ_CHECK(frc == PROTO_OK || frc == PROTO_E_TOO_LARGE);
			if (frc != PROTO_OK)
				break;
			FUZZ_CHECK(starts == (frames == 0));
			total += f.len;
			pos += PROTO_HEADER_LEN + f.len;
			frames++;
		} while (!ends && pos + PROTO_HEADER_LEN <= size);

		if (rc < 0) {
			FUZZ_CHECK(rc == PROTO_E_TOO_LARGE);
			FUZZ_CHECK(frc == PROTO_E_TOO_LARGE || (size_t)(pos - off) > INT32_MAX);
			break;
		}
		FUZZ_CHECK(frc == PROTO_OK && ends);
		FUZZ_CHECK(total == len && len <= max);
		FUZZ_CHECK((size_t)rc == pos - off);
		FUZZ_CHECK(lseq == (uint8_t)(fseq + frames - 1));
		/* one byte short: incomplete */
		uint64_t l2;
		uint8_t s1, s2;
		FUZZ_CHECK(proto_packet_scan(data + off, (size_t)rc - 1, max, &l2, &s1, &s2) == 0);
		uint8_t *out = malloc(len ? len : 1);
		if (!out)
			return 0;
		proto_packet_join(data + off, (size_t)rc, out);
		size_t p = off, o = 0;
		for (size_t i = 0; i < frames; i++) {
			struct proto_frame f;
			proto_frame_parse(data + p, size - p, &f);
			FUZZ_CHECK(memcmp(out + o, data + p + PROTO_HEADER_LEN, f.len) == 0);
			o += f.len;
			p += PROTO_HEADER_LEN + f.len;
		}
		free(out);
		off += (size_t)rc;
		proto_framer_reset_seq(&fr, off + 3 < size ? data[off + 3] : 0);
	}
	return 0;
}

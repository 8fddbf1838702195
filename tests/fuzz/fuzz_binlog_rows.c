/*
 * fuzz_binlog_rows.c — protocol/binlog_rows.h: row images of a binlog
 * rows event walked with a table map, all from the input.
 *
 * Input: 1 byte ncols (1..64), 1 byte flags (bit 0: an update, two
 * images a row), ncols type bytes, 1 byte metadata length, the metadata,
 * (ncols+7)/8 bitmap bytes, then the row data. Invariant: it returns 0 or
 * an error, never reads past any block (ASan), and a success counts no
 * more rows than there are bytes.
 */
#include "fuzz.h"

#include "protocol/binlog_rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t ncols = (size_t)(data[0] % 64) + 1;
	bool update = data[1] & 1;
	size_t off = 2;
	if (size - off < ncols + 1)
		return 0;
	const uint8_t *types = data + off;
	off += ncols;
	size_t mlen = data[off++];
	if (size - off < mlen)
		return 0;
	const uint8_t *meta = data + off;
	off += mlen;
	size_t bl = (ncols + 7) / 8;
	if (size - off < bl)
		return 0;
	const uint8_t *bitmap = data + off;
	off += bl;
	/* copies, so that ASan sees every block's own end */
	uint8_t *t = malloc(ncols), *m = malloc(mlen ? mlen : 1), *b = malloc(bl),
		*rows = malloc(size - off ? size - off : 1);
	if (t && m && b && rows) {
		memcpy(t, types, ncols);
		memcpy(m, meta, mlen);
		memcpy(b, bitmap, bl);
		memcpy(rows, data + off, size - off);
		struct proto_binlog_table tb = {t, ncols, m, mlen};
		struct proto_binlog_rows out;
		int rc = proto_binlog_rows_count(&tb, b, update ? b : NULL, rows, size - off, &out);
		FUZZ_CHECK(rc <= 0);
		FUZZ_CHECK(rc < 0 || out.rows <= size - off || size - off == 0);
	}
	free(t);
	free(m);
	free(b);
	free(rows);
	return 0;
}

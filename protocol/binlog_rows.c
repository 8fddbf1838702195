/*
 * binlog_rows.c — row-image lengths of binlog rows events (see
 * binlog_rows.h). Type codes and encodings as in MariaDB's
 * sql/log_event.cc and field.cc (the binlog is little-endian throughout).
 */
#include "protocol/binlog_rows.h"

#include <string.h>

#include "protocol/protocol.h"

enum {
	T_DECIMAL = 0,
	T_TINY = 1,
	T_SHORT = 2,
	T_LONG = 3,
	T_FLOAT = 4,
	T_DOUBLE = 5,
	T_NULL = 6,
	T_TIMESTAMP = 7,
	T_LONGLONG = 8,
	T_INT24 = 9,
	T_DATE = 10,
	T_TIME = 11,
	T_DATETIME = 12,
	T_YEAR = 13,
	T_NEWDATE = 14,
	T_VARCHAR = 15,
	T_BIT = 16,
	T_TIMESTAMP2 = 17,
	T_DATETIME2 = 18,
	T_TIME2 = 19,
	T_JSON = 245,
	T_NEWDECIMAL = 246,
	T_ENUM = 247,
	T_SET = 248,
	T_TINY_BLOB = 249,
	T_MEDIUM_BLOB = 250,
	T_LONG_BLOB = 251,
	T_BLOB = 252,
	T_VAR_STRING = 253,
	T_STRING = 254,
	T_GEOMETRY = 255,
};

/* Metadata bytes a column type carries in the table map. */
static int meta_size(uint8_t type)
{
	switch (type) {
	case T_FLOAT:
	case T_DOUBLE:
	case T_BLOB:
	case T_TINY_BLOB:
	case T_MEDIUM_BLOB:
	case T_LONG_BLOB:
	case T_GEOMETRY:
	case T_JSON:
	case T_TIMESTAMP2:
	case T_DATETIME2:
	case T_TIME2:
		return 1;
	case T_VARCHAR:
	case T_VAR_STRING:
	case T_STRING:
	case T_NEWDECIMAL:
	case T_BIT:
	case T_ENUM:
	case T_SET:
		return 2;
	default:
		return 0;
	}
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static size_t decimal_size(unsigned precision, unsigned scale)
{
	static const uint8_t dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
	if (scale > precision)
		return 0;
	unsigned intg = precision - scale;
	return (size_t)(intg / 9) * 4 + dig2bytes[intg % 9] + (size_t)(scale / 9) * 4 +
	       dig2bytes[scale % 9];
}

/* Length of one value at p (avail bytes); 0 with *err set on failure. */
static size_t value_size(uint8_t type, const uint8_t *m, const uint8_t *p, size_t avail, int *err)
{
	size_t fixed = 0;
	switch (type) {
	case T_TINY:
	case T_YEAR:
		fixed = 1;
		break;
	case T_SHORT:
		fixed = 2;
		break;
	case T_INT24:
	case T_DATE:
	case T_NEWDATE:
	case T_TIME:
		fixed = 3;
		break;
	case T_LONG:
	case T_TIMESTAMP:
		fixed = 4;
		break;
	case T_LONGLONG:
	case T_DATETIME:
		fixed = 8;
		break;
	case T_FLOAT:
	case T_DOUBLE:
		fixed = m[0];
		break;
	case T_NULL:
		return 0;
	case T_TIMESTAMP2:
		fixed = 4 + (m[0] + 1u) / 2;
		break;
	case T_DATETIME2:
		fixed = 5 + (m[0] + 1u) / 2;
		break;
	case T_TIME2:
		fixed = 3 + (m[0] + 1u) / 2;
		break;
	case T_NEWDECIMAL:
		fixed = decimal_size(m[0], m[1]);
		break;
	case T_BIT:
		fixed = m[1] + (m[0] > 0);
		break;
	case T_ENUM:
	case T_SET:
		fixed = m[1];
		break;
	case T_VARCHAR:
	case T_VAR_STRING: {
		unsigned max = (unsigned)le(m, 2);
		unsigned pre = max > 255 ? 2 : 1;
		if (avail < pre)
			break;
		fixed = pre + (size_t)le(p, pre);
		break;
	}
	case T_BLOB:
	case T_TINY_BLOB:
	case T_MEDIUM_BLOB:
	case T_LONG_BLOB:
	case T_GEOMETRY:
	case T_JSON: {
		unsigned pre = m[0];
		if (pre < 1 || pre > 4 || avail < pre)
			break;
		fixed = pre + (size_t)le(p, pre);
		break;
	}
	case T_STRING: {
		/* byte 0 the real type, byte 1 the length; lengths above 255
		 * keep two more bits in the real type's 0x30 */
		uint8_t real = m[0];
		unsigned max = m[1];
		if ((real & 0x30) != 0x30) {
			max |= (unsigned)(((real & 0x30) ^ 0x30) << 4);
			real |= 0x30;
		}
		if (real == T_ENUM || real == T_SET) {
			fixed = m[1];
			break;
		}
		unsigned pre = max > 255 ? 2 : 1;
		if (avail < pre)
			break;
		fixed = pre + (size_t)le(p, pre);
		break;
	}
	default:
		*err = PROTO_E_UNSUPPORTED;
		return 0;
	}
	if (fixed == 0 || fixed > avail) {
		*err = fixed == 0 ? PROTO_E_MALFORMED : PROTO_E_TRUNCATED;
		return 0;
	}
	return fixed;
}

static bool bit(const uint8_t *map, size_t i)
{
	return (map[i / 8] >> (i % 8)) & 1;
}

/* One row image; keep: record the integer columns into out. */
static int walk_image(const struct proto_binlog_table *t, const size_t *meta_at,
		      const uint8_t *present, const uint8_t *data, size_t len, size_t *used,
		      struct proto_binlog_rows *out, bool keep)
{
	size_t npresent = 0;
	for (size_t i = 0; i < t->ncols; i++)
		npresent += bit(present, i);
	size_t nullb = (npresent + 7) / 8;
	if (len < nullb)
		return PROTO_E_TRUNCATED;
	const uint8_t *nulls = data;
	size_t off = nullb, k = 0;
	if (keep)
		out->first_cols = t->ncols < 64 ? t->ncols : 64;
	for (size_t i = 0; i < t->ncols; i++) {
		if (!bit(present, i))
			continue;
		bool is_null = bit(nulls, k);
		k++;
		if (is_null)
			continue;
		int err = 0;
		const uint8_t *m = t->meta + meta_at[i];
		size_t n = value_size(t->types[i], m, data + off, len - off, &err);
		if (err)
			return err;
		uint8_t ty = t->types[i];
		if (keep && i < 64 &&
		    (ty == T_TINY || ty == T_SHORT || ty == T_INT24 || ty == T_LONG ||
		     ty == T_LONGLONG)) {
			out->first_int[i] = le(data + off, (unsigned)n);
			out->first_is_int[i] = true;
		}
		off += n;
	}
	*used = off;
	return 0;
}

int proto_binlog_rows_count(const struct proto_binlog_table *t, const uint8_t *present,
			    const uint8_t *present2, const uint8_t *data, size_t len,
			    struct proto_binlog_rows *out)
{
	memset(out, 0, sizeof(*out));
	if (t->ncols == 0 || t->ncols > PROTO_BINLOG_MAX_COLS)
		return PROTO_E_MALFORMED;
	size_t meta_at[PROTO_BINLOG_MAX_COLS];
	size_t mo = 0;
	for (size_t i = 0; i < t->ncols; i++) {
		meta_at[i] = mo;
		mo += (size_t)meta_size(t->types[i]);
	}
	if (mo > t->meta_len)
		return PROTO_E_MALFORMED;
	size_t off = 0;
	while (off < len) {
		size_t used = 0, start = off;
		int rc = walk_image(t, meta_at, present, data + off, len - off, &used, out,
				    out->rows == 0);
		if (rc < 0)
			return rc;
		off += used;
		if (present2) {
			rc = walk_image(t, meta_at, present2, data + off, len - off, &used, out,
					false);
			if (rc < 0)
				return rc;
			off += used;
		}
		if (off == start)
			return PROTO_E_MALFORMED; /* no column present: no row takes space */
		out->rows++;
	}
	return 0;
}

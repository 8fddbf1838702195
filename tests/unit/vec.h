/*
 * vec.h — recorded conversations (tests/data/<name>.hex) for unit tests.
 *
 * Owns: loading a .hex file into frames, splitting a conversation into its
 * connection phase and its command exchanges, and the negotiated
 * capabilities (computed with protocol/'s own parsers). Must not: judge the
 * bytes — tests do that. Load failures abort the test (ck_abort).
 *
 * An exchange is one client command (a client frame with sequence id 0
 * after the login) and every frame up to the next command: the server's
 * response, and the client's LOCAL INFILE data or auth-switch replies.
 */
#ifndef TANDEM_TESTS_VEC_H
#define TANDEM_TESTS_VEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vec_frame {
	char dir;               /* 'C' client to server, 'S' server to client */
	uint8_t *bytes;         /* header + payload */
	size_t len;             /* 4 + payload_len */
	const uint8_t *payload; /* bytes + 4 */
	uint32_t payload_len;
	uint8_t seq;
	int exchange; /* -1 connection phase, else command number from 0 */
};

struct vec {
	char name[64];
	struct vec_frame *f;
	size_t n;
	int exchanges; /* number of commands */
	uint64_t caps; /* server caps & client caps, as the server applies them */
	uint64_t server_caps, client_caps;
	struct vec_stream *streams; /* cache of vec_server_stream, per exchange + 1 */
};

/* Load tests/data/<name>.hex (the test's working directory is tests/data). */
struct vec *vec_load(const char *name);
void vec_free(struct vec *v);

/* Index of exchange k's command frame; aborts if there is none. */
size_t vec_cmd(const struct vec *v, int k);
/* The first exchange whose command starts with byte cmd and (if text is
 * not NULL) whose payload after that byte starts with text; skip earlier
 * matches. Aborts if not found. */
int vec_find(const struct vec *v, uint8_t cmd, const char *text, int skip);

/* The server's frames of exchange k (or of the connection phase, k = -1),
 * headers included, concatenated: the byte stream a proxy reads from the
 * backend. Built once and kept in v (owned by v, valid until vec_free).
 * *nframes, when not NULL, gets the frame count. */
const uint8_t *vec_server_stream(const struct vec *v, int k, size_t *len, size_t *nframes);
/* Frame index of the i-th server frame of exchange k. */
size_t vec_server_frame(const struct vec *v, int k, size_t i);

/* A growable byte buffer for building synthetic streams in tests. */
struct vbuf {
	uint8_t *p;
	size_t len, cap;
};
void vbuf_add(struct vbuf *b, const void *data, size_t n);
/* Append one frame: header (len, seq) and payload. */
void vbuf_frame(struct vbuf *b, const void *payload, uint32_t len, uint8_t seq);
/* Append a logical packet, split into 0xFFFFFF-byte frames from seq on;
 * returns the sequence id after the last frame. */
uint8_t vbuf_packet(struct vbuf *b, const void *payload, size_t len, uint8_t seq);
void vbuf_free(struct vbuf *b);

/* Parse "0a1bff..." into out (at most cap bytes); returns the length. */
size_t vec_unhex(const char *hex, uint8_t *out, size_t cap);

#endif

/*
 * fuzz_mime_deserialize - untrusted blobs into mime_deserialize()
 * (mime/mime.h), then the IMAP writers on whatever it accepts.
 *
 * Input: a serialized tree as stored in the database.  Each input is tried
 * twice: as it is, and with its last four bytes replaced by the CRC-32 of
 * the rest (computed here), so that mutations get past the checksum and
 * reach the structural checks.  Checked for every accepted blob:
 *  - re-serializing gives back exactly the blob (the format is canonical:
 *    minimal integers, no trailing bytes);
 *  - the promises the IMAP writer relies on: parent links, envelopes
 *    exactly on the root and under message parts, children only under
 *    multipart/message parts, at most one under a message part, child
 *    ranges inside the parent's body and in order, body_off == hdr_off +
 *    hdr_len;
 *  - BODYSTRUCTURE, BODY and ENVELOPE (and the address lists) are each
 *    one well-formed IMAP value; mime_part_find() stays inside the tree.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "imap/imap_bodystructure.h"
#include "mime/mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t
crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffU;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1)));
	}
	return crc ^ 0xffffffffU;
}

/* Iterative pre-order walk; returns the number of parts. */
static size_t
check_tree(const struct mime_part *root)
{
	const struct mime_part *p = root, *c;
	size_t n = 0;

	for (;;) {
		size_t kids = 0;
		uint64_t min_off = p->body_off, end = p->body_off + p->body_len;
		bool want_env = p->parent == NULL ||
		    mime_part_is_message(p->parent);

		n++;
		FUZZ_CHECK(p->body_off == p->hdr_off + p->hdr_len, "body_off");
		FUZZ_CHECK(end >= p->body_off, "body range wraps");
		FUZZ_CHECK(p->type != NULL && p->subtype != NULL, "type");
		FUZZ_CHECK((p->env != NULL) == want_env, "envelope placement");
		for (c = p->children; c != NULL; c = c->next) {
			kids++;
			FUZZ_CHECK(c->parent == p, "parent link");
			FUZZ_CHECK(c->hdr_off >= min_off &&
			    c->body_off + c->body_len <= end,
			    "child outside its parent");
			min_off = c->body_off + c->body_len;
		}
		if (kids > 0)
			FUZZ_CHECK(mime_part_is_multipart(p) ||
			    mime_part_is_message(p), "children under a leaf");
		if (mime_part_is_message(p))
			FUZZ_CHECK(kids <= 1, "message with %zu children",
			    kids);
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != root && p->next == NULL)
			p = p->parent;
		if (p == root)
			break;
		p = p->next;
	}
	FUZZ_CHECK(mime_part_count(root) == n, "mime_part_count");
	return n;
}

static bool
in_tree(const struct mime_part *root, const struct mime_part *x)
{
	for (; x != NULL; x = x->parent)
		if (x == root)
			return true;
	return false;
}

static void
write_checked(const struct mime_part *root)
{
	struct buf b = BUF_INIT;
	const struct mime_envelope *e = root->env;

	imap_write_bodystructure(&b, root, true);
	FUZZ_CHECK(fuzz_imap_value_check(b.data, b.len),
	    "BODYSTRUCTURE is not one IMAP value: %s", b.data);
	buf_reset(&b);
	imap_write_bodystructure(&b, root, false);
	FUZZ_CHECK(fuzz_imap_value_check(b.data, b.len),
	    "BODY is not one IMAP value: %s", b.data);
	buf_reset(&b);
	imap_write_envelope(&b, e);
	FUZZ_CHECK(fuzz_imap_value_check(b.data, b.len),
	    "ENVELOPE is not one IMAP value: %s", b.data);
	if (e != NULL) {
		const char *lists[6] = { e->from, e->sender, e->reply_to,
		    e->to, e->cc, e->bcc };

		for (size_t i = 0; i < 6; i++) {
			buf_reset(&b);
			imap_write_address_list(&b, lists[i]);
			FUZZ_CHECK(fuzz_imap_value_check(b.data, b.len),
			    "address list is not one IMAP value: %s", b.data);
		}
	}
	buf_free(&b);
}

static void
one(const uint8_t *blob, size_t len)
{
	struct mime_part *root;
	struct buf again = BUF_INIT;
	const char *err = NULL;
	static const unsigned paths[][3] = {
		{ 1, 0, 0 }, { 2, 0, 0 }, { 1, 1, 0 }, { 2, 1, 0 },
		{ 1, 2, 0 }, { 1, 1, 1 }, { 3, 2, 1 }, { 1, 0, 0 },
	};

	root = mime_deserialize(blob, len, &err);
	if (root == NULL) {
		FUZZ_CHECK(err != NULL && err[0] != '\0', "no error message");
		return;
	}
	FUZZ_CHECK(root->parent == NULL, "root has a parent");
	FUZZ_CHECK(mime_serialize(root, &again) == 0, "serialize");
	FUZZ_CHECK(fuzz_mem_eq(again.data, again.len, blob, len),
	    "accepted blob of %zu bytes re-serializes to %zu bytes", len,
	    again.len);
	check_tree(root);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		size_t n = paths[i][1] == 0 ? 1 : paths[i][2] == 0 ? 2 : 3;
		const struct mime_part *f = mime_part_find(root, paths[i], n);

		FUZZ_CHECK(f == NULL || in_tree(root, f),
		    "mime_part_find left the tree");
	}
	write_checked(root);
	mime_part_free(&root);
	buf_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint32_t crc;

	one(data, size);
	if (size < 8)
		return 0;
	copy = malloc(size);
	memcpy(copy, data, size);
	crc = crc32_ieee(copy, size - 4);
	copy[size - 4] = (uint8_t)crc;
	copy[size - 3] = (uint8_t)(crc >> 8);
	copy[size - 2] = (uint8_t)(crc >> 16);
	copy[size - 1] = (uint8_t)(crc >> 24);
	if (memcmp(copy, data, size) != 0)
		one(copy, size);
	free(copy);
	return 0;
}

/*
 * fuzz_mime_addr - RFC 5322 address lists (mime/mime_addr.h) and their
 * ENVELOPE form (imap_write_address_list()).
 *
 * Input: one header value (From:, To:, Cc: ... without the name).
 * Checked:
 *  - every element is exactly one of: a mailbox (mailbox and host set, so
 *    an IMAP client can never take it for a group marker), a group start
 *    (only mailbox set), a group end (nothing set), and
 *    mime_addr_is_group_start()/_end() say which;
 *  - groups are balanced and not nested (a missing ';' is closed at the
 *    end);
 *  - the ENVELOPE address list written for the value is NIL or one
 *    well-formed parenthesized IMAP list.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "imap/imap_bodystructure.h"
#include "mime/mime_addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	struct mime_addr *list, *a;
	struct buf b = BUF_INIT;
	bool in_group = false;
	size_t n = 0;

	/* An exact-length copy, so ASan catches reads past the value. */
	char *exact = malloc(size > 0 ? size : 1);

	memcpy(exact, data, size);
	list = mime_addr_parse(exact, size);
	for (a = list; a != NULL; a = a->next) {
		bool start = mime_addr_is_group_start(a);
		bool end = mime_addr_is_group_end(a);

		n++;
		FUZZ_CHECK(!(start && end), "element %zu is start and end", n);
		if (start) {
			FUZZ_CHECK(a->name == NULL && a->adl == NULL &&
			    a->host == NULL && a->mailbox != NULL,
			    "group start %zu fields", n);
			FUZZ_CHECK(!in_group, "nested group at %zu", n);
			in_group = true;
		} else if (end) {
			FUZZ_CHECK(a->name == NULL && a->adl == NULL &&
			    a->host == NULL && a->mailbox == NULL,
			    "group end %zu fields", n);
			FUZZ_CHECK(in_group, "group end without start at %zu",
			    n);
			in_group = false;
		} else {
			FUZZ_CHECK(a->mailbox != NULL && a->host != NULL,
			    "mailbox %zu without local part or host", n);
		}
	}
	FUZZ_CHECK(!in_group, "group left open");
	mime_addr_free(&list);
	FUZZ_CHECK(list == NULL, "mime_addr_free");

	memcpy(copy, data, size);
	copy[size] = '\0';
	imap_write_address_list(&b, copy);
	FUZZ_CHECK(fuzz_imap_value_check(b.data, b.len),
	    "address list is not one IMAP value: %s", buf_cstr(&b));
	FUZZ_CHECK(strcmp(buf_cstr(&b), "NIL") == 0 || b.data[0] == '(',
	    "address list is neither NIL nor a list: %s", buf_cstr(&b));
	buf_free(&b);
	free(copy);
	free(exact);
	return 0;
}

/*
 * fuzz_imap_utf7 - modified UTF-7 mailbox names (imap/imap_utf7.h).
 *
 * Input: a mailbox name, tried both as modified UTF-7 and as UTF-8.
 * Checked:
 *  - utf8 -> utf7 -> utf8 gives the input back whenever the first
 *    conversion succeeds, and utf7 -> utf8 -> utf7 likewise (the strict
 *    rules promise one spelling per name);
 *  - utf7 output is printable ASCII and passes imap_utf7_is_valid(), which
 *    agrees with imap_utf7_to_utf8() on every input;
 *  - imap_utf8_to_utf7() accepts exactly the strict UTF-8 of a reference
 *    decoder written here (shortest form, no surrogates, <= U+10FFFF) that
 *    holds no NUL, and imap_utf8_is_valid() agrees on NUL-free input;
 *  - a failed conversion leaves the buffer as it was;
 *  - imap_mailbox_name_check() agrees with the documented rules (for '/'
 *    and '.' separators), and imap_mailbox_name_normalize() only rewrites
 *    a first level spelled INBOX in some case.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "imap/imap_utf7.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PREFIX	"keep"

static bool
ref_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp, min;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
			min = 0x10000;
		} else
			return false;
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

static bool
ref_name_ok(const char *s, size_t len, char sep)
{
	size_t start = 0, levels = 1;

	if (len == 0 || len > IMAP_MAILBOX_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	if (!ref_utf8_valid((const unsigned char *)s, len))
		return false;
	for (size_t i = 0; i <= len; i++) {
		size_t n;

		if (i < len && s[i] != sep)
			continue;
		n = i - start;
		if (n == 0 || (n == 1 && s[start] == '.') ||
		    (n == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
		if (i < len)
			levels++;
		start = i + 1;
	}
	return levels <= IMAP_MAILBOX_DEPTH_MAX;
}

static void
check_untouched(const struct buf *b)
{
	FUZZ_CHECK(b->len == sizeof(PREFIX) - 1 &&
	    memcmp(b->data, PREFIX, b->len) == 0,
	    "failed conversion changed the buffer (len %zu)", b->len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf a = BUF_INIT, back = BUF_INIT;
	bool has_nul = memchr(in, '\0', size) != NULL;
	bool utf8ok = ref_utf8_valid(data, size);
	const char *err;
	const char seps[2] = { '/', '.' };

	/* UTF-7 first. */
	buf_puts(&a, PREFIX);
	if (imap_utf7_to_utf8(in, size, &a) == 0) {
		const char *u = a.data + sizeof(PREFIX) - 1;
		size_t ul = a.len - (sizeof(PREFIX) - 1);

		FUZZ_CHECK(imap_utf7_is_valid(in, size), "is_valid disagrees");
		FUZZ_CHECK(ref_utf8_valid((const unsigned char *)u, ul) &&
		    memchr(u, '\0', ul) == NULL, "utf7 decoded to bad UTF-8");
		FUZZ_CHECK(imap_utf8_to_utf7(u, ul, &back) == 0,
		    "decoded name does not encode");
		FUZZ_CHECK(fuzz_mem_eq(back.data, back.len, in, size),
		    "utf7 -> utf8 -> utf7 differs: '%.*s' -> '%s'", (int)size,
		    in, buf_cstr(&back));
	} else {
		FUZZ_CHECK(!imap_utf7_is_valid(in, size), "is_valid disagrees");
		check_untouched(&a);
	}
	buf_reset(&a);
	buf_reset(&back);

	/* Then UTF-8. */
	buf_puts(&a, PREFIX);
	if (!has_nul)
		FUZZ_CHECK(imap_utf8_is_valid(in, size) == utf8ok,
		    "imap_utf8_is_valid says %d, reference %d",
		    !utf8ok, utf8ok);
	if (imap_utf8_to_utf7(in, size, &a) == 0) {
		const char *u = a.data + sizeof(PREFIX) - 1;
		size_t ul = a.len - (sizeof(PREFIX) - 1);

		FUZZ_CHECK(utf8ok && !has_nul, "bad UTF-8 encoded");
		for (size_t i = 0; i < ul; i++)
			FUZZ_CHECK(u[i] >= 0x20 && u[i] < 0x7f,
			    "utf7 byte %#x", (unsigned char)u[i]);
		FUZZ_CHECK(imap_utf7_is_valid(u, ul), "own output invalid");
		FUZZ_CHECK(imap_utf7_to_utf8(u, ul, &back) == 0,
		    "own output does not decode");
		FUZZ_CHECK(fuzz_mem_eq(back.data, back.len, in, size),
		    "utf8 -> utf7 -> utf8 differs");
	} else {
		FUZZ_CHECK(!utf8ok || has_nul, "valid UTF-8 refused");
		check_untouched(&a);
	}

	/* Mailbox names. */
	for (size_t k = 0; k < 2; k++) {
		char *copy;
		bool ok;

		err = NULL;
		ok = imap_mailbox_name_check(in, size, seps[k], &err) == 0;
		FUZZ_CHECK(ok == ref_name_ok(in, size, seps[k]),
		    "name check says %d with sep '%c'", ok, seps[k]);
		FUZZ_CHECK(ok || (err != NULL && err[0] != '\0'),
		    "refused without a message");
		copy = malloc(size > 0 ? size : 1);
		memcpy(copy, in, size);
		imap_mailbox_name_normalize(copy, size, seps[k]);
		if (size >= 5 && strncasecmp(in, "INBOX", 5) == 0 &&
		    (size == 5 || in[5] == seps[k]))
			FUZZ_CHECK(memcmp(copy, "INBOX", 5) == 0 &&
			    fuzz_mem_eq(copy + 5, size - 5, in + 5, size - 5),
			    "INBOX not normalized");
		else
			FUZZ_CHECK(fuzz_mem_eq(copy, size, in, size),
			    "normalize changed a name");
		free(copy);
	}
	buf_free(&a);
	buf_free(&back);
	return 0;
}

/*
 * psl - Public Suffix List loading and lookups (see psl.h).
 *
 * The rules live in an open-addressing hash table keyed by the rule's
 * name without its "*." or "!" prefix; each entry carries the kinds of
 * rule seen for that name (normal, wildcard, exception).  A lookup hashes
 * each suffix of the name once, so it costs one probe sequence per label.
 * The file is read whole (bounded by PSL_FILE_MAX) once at startup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "dmarc/psl.h"

#define RULE_NORMAL	0x1
#define RULE_WILDCARD	0x2	/* "*.name" */
#define RULE_EXCEPTION	0x4	/* "!name" */

struct psl_entry {
	char		*name;		/* NULL: empty slot */
	unsigned	 kinds;
};

struct psl {
	struct psl_entry *tab;
	size_t		 size;		/* power of two */
	size_t		 used;
	size_t		 rules;
};

/*
 * Built-in fallback: the most used multi-label public suffixes (single
 * labels need no rule, the implicit "*" covers them).
 */
static const char builtin_rules[] =
	"ac.uk\nco.uk\ngov.uk\nltd.uk\nme.uk\nnet.uk\nnhs.uk\norg.uk\n"
	"plc.uk\npolice.uk\nsch.uk\n"
	"asn.au\ncom.au\nedu.au\ngov.au\nid.au\nnet.au\norg.au\n"
	"ac.nz\nco.nz\ngeek.nz\ngen.nz\ngovt.nz\nkiwi.nz\nnet.nz\norg.nz\n"
	"school.nz\n"
	"ac.jp\nad.jp\nco.jp\ned.jp\ngo.jp\ngr.jp\nlg.jp\nne.jp\nor.jp\n"
	"com.br\nedu.br\ngov.br\nnet.br\norg.br\n"
	"ac.cn\ncom.cn\nedu.cn\ngov.cn\nnet.cn\norg.cn\n"
	"ac.in\nco.in\nedu.in\nfirm.in\ngen.in\ngov.in\nind.in\nnet.in\n"
	"org.in\nres.in\n"
	"ac.za\nco.za\nedu.za\ngov.za\nnet.za\norg.za\nweb.za\n"
	"com.mx\nedu.mx\ngob.mx\nnet.mx\norg.mx\n"
	"com.ar\ncom.co\ncom.eg\ncom.es\ncom.hk\ncom.my\ncom.pe\ncom.ph\n"
	"com.pl\ncom.sa\ncom.sg\ncom.tr\ncom.tw\ncom.ua\ncom.ve\ncom.vn\n"
	"co.at\nor.at\nco.id\nor.id\nco.il\norg.il\nco.kr\nor.kr\nco.th\n"
	"in.th\nnet.il\nac.il\nac.kr\nne.kr\n"
	"*.ck\n!www.ck\n*.bd\n*.er\n*.fk\n*.jm\n*.kh\n*.mm\n*.np\n*.pg\n"
	"*.kawasaki.jp\n*.kitakyushu.jp\n*.kobe.jp\n*.nagoya.jp\n"
	"*.sapporo.jp\n*.sendai.jp\n*.yokohama.jp\n!city.kawasaki.jp\n"
	"!city.kitakyushu.jp\n!city.kobe.jp\n!city.nagoya.jp\n"
	"!city.sapporo.jp\n!city.sendai.jp\n!city.yokohama.jp\n"
	"appspot.com\nblogspot.com\ncloudfront.net\ngithub.io\n"
	"herokuapp.com\nnetlify.app\npages.dev\nvercel.app\n"
	"azurewebsites.net\nfirebaseapp.com\ngitlab.io\n";

/* FNV-1a over the ASCII-lowered name. */
static uint64_t
name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h ^= c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct psl_entry *
slot_find(const struct psl *psl, const char *s, size_t len)
{
	size_t i = (size_t)name_hash(s, len) & (psl->size - 1);

	for (;;) {
		struct psl_entry *e = &psl->tab[i];

		if (e->name == NULL || (strlen(e->name) == len &&
		    strncasecmp(e->name, s, len) == 0))
			return e;
		i = (i + 1) & (psl->size - 1);
	}
}

static void
table_grow(struct psl *psl)
{
	struct psl_entry *old = psl->tab;
	size_t osize = psl->size;

	psl->size = osize == 0 ? 1024 : osize * 2;
	psl->tab = xcalloc(psl->size, sizeof(*psl->tab));
	for (size_t i = 0; i < osize; i++) {
		if (old[i].name != NULL)
			*slot_find(psl, old[i].name, strlen(old[i].name)) =
			    old[i];
	}
	free(old);
}

static void
rule_add(struct psl *psl, const char *name, size_t len, unsigned kind)
{
	struct psl_entry *e;

	if ((psl->used + 1) * 2 > psl->size)
		table_grow(psl);
	e = slot_find(psl, name, len);
	if (e->name == NULL) {
		e->name = xstrndup(name, len);
		psl->used++;
	}
	if ((e->kinds & kind) == 0)
		psl->rules++;
	e->kinds |= kind;
}

static unsigned
rule_kinds(const struct psl *psl, const char *s, size_t len)
{
	if (psl->size == 0)
		return 0;
	return slot_find(psl, s, len)->kinds;
}

/* One rule line: "name", "*.name" or "!name"; anything else is skipped. */
static void
rule_line(struct psl *psl, const char *s, size_t len, struct buf *tmp)
{
	unsigned kind = RULE_NORMAL;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		kind = RULE_WILDCARD;
		s += 2;
		len -= 2;
	} else if (len >= 1 && s[0] == '!') {
		kind = RULE_EXCEPTION;
		s++;
		len--;
	}
	if (len == 0 || memchr(s, '*', len) != NULL ||
	    memchr(s, '!', len) != NULL || s[0] == '.' || s[len - 1] == '.')
		return;
	buf_reset(tmp);
	if (psl_to_ascii(s, len, tmp) == -1 || tmp->len == 0 ||
	    tmp->len > 253)
		return;
	rule_add(psl, tmp->data, tmp->len, kind);
}

struct psl *
psl_parse(const char *data, size_t len)
{
	struct psl *psl = xcalloc(1, sizeof(*psl));
	struct buf tmp = BUF_INIT;
	size_t i = 0;

	table_grow(psl);
	while (i < len) {
		size_t b, e, eol = i;

		while (eol < len && data[eol] != '\n')
			eol++;
		/* The rule is the first word; "//" starts a comment line. */
		for (b = i; b < eol && (data[b] == ' ' || data[b] == '\t' ||
		    data[b] == '\r'); b++)
			;
		for (e = b; e < eol && data[e] != ' ' && data[e] != '\t' &&
		    data[e] != '\r'; e++)
			;
		if (e > b && !(e - b >= 2 && data[b] == '/' &&
		    data[b + 1] == '/'))
			rule_line(psl, data + b, e - b, &tmp);
		i = eol + 1;
	}
	buf_free(&tmp);
	return psl;
}

struct psl *
psl_builtin(void)
{
	return psl_parse(builtin_rules, sizeof(builtin_rules) - 1);
}

struct psl *
psl_load(const char *path, bool *fallback_r, const char **error_r)
{
	struct psl *psl;
	struct stat st;
	char *data;
	size_t off = 0;
	int fd;

	if (fallback_r != NULL)
		*fallback_r = false;
	if (path == NULL)
		path = PSL_DEFAULT_PATH;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT) {
			if (fallback_r != NULL)
				*fallback_r = true;
			return psl_builtin();
		}
		*error_r = "cannot open the public suffix list";
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > PSL_FILE_MAX) {
		close(fd);
		*error_r = "public suffix list: not a file, or too large";
		return NULL;
	}
	data = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, data + off, (size_t)st.st_size - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off != (size_t)st.st_size) {
		free(data);
		*error_r = "cannot read the public suffix list";
		return NULL;
	}
	psl = psl_parse(data, off);
	free(data);
	if (psl->rules == 0) {
		psl_free(&psl);
		*error_r = "no rule in the public suffix list";
		return NULL;
	}
	return psl;
}

size_t
psl_count(const struct psl *psl)
{
	return psl->rules;
}

void
psl_free(struct psl **pp)
{
	struct psl *psl = *pp;

	if (psl == NULL)
		return;
	for (size_t i = 0; i < psl->size; i++)
		free(psl->tab[i].name);
	free(psl->tab);
	free(psl);
	*pp = NULL;
}

/*
 * Number of labels of the public suffix of name[0..len), or 0 when name
 * is not a domain.  *nlabels_r gets the number of labels of name and
 * starts[] (room for 128) their offsets.
 */
static size_t
suffix_labels(const struct psl *psl, const char *name, size_t len,
    size_t *starts, size_t *nlabels_r)
{
	size_t n = 0, best = 1;

	if (len == 0 || len > 253)
		return 0;
	starts[n++] = 0;
	for (size_t i = 0; i < len; i++) {
		if (name[i] != '.')
			continue;
		if (i + 1 >= len || i == starts[n - 1])
			return 0;	/* empty label */
		starts[n++] = i + 1;
	}
	*nlabels_r = n;
	for (size_t i = 0; i < n; i++) {
		unsigned k = rule_kinds(psl, name + starts[i], len - starts[i]);

		/* An exception rule prevails; the longest one comes first. */
		if (k & RULE_EXCEPTION)
			return n - i - 1;
		if ((k & RULE_NORMAL) && n - i > best)
			best = n - i;
		if ((k & RULE_WILDCARD) && i > 0 && n - i + 1 > best)
			best = n - i + 1;
	}
	return best;
}

const char *
psl_public_suffix(const struct psl *psl, const char *name)
{
	size_t starts[128], n, len = strlen(name), ps;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if ((ps = suffix_labels(psl, name, len, starts, &n)) == 0)
		return NULL;
	return name + starts[n - ps];
}

const char *
psl_org_domain(const struct psl *psl, const char *name)
{
	size_t starts[128], n, len = strlen(name), ps;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if ((ps = suffix_labels(psl, name, len, starts, &n)) == 0 || n <= ps)
		return NULL;
	return name + starts[n - ps - 1];
}

/*
 * Punycode (RFC 3492) and UTF-8.
 */
#define PC_BASE		36
#define PC_TMIN		1
#define PC_TMAX		26
#define PC_SKEW		38
#define PC_DAMP		700

static uint32_t
pc_adapt(uint32_t delta, uint32_t npoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / PC_DAMP : delta / 2;
	delta += delta / npoints;
	while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
		delta /= PC_BASE - PC_TMIN;
		k += PC_BASE;
	}
	return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char
pc_digit(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + d - 26);
}

/* Decodes one UTF-8 sequence at s[*i]; returns the code point or -1. */
static int32_t
utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp, min;
	size_t n;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 1; cp = c & 0x1f; min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2; cp = c & 0x0f; min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3; cp = c & 0x07; min = 0x10000;
	} else
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if (*i + k >= len || (s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return (int32_t)cp;
}

/* Punycodes one label of code points into out with "xn--". */
static int
punycode_label(const uint32_t *cp, size_t n, struct buf *out)
{
	size_t start = out->len, b = 0, h;
	uint32_t code = 128, delta = 0, bias = 72;

	buf_puts(out, "xn--");
	for (size_t i = 0; i < n; i++) {
		if (cp[i] < 0x80) {
			char c = (char)cp[i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			buf_putc(out, c);
			b++;
		}
	}
	if (b > 0)
		buf_putc(out, '-');
	h = b;
	while (h < n) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++)
			if (cp[i] >= code && cp[i] < m)
				m = cp[i];
		if ((uint64_t)(m - code) * (h + 1) > UINT32_MAX - delta)
			return -1;
		delta += (m - code) * (uint32_t)(h + 1);
		code = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < code && ++delta == 0)
				return -1;
			if (cp[i] != code)
				continue;
			uint32_t q = delta;

			for (uint32_t k = PC_BASE;; k += PC_BASE) {
				uint32_t t = k <= bias ? PC_TMIN :
				    k >= bias + PC_TMAX ? PC_TMAX : k - bias;

				if (q < t)
					break;
				buf_putc(out, pc_digit(t + (q - t) %
				    (PC_BASE - t)));
				q = (q - t) / (PC_BASE - t);
			}
			buf_putc(out, pc_digit(q));
			bias = pc_adapt(delta, (uint32_t)h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		code++;
		if (out->len - start > 63)
			return -1;
	}
	return out->len - start > 63 ? -1 : 0;
}

int
psl_to_ascii(const char *s, size_t len, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t base = out->len, i = 0;
	uint32_t *cp = NULL;

	cp = xreallocarray(NULL, len + 1, sizeof(*cp));
	while (i <= len) {
		size_t b = i, n = 0;
		bool ascii = true;

		while (i < len && u[i] != '.') {
			int32_t c = utf8_next(u, len, &i);

			if (c < 0)
				goto fail;
			if (c >= 0x80)
				ascii = false;
			cp[n++] = (uint32_t)c;
		}
		if (ascii) {
			for (size_t k = b; k < i; k++) {
				char c = s[k];

				if (c >= 'A' && c <= 'Z')
					c = (char)(c - 'A' + 'a');
				buf_putc(out, c);
			}
		} else if (punycode_label(cp, n, out) == -1)
			goto fail;
		if (i < len)
			buf_putc(out, '.');
		i++;
	}
	free(cp);
	return 0;
fail:
	free(cp);
	buf_truncate(out, base);
	return -1;
}

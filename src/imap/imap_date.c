/*
 * imap_date - IMAP date / date-time and RFC 5322 Date: parsing, and the
 * INTERNALDATE formatter.  See imap_date.h.
 *
 * Calendar arithmetic is done here on 64-bit integers (proleptic Gregorian,
 * days since 1970-01-01) so results never depend on the process time zone
 * and no libc function can overflow a struct tm on hostile years.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_date.h"

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

static const char *const month_full[12] = {
	"January", "February", "March", "April", "May", "June",
	"July", "August", "September", "October", "November", "December"
};

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && is_leap(y))
		return 29;
	return dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	int mp;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	mp = m > 2 ? m - 3 : m + 9;
	doy = (153 * mp + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y_r, int *m_r, int *d_r)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m_r = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y_r = *m_r <= 2 ? y + 1 : y;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Exactly n ASCII digits at s -> *v. */
static bool
digits(const char *s, size_t n, int *v)
{
	int x = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

static int
month_from_abbrev(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (strncasecmp(s, month_names[i], 3) == 0)
			return i + 1;
	return 0;
}

/* Strip one pair of surrounding DQUOTEs, if present. */
static void
unquote(const char **s, size_t *len)
{
	if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') {
		(*s)++;
		*len -= 2;
	}
}

/*
 * date-text at s[0..len): returns the number of bytes used or 0.  With
 * fixed set, the day may also be written as SP DIGIT (date-day-fixed).
 */
static size_t
parse_date_text(const char *s, size_t len, bool fixed, struct imap_date *d)
{
	size_t i = 0, dl;
	int day = 0, mon, year = 0;

	if (fixed && len > 0 && s[0] == ' ')
		i = 1;
	for (dl = 0; i + dl < len && dl < 3 && s[i + dl] >= '0' &&
	    s[i + dl] <= '9'; dl++)
		;
	if (dl == 0 || dl > 2 || (i == 1 && dl != 1))
		return 0;
	digits(s + i, dl, &day);
	i += dl;
	if (len - i < 9 || s[i] != '-' || s[i + 4] != '-')
		return 0;
	if ((mon = month_from_abbrev(s + i + 1)) == 0)
		return 0;
	if (!digits(s + i + 5, 4, &year))
		return 0;
	i += 9;
	if (year < 1 || day < 1 || day > days_in_month(year, mon))
		return 0;
	d->year = year;
	d->month = mon;
	d->day = day;
	return i;
}

int
imap_date_parse(const char *s, size_t len, struct imap_date *out)
{
	struct imap_date d;

	unquote(&s, &len);
	if (parse_date_text(s, len, false, &d) != len || len == 0)
		return -1;
	*out = d;
	return 0;
}

time_t
imap_date_to_time(const struct imap_date *d)
{
	return (time_t)(days_from_civil(d->year, d->month, d->day) * 86400);
}

void
imap_date_from_time(time_t t, int tz_min, struct imap_date *out)
{
	int64_t y;
	int m, d;

	civil_from_days(floor_div((int64_t)t + (int64_t)tz_min * 60, 86400),
	    &y, &m, &d);
	out->year = (int)y;
	out->month = m;
	out->day = d;
}

static time_t
make_time(const struct imap_date *d, int hh, int mm, int ss, int tz_min)
{
	int64_t t;

	t = days_from_civil(d->year, d->month, d->day) * 86400 +
	    (int64_t)hh * 3600 + (int64_t)mm * 60 + ss;
	return (time_t)(t - (int64_t)tz_min * 60);
}

int
imap_datetime_parse(const char *s, size_t len, time_t *t_r, int *tz_min_r)
{
	struct imap_date d;
	size_t i;
	int hh, mm, ss, zh, zm, tz;

	unquote(&s, &len);
	if ((i = parse_date_text(s, len, true, &d)) == 0)
		return -1;
	s += i;
	len -= i;
	/* SP hh:mm:ss SP +hhmm */
	if (len != 15 || s[0] != ' ' || s[3] != ':' || s[6] != ':' ||
	    s[9] != ' ' || (s[10] != '+' && s[10] != '-'))
		return -1;
	if (!digits(s + 1, 2, &hh) || !digits(s + 4, 2, &mm) ||
	    !digits(s + 7, 2, &ss) || !digits(s + 11, 2, &zh) ||
	    !digits(s + 13, 2, &zm))
		return -1;
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	tz = zh * 60 + zm;
	if (s[10] == '-')
		tz = -tz;
	*t_r = make_time(&d, hh, mm, ss, tz);
	*tz_min_r = tz;
	return 0;
}

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void
imap_datetime_format(time_t t, int tz_min, char out[IMAP_DATETIME_SIZE])
{
	/* 0001-01-01T00:00:00 and 9999-12-31T23:59:59 local time. */
	const int64_t tmin = -62135596800LL, tmax = 253402300799LL;
	int64_t local, days, secs, y;
	int m, d, off;
	char sign;

	if (tz_min > 1439)
		tz_min = 1439;
	if (tz_min < -1439)
		tz_min = -1439;
	local = (int64_t)t + (int64_t)tz_min * 60;
	if (local < tmin)
		local = tmin;
	if (local > tmax)
		local = tmax;
	days = floor_div(local, 86400);
	secs = local - days * 86400;
	civil_from_days(days, &y, &m, &d);
	sign = tz_min < 0 ? '-' : '+';
	off = tz_min < 0 ? -tz_min : tz_min;
	/* Fixed layout: "dd-Mon-yyyy hh:mm:ss +hhmm", DQUOTEs around. */
	out[0] = '"';
	out[1] = d >= 10 ? (char)('0' + d / 10) : ' ';
	out[2] = (char)('0' + d % 10);
	out[3] = '-';
	memcpy(out + 4, month_names[m - 1], 3);
	out[7] = '-';
	put2(out + 8, (int)(y / 100));
	put2(out + 10, (int)(y % 100));
	out[12] = ' ';
	put2(out + 13, (int)(secs / 3600));
	out[15] = ':';
	put2(out + 16, (int)(secs / 60 % 60));
	out[18] = ':';
	put2(out + 19, (int)(secs % 60));
	out[21] = ' ';
	out[22] = sign;
	put2(out + 23, off / 60);
	put2(out + 25, off % 60);
	out[27] = '"';
	out[28] = '\0';
}

/*
 * RFC 5322 tokenizer: CFWS is skipped between tokens; a token is a run of
 * letters, a run of digits, or one other byte.
 */
struct rtok {
	const char	*s;
	size_t		 len;
	size_t		 pos;
};

#define RFC5322_MAX_COMMENT_DEPTH	32

static void
r_skip_cfws(struct rtok *r)
{
	while (r->pos < r->len) {
		char c = r->s[r->pos];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			r->pos++;
		} else if (c == '(') {
			unsigned depth = 0;

			/* Unterminated comments swallow the rest. */
			while (r->pos < r->len) {
				c = r->s[r->pos++];
				if (c == '\\' && r->pos < r->len)
					r->pos++;
				else if (c == '(') {
					if (++depth > RFC5322_MAX_COMMENT_DEPTH) {
						r->pos = r->len;
						return;
					}
				} else if (c == ')' && --depth == 0)
					break;
			}
		} else
			return;
	}
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Next token after CFWS; returns its length (0 at end). */
static size_t
r_next(struct rtok *r, const char **tok)
{
	size_t start, n = 1;

	r_skip_cfws(r);
	if (r->pos >= r->len)
		return 0;
	start = r->pos;
	*tok = r->s + start;
	if (is_alpha(r->s[start])) {
		while (start + n < r->len && is_alpha(r->s[start + n]))
			n++;
	} else if (is_digit(r->s[start])) {
		while (start + n < r->len && is_digit(r->s[start + n]))
			n++;
	}
	r->pos += n;
	return n;
}

static bool
r_peek_char(struct rtok *r, char c)
{
	r_skip_cfws(r);
	if (r->pos < r->len && r->s[r->pos] == c) {
		r->pos++;
		return true;
	}
	return false;
}

static bool
is_weekday(const char *s, size_t n)
{
	static const char *const full[7] = { "Monday", "Tuesday", "Wednesday",
	    "Thursday", "Friday", "Saturday", "Sunday" };

	for (int i = 0; i < 7; i++) {
		if ((n == 3 || n == strlen(full[i])) &&
		    strncasecmp(s, full[i], n) == 0)
			return true;
	}
	return false;
}

static int
month_from_name(const char *s, size_t n)
{
	for (int i = 0; i < 12; i++) {
		if (n == 3 && strncasecmp(s, month_names[i], 3) == 0)
			return i + 1;
		if (n == strlen(month_full[i]) &&
		    strncasecmp(s, month_full[i], n) == 0)
			return i + 1;
	}
	/* "Sept" is common enough in old mail. */
	if (n == 4 && strncasecmp(s, "Sept", 4) == 0)
		return 9;
	return 0;
}

static int
zone_from_name(const char *s, size_t n)
{
	static const struct {
		const char	*name;
		int		 min;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (n == strlen(zones[i].name) &&
		    strncasecmp(s, zones[i].name, n) == 0)
			return zones[i].min;
	/* Military and unknown zones: RFC 5322 4.3 says treat as -0000. */
	return 0;
}

int
imap_date_parse_rfc5322(const char *s, size_t len, time_t *t_r,
    int *tz_min_r)
{
	struct rtok r = { s, len, 0 };
	struct imap_date d;
	const char *tok = NULL;
	size_t n, save;
	int day = 0, mon, year = 0, hh = 0, mm = 0, ss = 0, tz = 0, zh = 0;
	int zm = 0;

	n = r_next(&r, &tok);
	if (n > 0 && is_alpha(tok[0])) {
		if (!is_weekday(tok, n))
			return -1;
		(void)r_peek_char(&r, ',');
		n = r_next(&r, &tok);
	}
	/* day */
	if (n == 0 || n > 2 || !is_digit(tok[0]))
		return -1;
	digits(tok, n, &day);
	(void)r_peek_char(&r, '-');
	/* month */
	n = r_next(&r, &tok);
	if (n == 0 || !is_alpha(tok[0]) || (mon = month_from_name(tok, n)) == 0)
		return -1;
	(void)r_peek_char(&r, '-');
	/* year */
	n = r_next(&r, &tok);
	if (n < 2 || n > 4 || !is_digit(tok[0]))
		return -1;
	digits(tok, n, &year);
	if (n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (n == 3)
		year += 1900;
	if (year < 1 || day < 1 || day > days_in_month(year, mon))
		return -1;
	/* time */
	n = r_next(&r, &tok);
	if (n == 0 || n > 2 || !is_digit(tok[0]))
		return -1;
	digits(tok, n, &hh);
	if (!r_peek_char(&r, ':'))
		return -1;
	n = r_next(&r, &tok);
	if (n != 2 || !is_digit(tok[0]))
		return -1;
	digits(tok, n, &mm);
	if (r_peek_char(&r, ':')) {
		n = r_next(&r, &tok);
		if (n != 2 || !is_digit(tok[0]))
			return -1;
		digits(tok, n, &ss);
	}
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	/* zone (optional) */
	save = r.pos;
	n = r_next(&r, &tok);
	if (n == 1 && (tok[0] == '+' || tok[0] == '-')) {
		const char *z;
		bool neg = tok[0] == '-';

		if (r_next(&r, &z) != 4 || !is_digit(z[0]))
			return -1;
		digits(z, 2, &zh);
		digits(z + 2, 2, &zm);
		if (zh > 23 || zm > 59)
			return -1;
		tz = zh * 60 + zm;
		if (neg)
			tz = -tz;
	} else if (n > 0 && is_alpha(tok[0])) {
		tz = zone_from_name(tok, n);
	} else
		r.pos = save;
	d.year = year;
	d.month = mon;
	d.day = day;
	*t_r = make_time(&d, hh, mm, ss, tz);
	*tz_min_r = tz;
	return 0;
}

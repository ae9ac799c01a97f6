/*
 * util - small helpers shared by every module: random identifiers, dates,
 * bounded number parsing, ASCII case handling and host-name syntax.
 */
#ifndef POSTHORN_UTIL_H
#define POSTHORN_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ID_HEX_LEN	16

/* Fill out with 16 lowercase hex digits from the kernel's CSPRNG + NUL. */
void	 random_id(char out[ID_HEX_LEN + 1]);
/* Fill buf with random bytes (getrandom); aborts if the kernel fails. */
void	 random_bytes(void *, size_t);
uint32_t random_u32(void);

/* RFC 5322 date-time in local time, e.g. "Sun, 22 Nov 2026 12:00:00 +0000". */
void	 rfc5322_date(time_t, char *, size_t);

/*
 * Parse a decimal number of exactly len bytes, digit by digit, refusing
 * overflow past max, signs, spaces and empty input.  Returns 0 or -1.
 */
int	 parse_u64(const char *, size_t, uint64_t max, uint64_t *);
/* "10M", "512k", "1G", "1048576" -> bytes.  Returns 0 or -1. */
int	 parse_size(const char *, uint64_t *);
/* "30s", "5m", "2h", "1d", "300" (seconds) -> seconds.  Returns 0 or -1. */
int	 parse_duration(const char *, uint64_t *);
/* "yes/no/on/off/true/false/1/0".  Returns 0 or -1. */
int	 parse_bool(const char *, bool *);

void	 ascii_lower(char *);
bool	 ascii_strcaseeq_n(const char *, size_t, const char *);

/*
 * RFC 5321 Domain syntax: sub-domains of letters, digits and inner hyphens
 * separated by dots, each 1..63, total <= 253.  Address literals are checked
 * by addr_literal_valid() ("[1.2.3.4]", "[IPv6:...]").
 */
bool	 domain_valid(const char *, size_t);
bool	 addr_literal_valid(const char *, size_t);

/* Constant-time comparison of two equal-length byte strings. */
bool	 timingsafe_eq(const void *, const void *, size_t);

/*
 * Networks: "192.0.2.0/24", "2001:db8::/32", a bare address (the whole
 * address), separated by commas and/or white space.  An IPv4-mapped IPv6
 * client address ("::ffff:192.0.2.1") matches IPv4 networks.
 */
struct netmask {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	unsigned	 bits;
};
/* Returns the number of networks (0 for an empty list) or -1. */
int	 netlist_parse(const char *, struct netmask **list_r);
bool	 netlist_match(const struct netmask *, size_t n, const char *ip);

/*
 * The name under which per-address limits count a client address (text):
 * an IPv4 address (also IPv4-mapped) is itself; an IPv6 address stands for
 * its network of v6_bits bits, "2001:db8:1:2:3::/84" (one holder of an
 * IPv6 network has all its addresses; Postfix 3.8 counts by /84 too), or
 * itself with v6_bits 128.  Anything else is copied.  size: at least
 * INET6_ADDRSTRLEN + 4.
 */
void	 ip_limit_key(const char *ip, unsigned v6_bits, char *out,
	    size_t size);

/* Millisecond monotonic clock. */
uint64_t mono_ms(void);

#endif

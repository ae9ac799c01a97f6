/*
 * imap_search_parse - SEARCH criteria (RFC 9051 6.4.4, RFC 3501 6.4.4)
 * into a tree; parsing only, evaluation lives with the store.
 *
 * Input is the argument array imap_parse_command() produced, starting after
 * the command name ("UID SEARCH" included):
 *
 *	[RETURN (opts)] [CHARSET x] key *(SP key)
 *
 * RETURN (RFC 4731 ESEARCH, RFC 5182 SAVE) and CHARSET may come in either
 * order, each at most once.  Keys: ALL ANSWERED BCC BEFORE BODY CC DELETED
 * DRAFT FLAGGED FROM HEADER KEYWORD LARGER NEW NOT OLD ON OR RECENT SEEN
 * SENTBEFORE SENTON SENTSINCE SINCE SMALLER SUBJECT TEXT TO UID UNANSWERED
 * UNDELETED UNDRAFT UNFLAGGED UNKEYWORD UNSEEN, a sequence set (or "$"),
 * parenthesized groups (implicit AND), MODSEQ (RFC 7162 CONDSTORE) and
 * OLDER/YOUNGER (RFC 5032 WITHIN).  Key names are case-insensitive.
 *
 * Nesting (NOT, OR, parentheses) deeper than IMAP_SEARCH_MAX_DEPTH is
 * refused, so "NOT NOT NOT ..." cannot exhaust the stack.
 */
#ifndef POSTHORN_IMAP_SEARCH_PARSE_H
#define POSTHORN_IMAP_SEARCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_date.h"
#include "imap/imap_parse.h"
#include "imap/imap_seqset.h"

#define IMAP_SEARCH_MAX_DEPTH	64

enum imap_search_key {
	IMAP_SEARCH_AND,		/* children: all must match */
	IMAP_SEARCH_OR,			/* children: exactly two */
	IMAP_SEARCH_NOT,		/* children: exactly one */
	IMAP_SEARCH_ALL,
	IMAP_SEARCH_ANSWERED,
	IMAP_SEARCH_DELETED,
	IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED,
	IMAP_SEARCH_NEW,		/* RECENT UNSEEN */
	IMAP_SEARCH_OLD,		/* NOT RECENT */
	IMAP_SEARCH_RECENT,
	IMAP_SEARCH_SEEN,
	IMAP_SEARCH_UNANSWERED,
	IMAP_SEARCH_UNDELETED,
	IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED,
	IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_KEYWORD,		/* str: the keyword */
	IMAP_SEARCH_UNKEYWORD,
	IMAP_SEARCH_BCC,		/* str: substring */
	IMAP_SEARCH_BODY,
	IMAP_SEARCH_CC,
	IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT,
	IMAP_SEARCH_TEXT,
	IMAP_SEARCH_TO,
	IMAP_SEARCH_HEADER,		/* field + str */
	IMAP_SEARCH_BEFORE,		/* date (internal date) */
	IMAP_SEARCH_ON,
	IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE,		/* date (Date: header) */
	IMAP_SEARCH_SENTON,
	IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_LARGER,		/* number: size */
	IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_OLDER,		/* number: seconds */
	IMAP_SEARCH_YOUNGER,
	IMAP_SEARCH_UID,		/* seqset */
	IMAP_SEARCH_SEQSET,		/* seqset (message numbers) */
	IMAP_SEARCH_MODSEQ,		/* number; modseq_entry/type optional */
};

enum imap_search_modseq_type {
	IMAP_SEARCH_MODSEQ_ALL,		/* also when no entry was given */
	IMAP_SEARCH_MODSEQ_SHARED,
	IMAP_SEARCH_MODSEQ_PRIV,
};

struct imap_search_node {
	enum imap_search_key	 key;
	struct imap_search_node	*next;		/* sibling */
	struct imap_search_node	*children;	/* AND, OR, NOT */
	/* String keys, HEADER's value: owned, NUL-terminated. */
	char			*str;
	size_t			 str_len;
	char			*field;		/* HEADER field name */
	struct imap_date	 date;
	uint64_t		 number;
	struct imap_seqset	 seqset;
	/*
	 * MODSEQ with an entry: the flag named in "/flags/<flag>" (e.g.
	 * "\Seen"), owned; NULL without an entry.
	 */
	char			*modseq_flag;
	enum imap_search_modseq_type modseq_type;
};

/* RETURN options. */
#define IMAP_SEARCH_RETURN_MIN		0x01
#define IMAP_SEARCH_RETURN_MAX		0x02
#define IMAP_SEARCH_RETURN_ALL		0x04
#define IMAP_SEARCH_RETURN_COUNT	0x08
#define IMAP_SEARCH_RETURN_SAVE		0x10

struct imap_search_program {
	char			*charset;	/* owned; NULL if not given */
	bool			 has_return;	/* ESEARCH reply wanted */
	unsigned int		 return_opts;	/* "RETURN ()" means ALL */
	struct imap_search_node	*root;		/* an AND node */
	bool			 uses_modseq;	/* reply with (MODSEQ n) */
	bool			 uses_searchres;/* "$" appears */
	char			 error[128];	/* see imap_search_parse() */
};

/*
 * Parse count arguments (an EOL-terminated array).  Returns 0 with *out
 * filled, or -1 with *error_r pointing to a message fit for a BAD reply
 * (static, or out->error; valid until imap_search_program_free()).  Call
 * imap_search_program_free() in both cases.
 */
int	 imap_search_parse(const struct imap_arg *args, size_t count,
	    struct imap_search_program *out, const char **error_r);
void	 imap_search_program_free(struct imap_search_program *);

/*
 * Keys only, no RETURN/CHARSET (SORT, THREAD): fills out->root and the
 * uses_* flags; same error contract as imap_search_parse().
 */
int	 imap_search_parse_keys(const struct imap_arg *args, size_t count,
	    struct imap_search_program *out, const char **error_r);

/* Free a node, its children and its siblings. */
void	 imap_search_node_free(struct imap_search_node *);

#endif

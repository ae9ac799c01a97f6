/*
 * imap_parse - IMAP command parsing (RFC 9051, RFC 3501, RFC 3516
 * literal8, RFC 7888 non-synchronizing literals, RFC 6855 UTF-8 quoted
 * strings).  Pure: no sockets, no store, no globals.
 *
 * Framing is the session's job; this module gives it one helper:
 *
 *	imap_literal_at_eol(line, len, &size, &nonsync, &binary)
 *
 * tells whether a line (CRLF removed) ends with "{N}", "{N+}", "~{N}" or
 * "~{N+}".  The session then (after a "+ " continuation for a synchronizing
 * literal, and after checking size against its limits) reads N bytes and
 * the next line, and repeats.  It hands the whole command, exactly as
 * received minus the final CRLF, to imap_parse_command():
 *
 *	"a1 LOGIN {4}\r\nuser {6+}\r\nsecret"
 *
 * which splits it into a tag, an uppercased command name and a tree of
 * arguments.  imap_parse_fetch_att() then reads FETCH items such as
 * "BODY.PEEK[HEADER.FIELDS (From To)]<0.2048>", which the command parser
 * keeps as ONE atom: an atom containing "[" runs to the matching "]" across
 * spaces, parentheses and quoted strings.
 *
 * Lenience: arguments may be separated by more
 * than one space, trailing spaces are ignored, the atoms of arguments may
 * also contain "]", "%", "*" and "\" (flags, LIST patterns, fetch items),
 * and a literal marker may be followed by a bare LF instead of CRLF.
 */
#ifndef POSTHORN_IMAP_PARSE_H
#define POSTHORN_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define IMAP_PARSE_DEFAULT_MAX_DEPTH	32
#define IMAP_PARSE_DEFAULT_MAX_ARGS	10000
/* Largest literal size the syntax accepts; sessions enforce far less. */
#define IMAP_LITERAL_MAX		((uint64_t)UINT32_MAX)

/*
 * Framing helper.  line/len is one line without its CRLF.  Returns 1 if it
 * ends with a literal marker ({N}, {N+}, ~{N}, ~{N+}; N up to
 * IMAP_LITERAL_MAX, leading zeros allowed) and sets *size_r, *nonsync_r
 * ("+") and *binary_r ("~"); 0 if it does not end in "}" or the last "{..}"
 * holds anything but digits, "+" and "-" (e.g. "{foo}": not a literal,
 * the parser will judge the line); -1 if it is a malformed or oversized
 * marker ("{}", "{+}", "{-1}", "{1+2}", "{99999999999999999999}").  A
 * session answers -1 with a BAD and closes, as the client will send
 * literal data the server cannot delimit.
 */
int	 imap_literal_at_eol(const char *line, size_t len, uint64_t *size_r,
	    bool *nonsync_r, bool *binary_r);

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,		/* the atom NIL, any case */
	IMAP_ARG_LIST,
	IMAP_ARG_EOL,		/* terminates every args array */
};

struct imap_arg {
	enum imap_arg_type	 type;
	/*
	 * ATOM, QUOTED, LITERAL, NIL: the bytes (unescaped for QUOTED, as
	 * written for NIL), NUL-terminated; a literal8 may hold NUL bytes,
	 * so use len.  NULL for LIST and EOL.
	 */
	const char		*str;
	size_t			 len;
	/* LIST: list_count children followed by an IMAP_ARG_EOL. */
	struct imap_arg		*list;
	size_t			 list_count;
	bool			 literal8;	/* LITERAL written "~{N}" */
	bool			 nonsync;	/* LITERAL written "{N+}" */
};

struct imap_parse_limits {
	unsigned int	 max_list_depth;	/* nested "(" allowed */
	size_t		 max_args;		/* arguments incl. lists, total */
};

/* Fill with the defaults above. */
void	 imap_parse_limits_default(struct imap_parse_limits *);

struct imap_cmd_args {
	/* NULL when no tag could be read: reply "* BAD". */
	char		*tag;
	/*
	 * Uppercased command name.  For "UID FETCH ..." name is "FETCH" and
	 * uid is set; full_name is "UID FETCH" (for logs and the OK text).
	 */
	char		*name;
	char		*full_name;
	bool		 uid;
	/* count arguments after the name, then an IMAP_ARG_EOL. */
	struct imap_arg	*args;
	size_t		 count;
	/* Private: string storage and list arrays. */
	char		*strbuf;
	void		**allocs;
	size_t		 nallocs;
};

/*
 * Parse one framed command (see above).  limits may be NULL for the
 * defaults.  Returns 0 with *out filled, or -1 with *error_r a static
 * message fit for a BAD reply; then out->tag is the tag (reply "tag BAD")
 * or NULL (reply "* BAD"), and args is empty.  In both cases the caller
 * calls imap_cmd_args_free().  All strings and arrays live until then;
 * nothing points into buf.
 */
int	 imap_parse_command(const char *buf, size_t len,
	    const struct imap_parse_limits *limits, struct imap_cmd_args *out,
	    const char **error_r);
/* Safe on a zeroed struct and twice in a row. */
void	 imap_cmd_args_free(struct imap_cmd_args *);

/* ATOM, QUOTED or LITERAL (any literal). */
bool	 imap_arg_is_string(const struct imap_arg *);
/* ATOM or NIL whose text equals name, ASCII case-insensitively. */
bool	 imap_arg_atom_eq(const struct imap_arg *, const char *name);
/*
 * The text of an astring argument (ATOM, NIL as the atom "NIL", QUOTED or
 * LITERAL), or NULL for lists, EOL, literal8 and strings holding NUL.
 */
const char *imap_arg_astring(const struct imap_arg *);
/* A "string" (QUOTED or non-binary LITERAL), or NULL. */
const char *imap_arg_string(const struct imap_arg *);
/*
 * nstring: returns true with *str_r NULL for NIL or the string for
 * QUOTED/LITERAL; false for anything else.
 */
bool	 imap_arg_nstring(const struct imap_arg *, const char **str_r);
/* LIST children (EOL-terminated) and their count, or NULL. */
const struct imap_arg *imap_arg_list(const struct imap_arg *, size_t *count_r);

/*
 * FETCH attributes.
 */
enum imap_fetch_type {
	IMAP_FETCH_MACRO_ALL,		/* FLAGS INTERNALDATE RFC822.SIZE ENVELOPE */
	IMAP_FETCH_MACRO_FAST,		/* FLAGS INTERNALDATE RFC822.SIZE */
	IMAP_FETCH_MACRO_FULL,		/* ALL + BODY */
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,		/* non-extensible BODYSTRUCTURE */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,
	IMAP_FETCH_BODY_SECTION,	/* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_BINARY,		/* BINARY[...], BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,		/* BINARY.SIZE[...] */
	IMAP_FETCH_EMAILID,		/* RFC 8474 */
	IMAP_FETCH_THREADID,		/* RFC 8474 */
	IMAP_FETCH_PREVIEW,		/* RFC 8970 */
};

enum imap_section_text {
	IMAP_SECTION_NONE,		/* whole message or whole part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part path */
};

struct imap_fetch_att {
	enum imap_fetch_type	 type;
	bool			 peek;		/* .PEEK: don't set \Seen */
	/* Sections (BODY_SECTION, BINARY, BINARY_SIZE); owned. */
	uint32_t		*parts;		/* "1.2.3" -> {1,2,3} */
	size_t			 part_count;
	enum imap_section_text	 text;
	char			**fields;	/* HEADER.FIELDS[.NOT] names */
	size_t			 field_count;
	/* The bytes between "[" and "]" as the client wrote them. */
	char			*section;
	bool			 partial;	/* <offset.count> given */
	uint64_t		 partial_offset;
	uint64_t		 partial_count;	/* >= 1 */
	bool			 lazy;		/* PREVIEW (LAZY) */
};

/*
 * Parse one fetch-att atom (as returned by imap_parse_command) of len
 * bytes: a plain item, a macro, or BODY[...] / BODY.PEEK[...] /
 * BINARY[...] / BINARY.PEEK[...] / BINARY.SIZE[...] with an optional
 * <offset.count> (not for BINARY.SIZE); names case-insensitive.  Section:
 * part path of nz-numbers, then (BODY only) HEADER, HEADER.FIELDS (names),
 * HEADER.FIELDS.NOT (names), TEXT, or MIME after a part path.  Field names
 * are atoms or quoted strings of RFC 5322 ftext.  Offsets and counts are
 * up to 2^63-1.  Returns 0, or -1 with *error_r static; out needs
 * imap_fetch_att_free() after 0 only.
 */
int	 imap_parse_fetch_att(const char *atom, size_t len,
	    struct imap_fetch_att *out, const char **error_r);
void	 imap_fetch_att_free(struct imap_fetch_att *);

/*
 * The FETCH argument after the sequence set: a macro or a single item
 * (atom), or a parenthesized list of items (no macros).  Inside the list
 * PREVIEW may be followed by its modifier list, "PREVIEW (LAZY)" (RFC 8970
 * 3.1; LAZY is the only modifier, any other is an error).  *atts_r is an
 * owned array of *count_r items; free with imap_fetch_atts_free().
 */
int	 imap_parse_fetch_atts(const struct imap_arg *,
	    struct imap_fetch_att **atts_r, size_t *count_r,
	    const char **error_r);
/*
 * The same over the arguments of FETCH after the sequence set (count of
 * them, at least 1), where a lone PREVIEW may be followed by its modifier
 * list as a separate argument: "FETCH 1 PREVIEW (LAZY)".  A list after
 * PREVIEW is taken as its modifiers when its first element is the atom
 * LAZY; otherwise it is left for the caller (FETCH modifiers such as
 * CHANGEDSINCE, RFC 4466).  *used_r is the number of arguments taken (1
 * or 2).
 */
int	 imap_parse_fetch_args(const struct imap_arg *args, size_t count,
	    struct imap_fetch_att **atts_r, size_t *count_r, size_t *used_r,
	    const char **error_r);
void	 imap_fetch_atts_free(struct imap_fetch_att *, size_t count);

/*
 * Expand a macro into its items (up to 5) in response order; returns the
 * count, or 0 for a type that is not a macro.
 */
size_t	 imap_fetch_macro_expand(enum imap_fetch_type,
	    enum imap_fetch_type out[5]);

/*
 * Append the name an item is answered under in a FETCH response: the plain
 * name ("RFC822.SIZE"), or "BODY[" section "]" (.PEEK dropped; the section
 * echoed as the client wrote it) followed by "<offset>" for a partial
 * fetch; likewise "BINARY[...]" and "BINARY.SIZE[...]".  Nothing for
 * macros.
 */
void	 imap_fetch_att_response_name(const struct imap_fetch_att *,
	    struct buf *out);

#endif

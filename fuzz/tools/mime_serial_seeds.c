/*
 * mime_serial_seeds - write the serialized MIME tree of each message file,
 * for the fuzz_mime_deserialize seed corpus.
 *
 *	mime_serial_seeds OUTDIR FILE.eml...
 *
 * writes OUTDIR/<basename of FILE without .eml>.phm for each FILE.
 * Built by "make -C fuzz build/mime_serial_seeds"; see fuzz/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "mime/mime.h"

static int
one(const char *outdir, const char *path)
{
	struct buf in = BUF_INIT, out = BUF_INIT, name = BUF_INIT;
	struct mime_part *root;
	char chunk[4096];
	const char *base = strrchr(path, '/');
	size_t n, blen;
	FILE *fp;
	int rc = -1;

	base = base != NULL ? base + 1 : path;
	blen = strlen(base);
	if (blen > 4 && strcmp(base + blen - 4, ".eml") == 0)
		blen -= 4;
	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&in, chunk, n);
	fclose(fp);
	/* Not in.data: it is NULL for an empty file (see notes/bugs.md). */
	root = mime_parse(in.len > 0 ? in.data : "", in.len, NULL);
	if (mime_serialize(root, &out) < 0) {
		fprintf(stderr, "%s: serialize failed\n", path);
		goto done;
	}
	buf_printf(&name, "%s/%.*s.phm", outdir, (int)blen, base);
	if ((fp = fopen(buf_cstr(&name), "wb")) == NULL ||
	    fwrite(out.data, 1, out.len, fp) != out.len || fclose(fp) != 0) {
		fprintf(stderr, "%s: %s\n", buf_cstr(&name), strerror(errno));
		goto done;
	}
	rc = 0;
done:
	mime_part_free(&root);
	buf_free(&in);
	buf_free(&out);
	buf_free(&name);
	return rc;
}

int
main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: mime_serial_seeds OUTDIR FILE...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (one(argv[1], argv[i]) < 0)
			rc = 1;
	return rc;
}

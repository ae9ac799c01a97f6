/*
 * cli - subcommands of the posthorn program that have their own file.
 * Each returns the exit status: 0, 1 on an error (printed), 2 for a usage
 * error (the caller prints the usage).
 */
#ifndef POSTHORN_CLI_H
#define POSTHORN_CLI_H

struct config;
struct store;

int	 cli_dkim(struct store *, const struct config *, int argc,
	    char **argv);

#endif

/*
 * hub - in-process change notification (DESIGN.md "Store": sqlite uses an
 * in-process hub).  The store publishes "mailbox M of account A changed"
 * after each commit; every session watching it is called on its own I/O
 * thread.  Notifications are coalesced: one call may stand for many changes,
 * so subscribers re-read the change feed (modseq) when called.
 */
#ifndef POSTHORN_HUB_H
#define POSTHORN_HUB_H

#include <stdint.h>

struct hub_sub;
typedef void hub_fn(void *ctx);

/*
 * Must be called on an I/O thread; fn(ctx) later runs on that thread.
 * mailbox 0 watches every mailbox of the account.
 */
struct hub_sub *hub_subscribe(int64_t account, int64_t mailbox, hub_fn *,
	    void *ctx);
/* On the subscriber's thread; fn is not called after this returns. */
void	 hub_unsubscribe(struct hub_sub **);
/* Any thread. */
void	 hub_publish(int64_t account, int64_t mailbox);

#endif

/*
 * crowd_diag: the server side of ferry-crowd's connections, as the kernel
 * sees it, through sock_diag (what ss uses). A client on the server's host
 * learns this way that the server closed a connection whose FIN is still
 * queued behind unread data: a slow reader would see it only hours later.
 */
#ifndef FERRY_CROWD_DIAG_H
#define FERRY_CROWD_DIAG_H

#include <stddef.h>
#include <stdint.h>

#define DIAG_PORTS 65536

/* Opens a sock_diag socket (receives time out after 2 s). Returns the fd,
 * or -errno. */
int diag_open(void);

/*
 * Notes in state[DIAG_PORTS], indexed by remote port, the TCP state
 * (TCP_ESTABLISHED, TCP_FIN_WAIT1... of <netinet/tcp.h>) of each IPv4 and
 * IPv6 TCP socket on this host whose local port is port, LISTEN and
 * TIME_WAIT left out; 0 where there is none. For a server's port: its side
 * of every connection, by the client's port. buf (len bytes, 64 KiB or
 * more) is scratch. Returns 0, or -errno (state is then incomplete).
 */
int diag_states(int fd, uint16_t port, uint8_t *state, void *buf, size_t len);

#endif

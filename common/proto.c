/*
 * proto: the protocol table. See proto.h.
 */
#include "common/proto.h"

#include <string.h>

static const struct {
    const char *name;
    bool client_first;
    bool cork_at_accept;
    enum proto_home home;
    bool datagram;
} proto_table[PROTO_COUNT] = {
    [PROTO_NATIVE] = {"native", true, true, PROTO_HOME_WORKERS, false},
    [PROTO_HTTP] = {"http", true, true, PROTO_HOME_WORKERS, false},
    [PROTO_METRICS] = {"metrics", true, false, PROTO_HOME_MASTER, false},
    [PROTO_ECHO] = {"echo", true, false, PROTO_HOME_WORKERS, false},
    [PROTO_UPCASE] = {"upcase", true, false, PROTO_HOME_WORKERS, false},
    /* The server speaks first, one line, then closes: no deferred accept
     * (the kernel would hold the connection until its timeout), and the
     * line and the FIN leave together. */
    [PROTO_DAYTIME] = {"daytime", false, true, PROTO_HOME_WORKERS, false},
    [PROTO_LOTTERY] = {"lottery", true, false, PROTO_HOME_WORKERS, false},
    [PROTO_HUB] = {"hub", true, false, PROTO_HOME_HUB, true},
};

const char *proto_name(unsigned proto)
{
    return proto < PROTO_COUNT ? proto_table[proto].name : "unknown";
}

int proto_find(const char *name)
{
    for (int i = 0; i < PROTO_COUNT; i++) {
        if (strcmp(proto_table[i].name, name) == 0)
            return i;
    }
    return -1;
}

bool proto_client_first(enum proto proto)
{
    return proto < PROTO_COUNT && proto_table[proto].client_first;
}

bool proto_cork_at_accept(enum proto proto)
{
    return proto < PROTO_COUNT && proto_table[proto].cork_at_accept;
}

enum proto_home proto_home(enum proto proto)
{
    return proto < PROTO_COUNT ? proto_table[proto].home : PROTO_HOME_MASTER;
}

bool proto_served_by_workers(enum proto proto)
{
    return proto_home(proto) == PROTO_HOME_WORKERS;
}

bool proto_datagram(enum proto proto)
{
    return proto < PROTO_COUNT && proto_table[proto].datagram;
}

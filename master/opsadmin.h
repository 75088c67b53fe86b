/*
 * opsadmin: the admin socket's commands for the operator's lifecycle of a
 * running ferryd (docs/ADMIN.md): reload, as SIGHUP does but with the
 * outcome in the answer; config, the effective configuration; upgrade, as
 * SIGUSR2 does, answered once the new binary serves or failed to.
 */
#ifndef FERRY_OPSADMIN_H
#define FERRY_OPSADMIN_H

#include "master/admin_int.h"

int opsadmin_reload(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);
int opsadmin_config(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);
int opsadmin_upgrade(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);

#endif

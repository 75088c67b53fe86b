/*
 * hubadmin: the admin socket's commands for the hub's accounts
 * (docs/ADMIN.md): hub-useradd, hub-userdel, hub-passwd, hub-users. They
 * act on --hub-db directly (SQLite lets the hub's process and the master
 * share it); a password is stored only as its salted slow hash.
 */
#ifndef FERRY_HUBADMIN_H
#define FERRY_HUBADMIN_H

#include "master/admin_int.h"

int hubadmin_useradd(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);
int hubadmin_userdel(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);
int hubadmin_passwd(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);
int hubadmin_users(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp);

#endif

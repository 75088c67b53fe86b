/*
 * opsadmin: reload, config and upgrade. See opsadmin.h.
 */
#include "master/opsadmin.h"

#include "master/config.h"

#include <errno.h>
#include <string.h>

struct opsadmin_lines {
    json_t *array;
    bool warnings; /* the warnings, or the other lines */
};

static void opsadmin_line(void *user, const char *line, size_t len, bool warning)
{
    struct opsadmin_lines *l = user;

    if (warning == l->warnings)
        json_array_append_new(l->array, json_stringn(line, len));
}

/* A report's lines as a JSON array of strings ("warning: " dropped: the
 * key the array is under says what they are). */
static json_t *opsadmin_lines(const struct cfg_report *r, bool warnings)
{
    struct opsadmin_lines l = {.array = json_array(), .warnings = warnings};

    cfg_report_each(r, opsadmin_line, &l);
    return l.array;
}

/* The stable error code and message of a refused reload. */
static int opsadmin_refused(json_t *resp, int rc, const struct cfg_report *problems)
{
    json_object_set_new(resp, "problems", opsadmin_lines(problems, false));
    switch (rc) {
    case -EINVAL:
        return admin_fail(resp, "invalid_config",
                          "the configuration is invalid (%u problem(s)): nothing changed",
                          problems->errors);
    case -EPERM:
        return admin_fail(resp, "refused",
                          "the configuration changes what a running ferryd cannot: nothing "
                          "changed");
    case -EBUSY:
        return admin_fail(resp, "busy",
                          "a resize or a rolling restart is under way; try again when it is done");
    case -ESHUTDOWN:
        return admin_fail(resp, "stopping", "the pool is stopping");
    default:
        return admin_fail(resp, "io_error",
                          "could not open what the configuration adds: "
                          "nothing changed");
    }
}

int opsadmin_reload(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    static struct cfg_report changes, problems; /* the master's loop alone */
    int rc;

    (void)c;
    (void)req;
    if (a->ops->reload == NULL)
        return admin_fail(resp, "unsupported",
                          "%s mode serves in this very process: restart ferryd to apply a "
                          "configuration",
                          cfg_mode_name(a->cfg->mode));
    rc = a->ops->reload(a->ops_ctx, &changes, &problems);
    if (rc < 0)
        return opsadmin_refused(resp, rc, &problems);
    json_object_set_new(resp, "file",
                        a->cfg->config_file ? json_string(a->cfg->config_file) : json_null());
    json_object_set_new(resp, "changes", opsadmin_lines(&changes, false));
    json_object_set_new(resp, "warnings", opsadmin_lines(&changes, true));
    json_object_set_new(resp, "replacing_workers", json_boolean(a->cfg->mode != MODE_FORK));
    return 0;
}

static void opsadmin_entry(void *user, const char *section, const char *key, const char *value)
{
    json_array_append_new(
        user, json_pack("{s:s,s:s,s:s}", "section", section, "key", key, "value", value));
}

int opsadmin_config(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    json_t *entries = json_array();

    (void)c;
    (void)req;
    cfg_dump(a->cfg, opsadmin_entry, entries);
    json_object_set_new(resp, "file",
                        a->cfg->config_file ? json_string(a->cfg->config_file) : json_null());
    json_object_set_new(resp, "settings", entries);
    return 0;
}

int opsadmin_upgrade(struct admin *a, struct admin_conn *c, json_t *req, json_t *resp)
{
    uint64_t token;
    int rc;

    (void)req;
    if (a->ops->upgrade == NULL)
        return admin_fail(resp, "unsupported",
                          "%s mode serves in this very process: it has no master to hand over "
                          "to; restart ferryd instead",
                          cfg_mode_name(a->cfg->mode));
    token = ++a->next_token;
    c->token = token; /* set up first: the outcome may come at once */
    c->pending = resp;
    rc = a->ops->upgrade(a->ops_ctx, token);
    if (rc == 0)
        return 1; /* answered by admin_answer() */
    c->token = 0;
    c->pending = NULL;
    if (rc == -EBUSY)
        return admin_fail(resp, "busy",
                          "an upgrade, a reload, a resize or a rolling restart is under way; try "
                          "again when it is done");
    if (rc == -ESHUTDOWN)
        return admin_fail(resp, "stopping", "the pool is stopping");
    return admin_fail(resp, "upgrade_failed", "cannot start the new binary: %s", strerror(-rc));
}

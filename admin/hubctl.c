/*
 * hubctl: the hub's accounts from ferryctl. See hubctl.h.
 */
#include "admin/hubctl.h"

#include <stdbool.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define HUBCTL_PASSWORD_MAX 256

static const struct {
    const char *action;
    const char *cmd; /* the admin socket's */
    bool id;         /* takes an id */
    bool password;   /* and a password */
} hubctl_actions[] = {
    {"useradd", "hub-useradd", true, true},
    {"passwd", "hub-passwd", true, true},
    {"userdel", "hub-userdel", true, false},
    {"users", "hub-users", false, false},
};

/* Reads one line of stdin into buf without its newline; on a terminal
 * after prompt, without echo. Returns 0, or -1 at the end of input. */
static int hubctl_line(const char *prompt, char *buf, size_t cap)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    char *ok;

    if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        fputs(prompt, stderr);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        ok = fgets(buf, (int)cap, stdin);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    } else {
        ok = fgets(buf, (int)cap, stdin);
    }
    if (ok == NULL)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* The password, typed twice. Returns 0 or -1 with err set. */
static int hubctl_password(char *pw, size_t cap, char *err, size_t errlen)
{
    char again[HUBCTL_PASSWORD_MAX];
    const char *why = NULL;

    if (hubctl_line("password: ", pw, cap) < 0 ||
        hubctl_line("the same again: ", again, sizeof(again)) < 0)
        why = "the password, twice (stdin ended)";
    else if (strcmp(pw, again) != 0)
        why = "the two passwords differ";
    else if (pw[0] == '\0')
        why = "an empty password";
    explicit_bzero(again, sizeof(again));
    if (why == NULL)
        return 0;
    snprintf(err, errlen, "hub: %s", why);
    return -1;
}

int hubctl_operands(json_t *req, int n, char **v, char *err, size_t errlen)
{
    char pw[HUBCTL_PASSWORD_MAX];
    size_t i = 0, count = sizeof(hubctl_actions) / sizeof(hubctl_actions[0]);

    while (n > 0 && i < count && strcmp(hubctl_actions[i].action, v[0]) != 0)
        i++;
    if (n == 0 || i == count) {
        snprintf(err, errlen, "hub: expected useradd ID, passwd ID, userdel ID or users");
        return -1;
    }
    if (n != (hubctl_actions[i].id ? 2 : 1)) {
        snprintf(err, errlen, "hub %s: expected %s", v[0],
                 hubctl_actions[i].id ? "an ID" : "nothing more");
        return -1;
    }
    json_object_set_new(req, "cmd", json_string(hubctl_actions[i].cmd));
    if (hubctl_actions[i].id)
        json_object_set_new(req, "id", json_string(v[1]));
    if (!hubctl_actions[i].password)
        return 0;
    if (hubctl_password(pw, sizeof(pw), err, errlen) < 0)
        return -1;
    json_object_set_new(req, "password", json_string(pw));
    explicit_bzero(pw, sizeof(pw));
    return 0;
}

void hubctl_print(FILE *out, json_t *resp, unsigned width)
{
    json_t *users = json_object_get(resp, "users"), *u;
    size_t i;

    (void)width;
    if (users == NULL) {
        fprintf(out, "hub: done for %s\n", json_string_value(json_object_get(resp, "id")));
        return;
    }
    json_array_foreach(users, i, u) fprintf(out, "%s\n", json_string_value(u));
}

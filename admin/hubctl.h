/*
 * hubctl: `ferryctl hub useradd|passwd|userdel|users [ID]`, the hub's
 * accounts (docs/HUB.md) over the admin socket's hub-* commands.
 */
#ifndef FERRY_HUBCTL_H
#define FERRY_HUBCTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Turns the n operands (the action, then the id) into req; for useradd
 * and passwd reads the password: from the terminal without echo, asked
 * twice, else two lines of stdin that must match. Returns 0, or -1 with
 * err set. */
int hubctl_operands(json_t *req, int n, char **v, char *err, size_t errlen);

/* Prints the answer: the account acted on, or the list. */
void hubctl_print(FILE *out, json_t *resp, unsigned width);

#endif

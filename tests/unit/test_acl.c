/* Unit tests for common/acl: parsing (every form, every error), matching
 * IPv4, IPv6 and v4-mapped peers, first match wins, no match allows, and
 * every prefix length checked at its boundary bits. */
#include "common/acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>

/* A peer address: IPv4 or IPv6 literal, as accept() would give it. */
union peer {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
};

static const struct sockaddr *peer(union peer *p, const char *text)
{
    memset(p, 0, sizeof(*p));
    if (strchr(text, ':') != NULL) {
        p->in6.sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &p->in6.sin6_addr), 1);
    } else {
        p->in.sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &p->in.sin_addr), 1);
    }
    return &p->sa;
}

/* Builds an acl from "allow X" / "deny X" words; every rule must parse. */
static void build(struct acl *a, const char *const *rules)
{
    memset(a, 0, sizeof(*a));
    for (; *rules != NULL; rules++) {
        struct acl_rule r;
        bool allow = strncmp(*rules, "allow ", 6) == 0;

        assert_int_equal(acl_parse(&r, allow, strchr(*rules, ' ') + 1), 0);
        assert_int_equal(acl_add(a, &r), 0);
    }
}

/* The text of the rule that denies addr, or "allowed". */
static const char *verdict(const struct acl *a, const char *addr)
{
    union peer p;
    const struct acl_rule *r = acl_denied_by(a, peer(&p, addr));

    return r != NULL ? r->text : "allowed";
}

static const struct {
    const char *text;
    int family;
    unsigned prefix;
    const char *canonical; /* as "deny" */
} good[] = {
    {"10.0.0.0/8", AF_INET, 8, "deny 10.0.0.0/8"},
    {"127.0.0.1", AF_INET, 32, "deny 127.0.0.1"},
    {"127.0.0.1/32", AF_INET, 32, "deny 127.0.0.1"},
    {"0.0.0.0/0", AF_INET, 0, "deny 0.0.0.0/0"},
    {"255.255.255.255", AF_INET, 32, "deny 255.255.255.255"},
    {"10.0.0.0/08", AF_INET, 8, "deny 10.0.0.0/8"},
    {"192.168.1.128/25", AF_INET, 25, "deny 192.168.1.128/25"},
    {"::1", AF_INET6, 128, "deny ::1"},
    {"::1/128", AF_INET6, 128, "deny ::1"},
    {"2001:db8::/32", AF_INET6, 32, "deny 2001:db8::/32"},
    {"2001:DB8::/32", AF_INET6, 32, "deny 2001:db8::/32"},
    {"::/0", AF_INET6, 0, "deny ::/0"},
    {"fe80::/10", AF_INET6, 10, "deny fe80::/10"},
    {"all", AF_UNSPEC, 0, "deny all"},
    /* The v4-mapped form is the IPv4 rule it means. */
    {"::ffff:192.0.2.7", AF_INET, 32, "deny 192.0.2.7"},
    {"::ffff:10.0.0.0/104", AF_INET, 8, "deny 10.0.0.0/8"},
    {"::ffff:0:0/96", AF_INET, 0, "deny 0.0.0.0/0"},
    /* Shorter than /96, it is an IPv6 network like any other. */
    {"::/95", AF_INET6, 95, "deny ::/95"},
};

static void test_parse_forms(void **state)
{
    struct acl_rule r;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (acl_parse(&r, false, good[i].text) != 0)
            fail_msg("'%s' did not parse", good[i].text);
        assert_int_equal(r.family, good[i].family);
        assert_int_equal(r.prefix, good[i].prefix);
        assert_false(r.allow);
        assert_string_equal(r.text, good[i].canonical);
    }
    assert_int_equal(acl_parse(&r, true, "10.0.0.0/8"), 0);
    assert_true(r.allow);
    assert_string_equal(r.text, "allow 10.0.0.0/8");
    /* The longest text fits. */
    assert_int_equal(acl_parse(&r, true, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"), 0);
    assert_string_equal(r.text, "allow ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124");
}

static void test_parse_errors(void **state)
{
    static const char *const malformed[] = {
        "",
        "/8",
        "10.0.0.0/",
        "10.0.0.0/x",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/8/8",
        "10.0.0.0/ 8",
        "10.0.0",
        "10.0.0.256",
        "10.0.0.01",
        "1.2.3.4 ",
        " 1.2.3.4",
        "0x1.2.3.4",
        "1.2.3.4.5",
        "localhost",
        "ALL",
        "all/0",
        "any",
        "fe80::1%eth0",
        "::1::2",
        ":::",
        "gggg::",
        "[::1]",
        "::1/12a",
        "1111:2222:3333:4444:5555:6666:7777:8888:9999/64",               /* nine groups */
        "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc/8", /* too long to copy */
    };
    static const char *const range[] = {"10.0.0.0/33", "::/129", "1.2.3.4/1000",
                                        "::ffff:1.2.3.4/129", "0.0.0.0/99999999999"};
    static const struct {
        const char *text, *network;
    } hostbits[] = {
        {"10.1.2.3/8", "deny 10.0.0.0/8"},          {"192.168.1.10/16", "deny 192.168.0.0/16"},
        {"10.0.0.1/31", "deny 10.0.0.0/31"},        {"0.0.0.1/0", "deny 0.0.0.0/0"},
        {"2001:db8::1/32", "deny 2001:db8::/32"},   {"::1/127", "deny ::/127"},
        {"::ffff:10.1.0.0/104", "deny 10.0.0.0/8"},
    };
    struct acl_rule r;

    (void)state;
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        if (acl_parse(&r, false, malformed[i]) != -EINVAL)
            fail_msg("'%s' is not -EINVAL", malformed[i]);
    }
    for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
        if (acl_parse(&r, false, range[i]) != -ERANGE)
            fail_msg("'%s' is not -ERANGE", range[i]);
    }
    for (size_t i = 0; i < sizeof(hostbits) / sizeof(hostbits[0]); i++) {
        if (acl_parse(&r, false, hostbits[i].text) != -EDOM)
            fail_msg("'%s' is not -EDOM", hostbits[i].text);
        assert_string_equal(r.text, hostbits[i].network); /* for the caller's message */
    }
}

static void test_match_ipv4(void **state)
{
    static const char *const rules[] = {"deny 10.0.0.0/8", "deny 192.168.1.128/25",
                                        "deny 127.0.0.1", NULL};
    struct acl a;

    (void)state;
    build(&a, rules);
    assert_string_equal(verdict(&a, "10.0.0.0"), "deny 10.0.0.0/8");
    assert_string_equal(verdict(&a, "10.255.255.255"), "deny 10.0.0.0/8");
    assert_string_equal(verdict(&a, "9.255.255.255"), "allowed");
    assert_string_equal(verdict(&a, "11.0.0.0"), "allowed");
    assert_string_equal(verdict(&a, "192.168.1.127"), "allowed");
    assert_string_equal(verdict(&a, "192.168.1.128"), "deny 192.168.1.128/25");
    assert_string_equal(verdict(&a, "192.168.1.255"), "deny 192.168.1.128/25");
    assert_string_equal(verdict(&a, "127.0.0.1"), "deny 127.0.0.1");
    assert_string_equal(verdict(&a, "127.0.0.2"), "allowed");
    /* An IPv4 rule never matches an IPv6 peer. */
    assert_string_equal(verdict(&a, "::a00:1"), "allowed");
    acl_free(&a);
}

static void test_match_ipv6(void **state)
{
    static const char *const rules[] = {"deny 2001:db8::/32", "deny ::1", NULL};
    static const char *const all6[] = {"deny ::/0", NULL};
    struct acl a;

    (void)state;
    build(&a, rules);
    assert_string_equal(verdict(&a, "2001:db8::"), "deny 2001:db8::/32");
    assert_string_equal(verdict(&a, "2001:db8:ffff:ffff::1"), "deny 2001:db8::/32");
    assert_string_equal(verdict(&a, "2001:db9::"), "allowed");
    assert_string_equal(verdict(&a, "2001:db7:ffff::"), "allowed");
    assert_string_equal(verdict(&a, "::1"), "deny ::1");
    assert_string_equal(verdict(&a, "::2"), "allowed");
    assert_string_equal(verdict(&a, "127.0.0.1"), "allowed"); /* IPv6 rules: IPv6 peers */
    acl_free(&a);
    /* ::/0 is every IPv6 client, and no IPv4 one, mapped or not. */
    build(&a, all6);
    assert_string_equal(verdict(&a, "fe80::1"), "deny ::/0");
    assert_string_equal(verdict(&a, "::"), "deny ::/0");
    assert_string_equal(verdict(&a, "127.0.0.1"), "allowed");
    assert_string_equal(verdict(&a, "::ffff:127.0.0.1"), "allowed");
    acl_free(&a);
}

static void test_match_v4_mapped(void **state)
{
    static const char *const rules[] = {"deny 127.0.0.1", "deny ::ffff:10.0.0.0/104", "deny ::/8",
                                        NULL};
    struct acl a;

    (void)state;
    build(&a, rules);
    /* A dual-stack listener's IPv4 client is matched by the IPv4 rules... */
    assert_string_equal(verdict(&a, "::ffff:127.0.0.1"), "deny 127.0.0.1");
    assert_string_equal(verdict(&a, "127.0.0.1"), "deny 127.0.0.1");
    assert_string_equal(verdict(&a, "::ffff:127.0.0.2"), "allowed");
    /* ...a rule in the mapped form covers plain IPv4 peers too... */
    assert_string_equal(verdict(&a, "10.9.8.7"), "deny 10.0.0.0/8");
    assert_string_equal(verdict(&a, "::ffff:10.9.8.7"), "deny 10.0.0.0/8");
    /* ...and an IPv6 network that spans the mapped range does not match
     * them (::/8 holds ::ffff:0:0/96). */
    assert_string_equal(verdict(&a, "::ffff:192.0.2.1"), "allowed");
    assert_string_equal(verdict(&a, "::2"), "deny ::/8");
    acl_free(&a);
}

static void test_first_match_wins(void **state)
{
    static const char *const allow_first[] = {"allow 127.0.0.2", "deny 127.0.0.0/8", "allow all",
                                              NULL};
    static const char *const deny_first[] = {"deny 127.0.0.0/8", "allow 127.0.0.2", NULL};
    static const char *const only_some[] = {"allow 127.0.0.2", "allow ::1", "deny all", NULL};
    struct acl a;
    union peer p;

    (void)state;
    build(&a, allow_first);
    assert_string_equal(verdict(&a, "127.0.0.2"), "allowed");
    assert_ptr_equal(acl_match(&a, peer(&p, "127.0.0.2")), &a.rules[0]);
    assert_string_equal(verdict(&a, "127.0.0.3"), "deny 127.0.0.0/8");
    assert_string_equal(verdict(&a, "10.0.0.1"), "allowed");
    assert_ptr_equal(acl_match(&a, peer(&p, "10.0.0.1")), &a.rules[2]);
    acl_free(&a);
    build(&a, deny_first);
    assert_string_equal(verdict(&a, "127.0.0.2"), "deny 127.0.0.0/8");
    acl_free(&a);
    build(&a, only_some);
    assert_string_equal(verdict(&a, "127.0.0.2"), "allowed");
    assert_string_equal(verdict(&a, "::1"), "allowed");
    assert_string_equal(verdict(&a, "127.0.0.1"), "deny all");
    assert_string_equal(verdict(&a, "::ffff:127.0.0.1"), "deny all");
    assert_string_equal(verdict(&a, "::2"), "deny all");
    acl_free(&a);
}

static void test_no_match_allows(void **state)
{
    static const char *const rules[] = {"deny 10.0.0.0/8", NULL};
    struct acl a, empty = {0};
    union peer p;

    (void)state;
    build(&a, rules);
    assert_null(acl_match(&a, peer(&p, "192.0.2.1")));
    assert_null(acl_denied_by(&a, peer(&p, "192.0.2.1")));
    assert_null(acl_denied_by(&empty, peer(&p, "10.0.0.1")));
    assert_null(acl_denied_by(NULL, peer(&p, "10.0.0.1")));
    /* A family without addresses: only "all" can match it. */
    memset(&p, 0, sizeof(p));
    p.un.sun_family = AF_UNIX;
    assert_null(acl_match(&a, &p.sa));
    acl_free(&a);
    build(&a, (const char *const[]){"deny all", NULL});
    assert_ptr_equal(acl_denied_by(&a, &p.sa), &a.rules[0]);
    acl_free(&a);
}

/* Every prefix length of each family: a rule on an address with the bits
 * beyond the prefix cleared matches the address itself and the address
 * with the first bit beyond the prefix flipped, never with the last bit
 * of the prefix flipped. */
static void check_prefixes(int family, const char *addr, unsigned bits)
{
    uint8_t base[16];

    assert_int_equal(inet_pton(family, addr, base), 1);
    for (unsigned p = 0; p <= bits; p++) {
        uint8_t net[16], x[16];
        char text[INET6_ADDRSTRLEN + 8], s[INET6_ADDRSTRLEN];
        struct acl a = {0};
        struct acl_rule r;

        memcpy(net, base, 16);
        for (unsigned i = p; i < bits; i++)
            net[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
        snprintf(text, sizeof(text), "%s/%u", inet_ntop(family, net, s, sizeof(s)), p);
        assert_int_equal(acl_parse(&r, false, text), 0);
        assert_int_equal(acl_add(&a, &r), 0);
        assert_string_not_equal(verdict(&a, s), "allowed");
        if (p < bits) {
            memcpy(x, net, 16);
            x[p / 8] ^= (uint8_t)(0x80u >> (p % 8));
            if (strcmp(verdict(&a, inet_ntop(family, x, s, sizeof(s))), "allowed") == 0)
                fail_msg("%s: %s, a bit beyond the prefix flipped, is not matched", text, s);
        }
        if (p > 0) {
            memcpy(x, net, 16);
            x[(p - 1) / 8] ^= (uint8_t)(0x80u >> ((p - 1) % 8));
            if (strcmp(verdict(&a, inet_ntop(family, x, s, sizeof(s))), "allowed") != 0)
                fail_msg("%s: %s, the prefix's last bit flipped, is matched", text, s);
        }
        acl_free(&a);
    }
}

static void test_every_prefix(void **state)
{
    (void)state;
    check_prefixes(AF_INET, "203.0.113.77", 32);
    check_prefixes(AF_INET, "255.255.255.255", 32);
    check_prefixes(AF_INET6, "2001:db8:aaaa:5555:1234:5678:9abc:def1", 128);
    check_prefixes(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128);
}

static void test_edge_prefixes(void **state)
{
    static const char *const zero4[] = {"deny 0.0.0.0/0", NULL};
    static const char *const host[] = {"deny 1.2.3.4/32", "deny ::1/128", NULL};
    struct acl a;

    (void)state;
    build(&a, zero4); /* every IPv4 client, mapped too; no IPv6 one */
    assert_string_equal(verdict(&a, "0.0.0.0"), "deny 0.0.0.0/0");
    assert_string_equal(verdict(&a, "255.255.255.255"), "deny 0.0.0.0/0");
    assert_string_equal(verdict(&a, "::ffff:1.1.1.1"), "deny 0.0.0.0/0");
    assert_string_equal(verdict(&a, "::1"), "allowed");
    acl_free(&a);
    build(&a, host);
    assert_string_equal(verdict(&a, "1.2.3.4"), "deny 1.2.3.4");
    assert_string_equal(verdict(&a, "1.2.3.5"), "allowed");
    assert_string_equal(verdict(&a, "1.2.3.3"), "allowed");
    assert_string_equal(verdict(&a, "::1"), "deny ::1");
    assert_string_equal(verdict(&a, "::3"), "allowed");
    assert_string_equal(verdict(&a, "::"), "allowed");
    acl_free(&a);
}

static void test_unreachable_and_growth(void **state)
{
    static const char *const after_all[] = {"deny 10.0.0.0/8", "deny all", "allow ::1", NULL};
    static const char *const all_last[] = {"allow ::1", "deny all", NULL};
    struct acl a = {0};
    char text[32];

    (void)state;
    assert_int_equal(acl_unreachable(&a), -1);
    build(&a, after_all);
    assert_int_equal(acl_unreachable(&a), 2);
    acl_free(&a);
    build(&a, all_last);
    assert_int_equal(acl_unreachable(&a), -1);
    acl_free(&a);
    /* Many rules: the list grows, keeps its order, and the last one still
     * decides for its address. */
    for (unsigned i = 0; i < 1000; i++) {
        struct acl_rule r;

        snprintf(text, sizeof(text), "10.%u.%u.0/24", i / 256, i % 256);
        assert_int_equal(acl_parse(&r, i % 2 == 0, text), 0);
        assert_int_equal(acl_add(&a, &r), 0);
    }
    assert_int_equal(a.n, 1000);
    assert_string_equal(a.rules[999].text, "deny 10.3.231.0/24");
    assert_string_equal(verdict(&a, "10.3.231.9"), "deny 10.3.231.0/24");
    assert_string_equal(verdict(&a, "10.3.230.9"), "allowed");
    acl_free(&a);
    assert_null(a.rules);
    assert_int_equal(a.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),     cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_match_ipv4),      cmocka_unit_test(test_match_ipv6),
        cmocka_unit_test(test_match_v4_mapped), cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_no_match_allows), cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_edge_prefixes),   cmocka_unit_test(test_unreachable_and_growth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

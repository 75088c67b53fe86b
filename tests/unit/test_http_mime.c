/* Unit tests for worker/http_mime: every entry of the table, case, names
 * without an extension, dotfiles, several dots. */
#include "worker/http_mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const char *type_of(const char *name)
{
    return http_mime_type(name, strlen(name));
}

/* The brief's list, each with its expected type: the table must match it. */
static const struct {
    const char *ext;
    const char *type;
} expected[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"xz", "application/x-xz"},
    {"zst", "application/zstd"},
    {"tar", "application/x-tar"},
    {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"iso", "application/x-iso9660-image"},
    {"deb", "application/vnd.debian.binary-package"},
    {"rpm", "application/x-rpm"},
};

static void test_every_entry(void **state)
{
    char name[32];

    (void)state;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        snprintf(name, sizeof(name), "file.%s", expected[i].ext);
        assert_string_equal(type_of(name), expected[i].type);
    }
    assert_string_equal(type_of("index.htm"), "text/html; charset=utf-8");
}

/* Every table entry is lower case, unique, and text types name a charset. */
static void test_table_is_sane(void **state)
{
    const char *type, *ext;

    (void)state;
    for (size_t i = 0; (ext = http_mime_entry(i, &type)) != NULL; i++) {
        const char *other_type;
        for (const char *c = ext; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'));
        for (size_t j = i + 1; http_mime_entry(j, &other_type) != NULL; j++)
            assert_string_not_equal(ext, http_mime_entry(j, &other_type));
        if (strncmp(type, "text/", 5) == 0)
            assert_non_null(strstr(type, "; charset=utf-8"));
        assert_string_equal(type_of(ext), HTTP_MIME_DEFAULT); /* "png" has no extension */
    }
    assert_null(http_mime_entry(1000, &type));
}

static void test_case_insensitive(void **state)
{
    (void)state;
    assert_string_equal(type_of("PHOTO.JPG"), "image/jpeg");
    assert_string_equal(type_of("Index.Html"), "text/html; charset=utf-8");
    assert_string_equal(type_of("a.WeBp"), "image/webp");
    assert_string_equal(type_of("A.TAR.GZ"), "application/gzip");
}

static void test_no_extension(void **state)
{
    (void)state;
    assert_string_equal(type_of(""), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("README"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("file."), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("."), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of(".."), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("a.unknown"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("a.htmlx"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("a.htm "), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("a.h"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("html"), HTTP_MIME_DEFAULT);
}

static void test_dotfiles(void **state)
{
    (void)state;
    assert_string_equal(type_of(".html"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of(".gz"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("dir/.css"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of(".config.json"), "application/json");
    assert_string_equal(type_of("dir/.x.txt"), "text/plain; charset=utf-8");
}

static void test_paths_and_several_dots(void **state)
{
    (void)state;
    assert_string_equal(type_of("a.tar.gz"), "application/gzip");
    assert_string_equal(type_of("a.gz.tar"), "application/x-tar");
    assert_string_equal(type_of("pkg_1.2.3_amd64.deb"), "application/vnd.debian.binary-package");
    assert_string_equal(type_of("dir.html/file"), HTTP_MIME_DEFAULT);
    assert_string_equal(type_of("a/b.d/c.css"), "text/css; charset=utf-8");
    assert_string_equal(type_of("a/b.png/"), HTTP_MIME_DEFAULT);
    /* Only len bytes count. */
    assert_string_equal(http_mime_type("a.pngXYZ", 5), "image/png");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_entry),      cmocka_unit_test(test_table_is_sane),
        cmocka_unit_test(test_case_insensitive), cmocka_unit_test(test_no_extension),
        cmocka_unit_test(test_dotfiles),         cmocka_unit_test(test_paths_and_several_dots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

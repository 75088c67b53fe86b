"""The manual pages as built (build/man/manN/PAGE, from docs/man/*.scd).

For each page: mandoc -T lint finds nothing but what scdoc's output
always brings (ACCEPTED below), man --warnings (groff's own checks) says
nothing, the usual sections are there, and the page documents what its
program says it does: every option (and, for ferryctl, every command)
of the program's --help appears in it, so an option added without its
documentation fails here.

FERRY_MAN_PAGE=PATH checks one page (ctest runs one test per page), else
every page in FERRY_MAN_DIR. FERRY_BIN: the programs.
"""

import glob
import os
import re
import shutil
import subprocess
import unittest

BIN = os.environ.get("FERRY_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                                  "bin")
MAN_DIR = os.environ.get("FERRY_MAN_DIR") or os.path.join(BIN, "..", "man")
PAGES = [os.environ["FERRY_MAN_PAGE"]] if os.environ.get("FERRY_MAN_PAGE") else sorted(
    glob.glob(os.path.join(MAN_DIR, "man[0-9]", "*.[0-9]")))

# What mandoc -T lint says of any scdoc page, and why it is harmless:
# scdoc starts every paragraph with .PP, and mandoc drops those that
# follow a heading or another .PP; titles are lower case, as the commands
# are; and roff source lines grow past 80 bytes with their font escapes.
ACCEPTED = [
    r"WARNING: skipping paragraph macro: PP (empty|after SH|after SS)",
    r"STYLE: lower case character in document title",
    r"STYLE: input text line longer than 80 bytes",
]

# Options of the configuration file and the command line that ferryd's
# --help does not show yet (the lead's branch adds them): documented all
# the same, so checked here too.
FERRYD_MORE = ["--config", "--test-config", "--user", "--group", "--no-seccomp"]


def render(page):
    """The page as man shows it: plain text, no hyphenation or
    justification, lines as long as they come, blanks squeezed."""
    env = dict(os.environ, MANWIDTH="1000", MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--no-hyphenation", "--no-justification", "-l", page],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return re.sub(r"[ \t]+", " ", p.stdout)


def help_text(program, *args):
    p = subprocess.run([os.path.join(BIN, program), *args, "--help"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def long_options(text):
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)))


class ManPageTest(unittest.TestCase):

    def setUp(self):
        if not PAGES:
            self.fail(f"no manual page in {MAN_DIR}: build the 'man' target")

    @unittest.skipUnless(shutil.which("mandoc"), "mandoc not installed (contrib/deps.sh --test)")
    def test_mandoc_lint(self):
        for page in PAGES:
            p = subprocess.run(["mandoc", "-T", "lint", "-W", "style", page],
                               capture_output=True, text=True, timeout=60)
            found = [line for line in (p.stdout + p.stderr).splitlines()
                     if not any(re.search(rx, line) for rx in ACCEPTED)]
            self.assertEqual(found, [], page)

    def test_man_warnings(self):
        for page in PAGES:
            p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                               timeout=60, env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual((p.returncode, p.stderr), (0, ""), page)

    def test_sections(self):
        for page in PAGES:
            text = render(page)
            for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
                self.assertRegex(text, rf"(?m)^{heading}$", page)
            self.assertNotIn("@PROJECT_VERSION@", text)
            name = os.path.basename(page).rsplit(".", 1)[0]
            self.assertRegex(text, rf"(?m)^\s*{re.escape(name)} - ", page)
            # scdoc markup it did not take (an underline or bold it could
            # not start) shows as is: "10+_status_".
            self.assertEqual(re.findall(r"(?<![\w\\])(?:_[^_\s]+_|\*[^*\s]+\*)(?![\w])", text),
                             [], page)

    def test_documents_the_program(self):
        for page in PAGES:
            base = os.path.basename(page)
            text = render(page)
            if base == "ferryd.8":
                want = long_options(help_text("ferryd")) + FERRYD_MORE + ["-c", "-t", "-h", "-V"]
                want += ["SIGHUP", "SIGTERM", "SIGUSR1", "SIGTTIN", "SIGTTOU", "EXIT STATUS",
                         "FILES", "EXAMPLES", "/etc/ferry/ferryd.conf"]
            elif base == "ferryctl.8":
                usage = help_text("ferryctl")
                commands = re.findall(r"(?m)^  ([a-z][a-z-]+)\s", usage.split("commands")[1])
                self.assertIn("reopen-logs", commands)
                want = long_options(usage) + commands + ["reload", "config", "-s", "-w"]
                want += ["EXIT STATUS", "FERRY_ADMIN_SOCKET"]
            elif base == "ferry.1":
                want = long_options(help_text("ferry")) + ["-o", "-f", "-c", "-q", "-v", "-t"]
                want += ["EXIT STATUS"]
            elif base == "ferryd.conf.5":
                # Every single-valued option and flag is a top-level key,
                # the repeatable ones are sections.
                keys = [o[2:] for o in long_options(help_text("ferryd")) + FERRYD_MORE
                        if o[2:] not in ("listen", "allow", "deny", "redirect", "help",
                                         "version", "config", "test-config")]
                want = keys + ["[listen]", "[redirect]", "[access]", "[access http]",
                               "199 characters", "RELOADING"]
            else:
                continue
            missing = [w for w in want
                       if not re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]
            self.assertEqual(missing, [], f"{page} does not mention these")


if __name__ == "__main__":
    unittest.main()

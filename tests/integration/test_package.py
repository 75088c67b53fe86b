"""The .deb, end to end.

cpack builds it from the configured build tree into a temporary
directory; dpkg-deb shows its control fields, maintainer scripts and
files. Then dpkg --root installs it into a scratch root whose /usr, /etc
and /var are overlays of this machine's own, in a mount namespace of the
test's own: every write (the package's files, the ferry user in
/etc/passwd, dpkg's database) lands in the overlay's upper layer and the
machine is never changed. dpkg runs the maintainer scripts chrooted
there for real (adduser, dpkg-statoverride, deb-systemd-helper), and it
checks the Depends against the packages this machine has, which the
scratch root's /usr really holds: nothing is forced. The root has no
running systemd (/run is empty), as in an image build, so the scripts
skip systemctl; that no unit is enabled is checked on the links.

Needs root (mounts, chroot); skipped otherwise, or where overlay mounts
are refused. Environment: FERRY_BUILD_DIR, FERRY_SOURCE_DIR,
FERRY_CPACK (set by ctest); FERRY_KEEP_TMP=1 keeps the temporary
directory.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("FERRY_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SOURCE = os.environ.get("FERRY_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
CPACK = os.environ.get("FERRY_CPACK") or shutil.which("cpack")
KEEP = os.environ.get("FERRY_KEEP_TMP") == "1"
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
MULTIARCH = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                           text=True).stdout.strip() if shutil.which("dpkg-architecture") else ""

# Every regular file the package holds (and no test or benchmark program).
FILES = {
    "/etc/ferry/ferryd.conf": 0o644,
    "/etc/logrotate.d/ferryd": 0o644,
    "/usr/bin/ferry": 0o755,
    "/usr/sbin/ferryd": 0o755,
    "/usr/sbin/ferryctl": 0o755,
    "/usr/lib/systemd/system/ferryd.service": 0o644,
    f"/usr/lib/{MULTIARCH}/wireshark/plugins/ferry.lua": 0o644,
    "/usr/share/man/man1/ferry.1.gz": 0o644,
    "/usr/share/man/man5/ferryd.conf.5.gz": 0o644,
    "/usr/share/man/man8/ferryd.8.gz": 0o644,
    "/usr/share/man/man8/ferryctl.8.gz": 0o644,
    "/usr/share/doc/ferry/README.md": 0o644,
}
FILES.update({f"/usr/share/doc/ferry/{name}": 0o644
              for name in os.listdir(os.path.join(SOURCE, "docs")) if name.endswith(".md")})
CONFFILES = ["/etc/ferry/ferryd.conf", "/etc/logrotate.d/ferryd"]
HOST_DPKG_LOG = "/var/log/dpkg.log"
BINARIES = ["/usr/sbin/ferryd", "/usr/sbin/ferryctl", "/usr/bin/ferry"]

# Mounts the scratch root in the namespace unshare made, then waits for
# the test to close its stdin: with the last process of the namespace
# gone, its mounts go too, even if the test is killed.
MOUNT_SCRIPT = r"""
set -e
R=$1; U=$2; W=$3
for d in usr etc var; do
    mkdir -p "$U/$d" "$W/$d" "$R/$d"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$U/$d,workdir=$W/$d" "$R/$d"
done
for l in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"; fi
    if [ -d "/$l" ] && [ ! -L "/$l" ]; then mkdir -p "$R/$l"; mount --rbind "/$l" "$R/$l"; fi
done
mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/run" "$R/srv" "$R/root"
chmod 1777 "$R/tmp"
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc" 2> /dev/null || mount --rbind /proc "$R/proc"
echo ready
exec cat > /dev/null
"""


def run(cmd, timeout=120, check=True, **kw):
    """Runs cmd; a failure shows its output."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


_debs = {}


def build_deb():
    """cpack's .deb, built from the configured tree into a temporary
    directory, once for every test of this file."""
    if "deb" in _debs:
        return _debs["deb"]
    _debs["tmp"] = tempfile.mkdtemp(prefix="ferry-deb-")
    outdir = os.path.join(_debs["tmp"], "cpack")
    run([CPACK, "-G", "DEB", "-B", outdir, "--config", os.path.join(BUILD, "CPackConfig.cmake")],
        timeout=240, cwd=BUILD)
    debs = [f for f in os.listdir(outdir) if f.endswith(".deb")]
    assert len(debs) == 1, debs
    _debs["deb"] = os.path.join(outdir, debs[0])
    return _debs["deb"]


def tearDownModule():
    if "tmp" in _debs:
        if KEEP:
            print(f"kept {_debs['tmp']}")
        else:
            shutil.rmtree(_debs["tmp"], ignore_errors=True)


def fields(deb):
    """The control file's fields, continuation lines joined."""
    text = run(["dpkg-deb", "-f", deb]).stdout
    out, key = {}, None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            out[key] += "\n" + line[1:]
        else:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def depends(text):
    """{package: [constraint...]} from a Depends line (no alternatives used)."""
    out = {}
    for item in text.split(","):
        m = re.fullmatch(r"\s*([a-z0-9.+-]+)(?:\s*\(([^)]*)\))?\s*", item)
        assert m, f"cannot read {item!r} in Depends"
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


def needed_packages(paths):
    """The Debian packages of the shared libraries the binaries need."""
    pkgs = {}
    for path in paths:
        ldd = run(["ldd", path]).stdout
        for m in re.finditer(r"^\s*(\S+) => (/\S+)", ldd, re.M):
            lib = os.path.realpath(m.group(2))
            owner = run(["dpkg", "-S", lib], check=False)
            if owner.returncode != 0:  # merged /usr: dpkg knows the /lib name
                owner = run(["dpkg", "-S", lib.replace("/usr/lib/", "/lib/", 1)], check=False)
            assert owner.returncode == 0, f"no package owns {lib} ({m.group(1)})"
            pkgs[owner.stdout.split(":")[0]] = m.group(1)
    return pkgs


class ScratchRoot:
    """A root to install into: /usr, /etc and /var overlays of the
    machine's, in a private mount namespace held open by a child."""

    def __init__(self, base):
        self.root, upper, work = (os.path.join(base, d) for d in ("root", "upper", "work"))
        self.upper = upper
        for d in (self.root, upper, work):
            os.makedirs(d)
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_SCRIPT, "sh",
             self.root, upper, work],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            err = self.holder.communicate(timeout=10)[1]
            raise unittest.SkipTest(f"cannot mount a scratch root here: {err.strip()}")

    def run(self, cmd, **kw):
        """cmd inside the namespace (the scratch root's mounts visible)."""
        return run(["nsenter", "-t", str(self.holder.pid), "-m", "--", *cmd], **kw)

    def chroot(self, cmd, **kw):
        """cmd chrooted into the scratch root."""
        return self.run(["chroot", self.root, *cmd], **kw)

    def dpkg(self, *args, **kw):
        # --log: dpkg's log is not under --root by itself, and this
        # machine's must not tell of packages it never had.
        # --no-triggers: man-db's index is not this test's subject, and
        # rebuilding it for the whole machine would take a minute.
        return self.run(["dpkg", f"--root={self.root}", f"--log={self.root}/var/log/dpkg.log",
                         "--no-triggers", *args], **kw)

    def path(self, p):
        """Where p of the scratch root is, seen from inside the namespace."""
        return self.root + p

    def close(self):
        if self.holder.poll() is None:
            self.holder.stdin.close()
            try:
                self.holder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait()


class PackageTest(unittest.TestCase):
    """The .deb as dpkg-deb shows it: no root needed."""

    @classmethod
    def setUpClass(cls):
        if not CPACK or not shutil.which("dpkg-deb"):
            raise unittest.SkipTest("cpack or dpkg-deb not installed")
        cls.tmp = tempfile.mkdtemp(prefix="ferry-pkg-")
        cls.addClassCleanup(cls.remove_tmp)
        cls.deb = build_deb()
        cls.fields = fields(cls.deb)
        cls.control = os.path.join(cls.tmp, "control")
        run(["dpkg-deb", "-e", cls.deb, cls.control])

    @classmethod
    def remove_tmp(cls):
        if KEEP:
            print(f"kept {cls.tmp}")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_control_fields(self):
        f = self.fields
        self.assertEqual(f["Package"], "ferry")
        self.assertRegex(f["Version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(f["Architecture"], ARCH)
        self.assertIn("@", f["Maintainer"])
        self.assertEqual(f["Section"], "net")
        self.assertIn("logrotate", f["Recommends"])
        self.assertTrue(f["Description"].split("\n")[0], "a synopsis")

    def test_depends(self):
        deps = depends(self.fields["Depends"])
        # postinst runs adduser; the event workers need libuv 1.44.
        self.assertIn("adduser", deps)
        self.assertIn(">= 1.44", deps["libuv1"])
        # Debian 12's packages of the libraries every build links.
        for pkg in ("libc6", "libuv1", "libjansson4", "libsqlite3-0", "libsodium23", "libinih1",
                    "libseccomp2"):
            self.assertIn(pkg, deps)
        # And whatever else the binaries need: each library's package,
        # found by dpkg -S.
        for pkg, lib in needed_packages(os.path.join(BUILD, "bin", os.path.basename(b))
                                        for b in BINARIES).items():
            self.assertIn(pkg, deps, f"{lib} is {pkg}'s, missing from Depends")

    def test_conffiles(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), CONFFILES)

    def test_maintainer_scripts(self):
        for name in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, name)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o755, name)
            run(["sh", "-n", path])
            if shutil.which("shellcheck"):
                run(["shellcheck", "-s", "sh", path])
        self.assertFalse(os.path.exists(os.path.join(self.control, "preinst")))

    def test_files(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        files = {}
        for line in listing.splitlines():
            mode, owner, _size, _date, _time, name = line.split(None, 5)
            self.assertEqual(owner, "root/root", name)
            if mode[0] == "-":
                files[name[1:]] = mode
        self.assertEqual(sorted(files), sorted(FILES))
        for name, mode in FILES.items():
            want = "-rwxr-xr-x" if mode == 0o755 else "-rw-r--r--"
            self.assertEqual(files[name], want, name)

    def test_unit_runs_the_packaged_binary(self):
        unit = run(["sh", "-c", f"dpkg-deb --fsys-tarfile '{self.deb}' | "
                    "tar -xO ./usr/lib/systemd/system/ferryd.service"]).stdout
        self.assertIn("\nExecStart=/usr/sbin/ferryd -c /etc/ferry/ferryd.conf\n", unit)

    @unittest.skipUnless(shutil.which("tshark"), "tshark not installed")
    def test_dissector_in_wiresharks_lua_folder(self):
        # Where this machine's Wireshark looks for Lua plugins for everyone.
        folders = run(["tshark", "-G", "folders"]).stdout
        m = re.search(r"^Global Lua Plugins:\s*(\S+)", folders, re.M)
        self.assertIsNotNone(m, folders)
        self.assertIn(os.path.join(m.group(1), "ferry.lua"), FILES)


@unittest.skipUnless(os.geteuid() == 0, "needs root: mounts, chroot and dpkg --root")
class InstallTest(unittest.TestCase):
    """The .deb installed into a scratch root by dpkg, scripts and all."""

    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg", "unshare", "nsenter", "chroot"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} not installed")
        if not CPACK:
            raise unittest.SkipTest("cpack not installed")
        cls.tmp = tempfile.mkdtemp(prefix="ferry-pkg-")
        cls.roots = []
        # Cleanups run even when setUpClass fails half-way.
        cls.addClassCleanup(cls.cleanup)
        cls.deb = build_deb()
        cls.host_log_size = os.path.getsize(HOST_DPKG_LOG) if os.path.exists(HOST_DPKG_LOG) else 0
        cls.sr = cls.scratch()
        cls.install = cls.sr.dpkg("-i", cls.deb)

    @classmethod
    def scratch(cls):
        sr = ScratchRoot(os.path.join(cls.tmp, f"root{len(cls.roots)}"))
        cls.roots.append(sr)
        return sr

    @classmethod
    def cleanup(cls):
        for sr in cls.roots:
            sr.close()
        if KEEP:
            print(f"kept {cls.tmp}")
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def status(self, sr):
        p = sr.run(["dpkg-query", f"--admindir={sr.root}/var/lib/dpkg", "-W", "-f",
                    "${Status}", "ferry"], check=False)
        return p.stdout

    def passwd(self, sr, name, db="passwd"):
        """name's entry in the scratch root's /etc/passwd or /etc/group."""
        with open(os.path.join(sr.upper, "etc", db)) as f:
            for line in f:
                if line.split(":")[0] == name:
                    return line.rstrip("\n").split(":")
        return None

    def owner(self, sr, path):
        """(user, group, mode) of path in the scratch root, names from its own databases."""
        st = sr.run(["stat", "-c", "%u %g %a", sr.path(path)]).stdout.split()
        names = {}
        for db in ("passwd", "group"):
            entries = (line.split(":") for line in sr.chroot(["getent", db]).stdout.splitlines())
            names[db] = {int(e[2]): e[0] for e in entries}
        return names["passwd"][int(st[0])], names["group"][int(st[1])], int(st[2], 8)

    def test_installed(self):
        self.assertEqual(self.status(self.sr), "install ok installed")
        # Recorded in the scratch root's dpkg log, not in this machine's.
        with open(os.path.join(self.sr.upper, "var", "log", "dpkg.log")) as f:
            self.assertIn(" install ferry:", f.read())
        if os.path.exists(HOST_DPKG_LOG):
            with open(HOST_DPKG_LOG, errors="replace") as f:
                f.seek(self.host_log_size)
                self.assertNotIn(" ferry:", f.read())
        for path, mode in FILES.items():
            p = self.sr.run(["stat", "-c", "%a %U", self.sr.path(path)])
            self.assertEqual(p.stdout.split(), [format(mode, "o"), "root"], path)

    def test_user_and_group(self):
        # A system user (uid below 1000), its own group, no home, no login.
        user = self.passwd(self.sr, "ferry")
        self.assertIsNotNone(user, "no ferry user")
        self.assertLess(int(user[2]), 1000)
        self.assertEqual(user[5], "/nonexistent")
        self.assertIn(user[6], ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"))
        group = self.passwd(self.sr, "ferry", "group")
        self.assertEqual(user[3], group[2])
        self.assertFalse(self.sr.run(["test", "-e", self.sr.path("/nonexistent")],
                                     check=False).returncode == 0)

    def test_directories(self):
        self.assertEqual(self.owner(self.sr, "/var/log/ferry"), ("root", "adm", 0o755))
        self.assertEqual(self.owner(self.sr, "/var/lib/ferry"), ("ferry", "ferry", 0o750))
        self.assertEqual(self.owner(self.sr, "/srv/ferry"), ("root", "root", 0o755))

    def test_nothing_enabled_or_started(self):
        links = self.sr.run(["find", self.sr.path("/etc/systemd/system"), "-name",
                             "ferryd.service"]).stdout.split()
        self.assertEqual(links, [])
        # The state is recorded all the same, for a purge to clean up.
        self.assertEqual(self.sr.run(["test", "-e", self.sr.path(
            "/var/lib/systemd/deb-systemd-helper-enabled/ferryd.service.dsh-also")],
            check=False).returncode, 0)
        self.assertNotIn("Created symlink", self.install.stdout + self.install.stderr)

    def test_binaries_run(self):
        for path in BINARIES:
            p = self.sr.chroot([path, "--version"])
            self.assertRegex(p.stdout, r"^ferry\w* \d+\.\d+\.\d+", path)

    def test_reinstall_keeps_everything(self):
        sr = self.scratch()
        sr.dpkg("-i", self.deb)
        uid = self.passwd(sr, "ferry")[2]
        sr.dpkg("-i", self.deb)  # postinst configure, with the old version
        self.assertEqual(self.status(sr), "install ok installed")
        self.assertEqual(self.passwd(sr, "ferry")[2], uid)
        with open(os.path.join(sr.upper, "etc", "passwd")) as f:
            self.assertEqual(sum(line.startswith("ferry:") for line in f), 1)

    def test_statoverride_is_respected(self):
        sr = self.scratch()
        sr.chroot(["dpkg-statoverride", "--add", "root", "root", "0700", "/var/log/ferry"])
        sr.dpkg("-i", self.deb)
        self.assertEqual(self.owner(sr, "/var/log/ferry"), ("root", "root", 0o700))

    def test_remove_then_purge(self):
        sr = self.scratch()
        sr.dpkg("-i", self.deb)
        sr.run(["sh", "-c", f"echo hi > '{sr.path('/var/log/ferry/access.log')}'"])
        sr.dpkg("-r", "ferry")
        # remove: the conffiles and the logs stay.
        self.assertEqual(self.status(sr), "deinstall ok config-files")
        for path in CONFFILES + ["/var/log/ferry/access.log"]:
            self.assertEqual(sr.run(["test", "-e", sr.path(path)], check=False).returncode, 0,
                             path)
        self.assertNotEqual(sr.run(["test", "-e", sr.path("/usr/sbin/ferryd")],
                                   check=False).returncode, 0)
        # purge: the conffiles, the logs, the hub's directory; the served
        # directory only when it is empty; the user stays.
        sr.run(["sh", "-c", f"echo mine > '{sr.path('/srv/ferry/keep.txt')}'"])
        sr.dpkg("-P", "ferry")
        self.assertEqual(self.status(sr), "")
        for path in CONFFILES + ["/etc/ferry", "/var/log/ferry", "/var/lib/ferry"]:
            self.assertNotEqual(sr.run(["test", "-e", sr.path(path)], check=False).returncode, 0,
                                path)
        self.assertEqual(sr.run(["cat", sr.path("/srv/ferry/keep.txt")]).stdout, "mine\n")
        self.assertIsNotNone(self.passwd(sr, "ferry"))
        self.assertNotEqual(sr.run(["test", "-e", sr.path(
            "/var/lib/systemd/deb-systemd-helper-enabled/ferryd.service.dsh-also")],
            check=False).returncode, 0)
        # An empty served directory goes with the purge.
        sr2 = self.scratch()
        sr2.dpkg("-i", self.deb)
        sr2.dpkg("-P", "ferry")
        self.assertNotEqual(sr2.run(["test", "-e", sr2.path("/srv/ferry")],
                                    check=False).returncode, 0)

    @unittest.skipUnless(shutil.which("logrotate"), "logrotate not installed")
    def test_logrotate_file(self):
        # Needs the ferry user and adm group the file names: the root has
        # them. -d: reads and explains, rotates nothing.
        p = self.sr.chroot(["logrotate", "-d", "/etc/logrotate.d/ferryd"])
        self.assertNotIn("error:", p.stdout + p.stderr)
        self.assertIn("rotating pattern: /var/log/ferry/*.log", p.stdout + p.stderr)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd not installed")
    def test_unit_verifies_as_installed(self):
        # In the root, /usr/sbin/ferryd exists and the Documentation=
        # pages are found by man: nothing needs rewriting.
        p = self.sr.chroot(["systemd-analyze", "verify", "/usr/lib/systemd/system/ferryd.service"],
                           check=False)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))

    def test_ferryd_checks_the_installed_configuration(self):
        # ferryd -t (nginx -t): the packaged ferryd.conf is valid for the
        # packaged ferryd, with the users the package made.
        p = self.sr.chroot(["/usr/sbin/ferryd", "-t", "-c", "/etc/ferry/ferryd.conf"], check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()

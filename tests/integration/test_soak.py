"""The chaos soak in its CI form: contrib/soak/soak.sh for 15 s in each
mode (60 s in all) with 50 clients, workers SIGKILLed, the pool resized,
SIGHUP and reloads, files truncated, grown and replaced, and the disk-full
client (as root). It must exit 0: no corrupt download, every failure
explained by a SIGKILL or a truncate, RSS and descriptors flat, ferryd
stopping with 0 on SIGTERM (docs/BENCHMARKS.md, "Chaos soak").

Environment: FERRY_BIN (the build's bin/ directory), FERRY_KEEP_TMP=1 to
keep the soak's temporary directories."""

import json
import os
import subprocess
import tempfile
import unittest

from ferrytest import BIN, MODES

SOAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "contrib", "soak",
                    "soak.sh")
DURATION = 15


class Soak(unittest.TestCase):
    def soak(self, mode):
        with tempfile.TemporaryDirectory(prefix="ferrytest-soak-") as tmp:
            out = os.path.join(tmp, "soak.json")
            r = subprocess.run([SOAK, "--duration", str(DURATION), "--mode", mode,
                                "--bin", os.path.abspath(BIN), "--json", out],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               stdin=subprocess.DEVNULL, timeout=DURATION + 75)
            self.assertTrue(os.path.exists(out), r.stdout)
            with open(out) as f:
                res = json.load(f)["modes"][mode]
        self.assertEqual(res["downloads"]["corrupt"], 0, r.stdout)
        self.assertGreater(res["downloads"]["ok"], 0, r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout)


def _case(mode):
    return lambda self: self.soak(mode)


for _mode in MODES:
    setattr(Soak, f"test_{_mode}", _case(_mode))

if __name__ == "__main__":
    unittest.main()

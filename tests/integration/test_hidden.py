"""Hidden names against the real ferryd: a path with a component beginning
with '.' (.env, .git/config, a/.hidden/b, /%2eenv once decoded) is answered
by every protocol exactly as a missing one and left out of every listing,
unless --serve-hidden; then it is served byte for byte and listed. An
upload's temporary file (.ferry-put-*) stays hidden either way."""

import os
import re
import socket
import struct
import subprocess
import unittest

from ferrytest import STATUS, per_mode, recv_exact, request

ENV = b"SECRET_KEY=hunter2\n" + bytes(range(256)) * 40  # every byte value, 10 KiB
FILES = {
    ".env": ENV,
    ".htpasswd": b"admin:$apr1$xyz\n",
    ".git/config": b"[core]\n\tbare = false\n",
    "a/.hidden/b": b"deep\n",
    "a/visible.txt": b"a's file\n",
    "visible.txt": b"for everyone\n",
    # Readable (not mode 0 as a real one is): the tree hides it, not its mode.
    ".ferry-put-0123456789abcdef": b"half an upload",
}
# Hidden targets and the file each names ("" for a directory).
HIDDEN_URLS = {"/.env": ".env", "/%2eenv": ".env", "/%2Eenv": ".env",
               "/.htpasswd": ".htpasswd", "/.git/config": ".git/config",
               "/%2egit/config": ".git/config", "/a/.hidden/b": "a/.hidden/b",
               "/a/%2Ehidden/b": "a/.hidden/b", "/.git": "", "/.git/": "", "/a/.hidden/": "",
               "/.nothing": None}
OWN = "/.ferry-put-0123456789abcdef"


def http(host, port, method, path):
    """One request on its own connection; the whole answer, with the Date
    field blanked (the only part that may differ between two answers)."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", data)


def body_of(answer):
    return answer[answer.index(b"\r\n\r\n") + 4:]


def native(host, port, raw):
    """Sends a native request; everything until the server closes."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    return data


def native_get(name):
    name = name.encode()
    return struct.pack(">BBHQQ", 1, 7, len(name), 0, 1 << 40) + name


def native_list(host, port):
    """LIST: the names, in the order sent."""
    data = native(host, port, struct.pack(">BBH", 1, 5, 0))
    version, mtype, status, count = struct.unpack(">BBBI", data[:7])
    assert (version, mtype, status) == (1, 6, 0), data[:7]
    names, off = [], 7
    for _ in range(count):
        (n,) = struct.unpack(">H", data[off:off + 2])
        names.append(data[off + 2:off + 2 + n].decode())
        off += 2 + n + 17
    assert off == len(data), "bytes after the records"
    return names


class Hidden:
    MODE = None

    def setUp(self):
        super().setUp()
        for rel, data in FILES.items():
            os.makedirs(os.path.dirname(os.path.join(self.root, rel)), exist_ok=True)
            self.put(rel, data)

    def start(self, *args):
        srv = self.serve(self.MODE, ("--autoindex", *args),
                         listen=["native=127.0.0.1:0", "http=127.0.0.1:0"])
        (_, host, nport), (_, _, hport) = srv.listeners
        return (host, nport), (host, hport)

    def file_request(self, addr, name):
        """FILE_REQUEST: (status, size, content after READY or b"")."""
        with socket.create_connection(addr, timeout=10) as s:
            s.sendall(request(name))
            _, _, status, size = struct.unpack(">BBBQ", recv_exact(s, 11))
            if status != 0:
                return status, size, s.recv(10)  # b"": closed after the answer
            s.sendall(b"\x03")
            return status, size, recv_exact(s, size + 1)

    def test_native_hidden_is_missing(self):
        """Without the flag: FILE_REQUEST and GET of a hidden name are
        NOT_FOUND, byte for byte the answer to a missing name; LIST leaves
        dot-files out."""
        addr, _ = self.start()
        missing = native(*addr, native_get("missing.txt"))
        self.assertEqual(missing, bytes([1, 2, STATUS["NOT_FOUND"]]) + bytes(8))
        for name in (".env", ".htpasswd", ".git", ".nothing", OWN[1:]):
            with self.subTest(name=name):
                self.assertEqual(self.file_request(addr, name), (STATUS["NOT_FOUND"], 0, b""))
                self.assertEqual(native(*addr, native_get(name)), missing)
        self.assertEqual(native_list(*addr), ["visible.txt"])
        self.assertEqual(self.file_request(addr, "visible.txt"),
                         (0, len(FILES["visible.txt"]), FILES["visible.txt"]))

    def test_http_hidden_is_missing(self):
        """Without the flag: GET and HEAD of a hidden path, anywhere in it
        and percent-encoded too, are the very 404 of a missing name (no
        301 for a hidden directory); autoindex leaves dot-names out."""
        _, addr = self.start()
        for method in ("GET", "HEAD"):
            missing = http(*addr, method, "/missing.txt")
            self.assertTrue(missing.startswith(b"HTTP/1.1 404 "), missing)
            for path in (*HIDDEN_URLS, OWN):
                with self.subTest(method=method, path=path):
                    self.assertEqual(http(*addr, method, path), missing)
        # curl, as a user would try it.
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w",
                            "%{http_code}", f"http://{addr[0]}:{addr[1]}/.env"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, "404"), r.stderr)
        page = body_of(http(*addr, "GET", "/")).decode()
        self.assertIn('<a href="visible.txt">', page)
        self.assertIn('<a href="a/">', page)
        self.assertNotIn(".env", page)
        self.assertNotIn(".git", page)
        self.assertNotIn(".htpasswd", page)
        self.assertNotIn(".ferry-put", page)
        page = body_of(http(*addr, "GET", "/a/")).decode()
        self.assertIn('<a href="visible.txt">', page)
        self.assertNotIn(".hidden", page)

    def test_serve_hidden(self):
        """--serve-hidden: dot-files are served byte for byte and listed by
        both protocols; an upload's temporary file still is not."""
        naddr, haddr = self.start("--serve-hidden")
        self.assertEqual(self.file_request(naddr, ".env"), (0, len(ENV), ENV))
        self.assertEqual(native(*naddr, native_get(".env")),
                         bytes([1, 2, 0]) + struct.pack(">Q", len(ENV)) + ENV)
        self.assertEqual(native_list(*naddr), [".env", ".htpasswd", "visible.txt"])
        missing = native(*naddr, native_get("missing.txt"))
        self.assertEqual(native(*naddr, native_get(OWN[1:])), missing)
        for path, rel in HIDDEN_URLS.items():
            with self.subTest(path=path):
                answer = http(*haddr, "GET", path)
                if rel is None:
                    self.assertTrue(answer.startswith(b"HTTP/1.1 404 "), answer[:40])
                elif rel == "" and not path.endswith("/"):
                    self.assertTrue(answer.startswith(b"HTTP/1.1 301 "), answer[:40])
                    self.assertIn(f"\r\nLocation: {path}/\r\n".encode(), answer)
                elif rel == "":
                    self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:40])
                else:
                    self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:40])
                    self.assertEqual(body_of(answer), FILES[rel])
        self.assertEqual(http(*haddr, "GET", OWN), http(*haddr, "GET", "/missing.txt"))
        page = body_of(http(*haddr, "GET", "/")).decode()
        for href in (".env", ".htpasswd", ".git/", "visible.txt", "a/"):
            self.assertIn(f'<a href="{href}">', page)
        self.assertNotIn(".ferry-put", page)
        self.assertIn('<a href="b">', body_of(http(*haddr, "GET", "/a/.hidden/")).decode())
        r = subprocess.run(["curl", "-sS", "--max-time", "10", f"http://{haddr[0]}:{haddr[1]}/.env"],
                           capture_output=True, timeout=20)
        self.assertEqual((r.returncode, r.stdout), (0, ENV), r.stderr)


globals().update(per_mode(Hidden, modes=("prefork", "event")))


if __name__ == "__main__":
    unittest.main()

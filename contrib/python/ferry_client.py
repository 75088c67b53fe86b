"""A client for ferry's native file protocol, version 1, written from
docs/PROTOCOL.md alone (standard library only, Python 3.11+).

    get(host, port, name, max_size, dest, offset=0, timeout=30.0) -> int
    list(host, port, timeout=30.0) -> [Entry(name, size, mtime, kind), ...]

get() sends one GET (type 0x07) and, if the server answers BAD_REQUEST
(a server that predates GET), retries once, on a new connection, with
FILE_REQUEST + READY/REFUSE. It returns the file's full size as the server
announced it (not the number of bytes received in this call, which is
size - offset).

dest is a path or a binary file object:

* a path: the data goes to ``dest + ".part"`` (see part_path()), which is
  renamed to dest once complete and flushed to disk. The .part file is
  opened only once the server has said OK, so an error answer touches
  nothing. With offset == 0 it is created (or truncated); with offset > 0
  it must already hold at least offset bytes: it is truncated to offset
  and what arrives is appended. If the transfer fails midway, the .part
  file is kept when it holds at least one byte (resume later with
  offset=os.path.getsize(part_path(dest))) and removed otherwise; dest
  itself is never touched on failure.
* a binary file object: the bytes from offset to the end are written to
  it at its current position; it is neither flushed nor closed.

Errors:

* StatusError subclasses for an error answer, one per status (.status,
  .size, .name): VersionMismatch, InvalidName, NotFound, NotRegular,
  AccessDenied, BadRequest, ServerError, TooLarge, BadOffset, Busy,
  Unauthorized (status 11: a PUT's answer, which get() and list() never
  send; known so that no status of the protocol reads as malformed).
  TooLarge and BadOffset carry the file's real size in .size. Through the FILE_REQUEST
  fallback they are raised by the client itself, after sending REFUSE.
* ProtocolError for a malformed answer; its subclass TruncatedError
  (.what, .expected, .received) when the answer stops early, including a
  reset or a timeout after the connection was made.
* OSError (ConnectionRefusedError, socket.gaierror, TimeoutError...) when
  the host cannot be resolved or connected to, unchanged except for an
  added attribute ``ferry_connect = True``. Any other OSError comes from
  the local file (open, write, rename).
* ValueError for arguments that cannot be sent (negative sizes...).

timeout bounds the connect and each wait for data (no progress for that
long), not the transfer as a whole.

Command line (exit codes: 0 ok, 1 local error, 2 usage, 3 cannot resolve
or connect, 5 malformed or truncated answer or timeout, 10+status for an
error answer, e.g. 13 not found, 19 bad offset; but 4 for a file larger
than MAX_SIZE, as the C client says):

    python3 -m ferry_client get HOST PORT NAME MAX_SIZE [-o OUT] [-c] [-f]
    python3 -m ferry_client ls HOST PORT [--json]
"""

import argparse
import json
import os
import re
import socket
import struct
import sys
import time
from typing import NamedTuple

__all__ = ["get", "list", "list_files", "part_path", "Entry", "FerryError",
           "ProtocolError", "TruncatedError", "StatusError", "VersionMismatch",
           "InvalidName", "NotFound", "NotRegular", "AccessDenied", "BadRequest",
           "ServerError", "TooLarge", "BadOffset", "Busy", "Unauthorized", "main"]

VERSION = 1
FILE_REQUEST, FILE_RESPONSE, READY, REFUSE, LIST, LIST_RESPONSE, GET = range(1, 8)
U64_MAX = (1 << 64) - 1
MAX_NAME = 255          # the longest valid name (PROTOCOL.md, validation 3)
CHUNK = 1 << 16         # bytes per recv()


# --- errors -----------------------------------------------------------------

class FerryError(Exception):
    """Base class of every error the protocol can produce."""


class ProtocolError(FerryError):
    """The answer breaks the protocol (wrong type, unknown status...)."""


class TruncatedError(ProtocolError):
    """The answer stopped early: the peer closed, reset or went silent."""

    def __init__(self, what, expected, received, cause=None):
        self.what, self.expected, self.received = what, expected, received
        why = f": {cause}" if cause else ""
        super().__init__(f"truncated {what}: received {received} of {expected} bytes{why}")


class StatusError(FerryError):
    """The server answered with an error status."""
    STATUS = None
    TEXT = "error"

    def __init__(self, name=None, size=0, status=None, detail=None):
        self.status = self.STATUS if status is None else status
        self.name = name
        self.size = size
        msg = self.TEXT + (f": {name}" if name is not None else "")
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class VersionMismatch(StatusError):
    STATUS, TEXT = 1, "version mismatch"


class InvalidName(StatusError):
    STATUS, TEXT = 2, "invalid name"


class NotFound(StatusError):
    STATUS, TEXT = 3, "not found"


class NotRegular(StatusError):
    STATUS, TEXT = 4, "not a regular file"


class AccessDenied(StatusError):
    STATUS, TEXT = 5, "access denied"


class BadRequest(StatusError):
    STATUS, TEXT = 6, "bad request"


class ServerError(StatusError):
    STATUS, TEXT = 7, "server error"


class TooLarge(StatusError):
    STATUS, TEXT = 8, "file too large"


class BadOffset(StatusError):
    STATUS, TEXT = 9, "offset beyond the end of the file"


class Busy(StatusError):
    STATUS, TEXT = 10, "server busy: too many connections from this address"


class Unauthorized(StatusError):
    """UNAUTHORIZED: a PUT whose token is no live hub session, or whose MAC
    is wrong (PROTOCOL.md section 8)."""
    STATUS, TEXT = 11, "not authorized: no live hub session, or a wrong MAC"


STATUS_ERRORS = {cls.STATUS: cls for cls in (
    VersionMismatch, InvalidName, NotFound, NotRegular, AccessDenied, BadRequest,
    ServerError, TooLarge, BadOffset, Busy, Unauthorized)}


def _status_error(status, name, size, max_size=None, offset=None):
    cls = STATUS_ERRORS[status]
    detail = None
    if cls is TooLarge:
        detail = f"{size} bytes > max {max_size} bytes" if max_size is not None else f"{size} bytes"
    elif cls is BadOffset:
        detail = f"offset {offset} > size {size}" if offset is not None else f"size {size}"
    return cls(name, size, detail=detail)


class Entry(NamedTuple):
    """One LIST record. mtime: Unix seconds; kind: 0 regular file."""
    name: str
    size: int
    mtime: int
    kind: int


# --- the wire ---------------------------------------------------------------

def _encode_name(name):
    raw = name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")
    if len(raw) > 0xFFFF:
        # name_len is a u16: such a name cannot even be sent.
        raise InvalidName(name, detail=f"{len(raw)} bytes cannot be encoded")
    return raw


def _check_u64(what, value):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U64_MAX:
        raise ValueError(f"{what} must be an integer in 0..2^64-1, not {value!r}")


def valid_name(raw):
    """The protocol's name rule: 1-255 bytes of printable ASCII, no '/',
    neither '.' nor '..'."""
    return (1 <= len(raw) <= MAX_NAME and all(0x20 <= b <= 0x7E for b in raw)
            and b"/" not in raw and raw not in (b".", b".."))


class _Conn:
    """A connection with a read buffer; every read is bounded and exact."""

    def __init__(self, host, port, timeout):
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            e.ferry_connect = True
            raise
        self.buf = bytearray()
        self.send_error = None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        # A server may answer (an error) and close before it has read the
        # whole request; a failed send is reported only if no answer follows.
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.send_error = e

    def _fill(self, what, expected, received):
        """Receives more bytes into the buffer; raises on EOF/error."""
        try:
            chunk = self.sock.recv(CHUNK)
        except OSError as e:  # reset, timeout
            raise TruncatedError(what, expected, received, e.strerror or str(e) or type(e).__name__) from e
        if not chunk:
            cause = self.send_error
            raise TruncatedError(what, expected, received,
                                 f"sending the request failed: {cause}" if cause else "connection closed")
        self.buf += chunk

    def exact(self, n, what, expected=None, received=0):
        """Exactly n bytes. expected/received describe the enclosing message
        for the error (defaults: n and 0)."""
        if expected is None:
            expected = n
        while len(self.buf) < n:
            self._fill(what, expected, received + len(self.buf))
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def stream(self, n, write, what):
        """Passes exactly n bytes to write() in chunks."""
        got = 0
        while got < n:
            if not self.buf:
                self._fill(what, n, got)
            take = min(len(self.buf), n - got)
            write(memoryview(self.buf)[:take])
            del self.buf[:take]
            got += take

    def answer(self, expect_list=False):
        """Reads the answer's header. Returns ('file', status, size) or
        ('list', status, count). A version other than 1 is a version
        mismatch whatever follows; other types are protocol errors."""
        what, length = ("LIST_RESPONSE", 7) if expect_list else ("FILE_RESPONSE", 11)
        version = self.exact(1, what, length)[0]
        if version != VERSION:
            e = VersionMismatch(detail=f"the server speaks version {version}")
            e.server_version = version
            raise e
        mtype = self.exact(1, what, length, 1)[0]
        if mtype == FILE_RESPONSE:
            status, size = struct.unpack(">BQ", self.exact(9, "FILE_RESPONSE", 11, 2))
            return "file", status, size
        if mtype == LIST_RESPONSE and expect_list:
            status, count = struct.unpack(">BI", self.exact(5, "LIST_RESPONSE", 7, 2))
            return "list", status, count
        raise ProtocolError(f"unexpected answer type 0x{mtype:02x}")


def _check_status(status, name, size, max_size=None, offset=None):
    if status == 0:
        return
    if status not in STATUS_ERRORS:
        raise ProtocolError(f"unknown status {status}")
    raise _status_error(status, name, size, max_size, offset)


# --- GET --------------------------------------------------------------------

def part_path(dest):
    """Where get() keeps the partial data of a download to path dest."""
    return os.fspath(dest) + ".part"


class _Sink:
    """The destination: a file object, or dest.part renamed to dest."""

    def __init__(self, dest, offset):
        self.offset = offset
        self.received = 0
        self.file = None
        if hasattr(dest, "write"):
            self.path = None
            self.file = dest
            return
        self.path = os.fspath(dest)
        self.part = part_path(self.path)
        if offset > 0:
            have = os.path.getsize(self.part)  # FileNotFoundError if absent
            if have < offset:
                raise ValueError(f"{self.part} holds {have} bytes, fewer than offset {offset}")

    def open(self):
        """Called once the server said OK."""
        if self.path is None:
            return
        if self.offset == 0:
            self.file = open(self.part, "wb")
        else:
            self.file = open(self.part, "r+b")
            self.file.truncate(self.offset)
            self.file.seek(self.offset)

    def write(self, data):
        self.file.write(data)
        self.received += len(data)

    def commit(self, size):
        if self.path is None:
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        got = os.fstat(self.file.fileno()).st_size
        self.file.close()
        self.file = None
        if got != size:  # cannot happen unless someone else writes the .part
            raise ProtocolError(f"{self.part} holds {got} bytes, expected {size}")
        os.replace(self.part, self.path)

    def abort(self):
        """After a failure: keep the .part only if it can be resumed."""
        if self.path is None or self.file is None:
            return
        try:
            self.file.close()
        except OSError:
            pass
        self.file = None
        if self.offset + self.received == 0:
            try:
                os.unlink(self.part)
            except FileNotFoundError:
                pass


def _get_once(host, port, raw, name, max_size, offset, sink, timeout):
    with _Conn(host, port, timeout) as c:
        c.send(struct.pack(">BBHQQ", VERSION, GET, len(raw), offset, max_size) + raw)
        kind, status, size = c.answer()
        if status == BadRequest.STATUS:
            return None  # a server that predates GET: fall back
        _check_status(status, name, size, max_size, offset)
        if size > max_size:
            raise ProtocolError(f"OK for {size} bytes, more than max_size {max_size}")
        if size < offset:
            raise ProtocolError(f"OK for {size} bytes, less than offset {offset}")
        sink.open()
        c.stream(size - offset, sink.write, "content")
        return size


def _file_request(host, port, raw, name, max_size, offset, sink, timeout):
    with _Conn(host, port, timeout) as c:
        c.send(struct.pack(">BBH", VERSION, FILE_REQUEST, len(raw)) + raw)
        kind, status, size = c.answer()
        _check_status(status, name, size, max_size, offset)
        # The same decisions GET makes on the server, in the same order.
        refusal = None
        if size > max_size:
            refusal = _status_error(TooLarge.STATUS, name, size, max_size)
        elif offset > size:
            refusal = _status_error(BadOffset.STATUS, name, size, offset=offset)
        if refusal:
            c.send(bytes([REFUSE]))
            raise refusal
        c.send(bytes([READY]))
        # FILE_REQUEST has no offset: the first offset bytes are skipped.
        sink.open()
        skip = offset

        def write(data):
            nonlocal skip
            if skip:
                drop = min(skip, len(data))
                skip -= drop
                data = data[drop:]
            if data:
                sink.write(data)
        c.stream(size, write, "content")
        return size


def get(host, port, name, max_size, dest, offset=0, timeout=30.0, fallback=True):
    """Fetches name (str or bytes); returns the file's full size. See the
    module documentation for dest, resuming and errors."""
    _check_u64("max_size", max_size)
    _check_u64("offset", offset)
    raw = _encode_name(name)
    sink = _Sink(dest, offset)
    try:
        size = _get_once(host, port, raw, name, max_size, offset, sink, timeout)
        if size is None:
            if not fallback:
                raise BadRequest(name)
            size = _file_request(host, port, raw, name, max_size, offset, sink, timeout)
        sink.commit(size)
        return size
    except BaseException:
        sink.abort()
        raise


# --- LIST -------------------------------------------------------------------

def list_files(host, port, timeout=30.0, max_entries=1 << 24):
    """The served directory's files, sorted by name, as Entry tuples.
    Names are str (the protocol allows printable ASCII only)."""
    with _Conn(host, port, timeout) as c:
        c.send(struct.pack(">BBH", VERSION, LIST, 0))
        kind, status, count = c.answer(expect_list=True)
        if kind == "file":
            if status == 0:
                raise ProtocolError("LIST answered with a FILE_RESPONSE of status OK")
            _check_status(status, None, count)
        if status == ServerError.STATUS:
            raise ServerError(detail=f"LIST_RESPONSE, count {count}")
        if status != 0:
            raise ProtocolError(f"LIST_RESPONSE with status {status}")
        if count > max_entries:
            raise ProtocolError(f"LIST_RESPONSE announces {count} records, more than {max_entries}")
        entries = []
        last = None
        for i in range(count):
            what = f"LIST record {i + 1} of {count}"
            n = struct.unpack(">H", c.exact(2, what, 2))[0]
            if not 1 <= n <= MAX_NAME:
                raise ProtocolError(f"{what}: name_len {n} outside 1..255")
            rest = c.exact(n + 17, what, n + 19, 2)
            raw = rest[:n]
            size, mtime, kind_ = struct.unpack(">QqB", rest[n:])
            if not valid_name(raw):
                raise ProtocolError(f"{what}: invalid name {raw!r}")
            if last is not None and raw <= last:
                raise ProtocolError(f"{what}: {raw!r} is not sorted after {last!r}")
            last = raw
            entries.append(Entry(raw.decode("ascii"), size, mtime, kind_))
        return entries


list = list_files  # noqa: A001 -- the documented name (shadows the builtin here only)


# --- command line -----------------------------------------------------------

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_size(text):
    """'10M' = 10 MiB, '10MB' = 10^7, '123' bytes (as the C client)."""
    m = re.fullmatch(r"([0-9]+)([A-Za-z]*)", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}")
    value = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if value > U64_MAX:
        raise argparse.ArgumentTypeError(f"size {text!r} is above 2^64-1")
    return value


def _port(text):
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}")
    return int(text)


def _host(text):
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def _timeout(text):
    try:
        value = float(text.removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid timeout {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("the timeout must be above 0")
    return value


def _parser():
    p = argparse.ArgumentParser(prog="ferry_client", description="ferry protocol v1 client")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("get", help="fetch one file")
    g.add_argument("host", type=_host)
    g.add_argument("port", type=_port)
    g.add_argument("name")
    g.add_argument("max_size", type=parse_size)
    g.add_argument("-o", "--output", help="file, directory (DIR/NAME) or - for stdout [./NAME]")
    g.add_argument("-c", "--continue", dest="resume", action="store_true",
                   help="resume from OUT.part if it exists")
    g.add_argument("-f", "--force", action="store_true", help="replace an existing file")
    g.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    g.add_argument("-t", "--timeout", type=_timeout, default=30.0, help="seconds [30]")
    ls = sub.add_parser("ls", help="list the served files")
    ls.add_argument("host", type=_host)
    ls.add_argument("port", type=_port)
    ls.add_argument("--json", action="store_true", help="a JSON array of objects")
    ls.add_argument("-t", "--timeout", type=_timeout, default=30.0, help="seconds [30]")
    return p


def _err(msg):
    print(f"ferry_client: {msg}", file=sys.stderr)


def _cmd_get(a):
    to_stdout = a.output == "-"
    if to_stdout and a.resume:
        _err("-c needs a file to resume, not stdout")
        return 2
    if a.output is None or (not to_stdout and os.path.isdir(a.output)):
        # NAME becomes a local file name: refuse what could escape the directory.
        if not valid_name(a.name.encode("utf-8", "surrogateescape")):
            _err(f"invalid name: {a.name!r} (checked locally; use -o to ask the server)")
            return 10 + InvalidName.STATUS
        dest = os.path.join(a.output or ".", a.name)
    else:
        dest = a.output
    offset = 0
    if not to_stdout:
        if a.resume and os.path.exists(part_path(dest)):
            offset = os.path.getsize(part_path(dest))
        if os.path.lexists(dest) and not a.force:
            _err(f"{dest} exists (-f replaces it)")
            return 1
    target = sys.stdout.buffer if to_stdout else dest
    try:
        try:
            size = get(a.host, a.port, a.name, a.max_size, target, offset, a.timeout)
        except BadOffset:
            if offset == 0:
                raise
            # The file shrank: it was replaced. Stop rather than guess, as
            # the C client does (PROTOCOL.md section 5).
            _err(f"{a.name}: the file changed on the server: it is shorter than the "
                 f"{offset} bytes in {part_path(dest)}; remove it (or drop -c) to fetch afresh")
            return 10 + BadOffset.STATUS
        if to_stdout:
            sys.stdout.buffer.flush()
    except StatusError as e:
        _err(str(e))
        return 4 if isinstance(e, TooLarge) else 10 + e.status
    except FerryError as e:
        _err(f"{a.name}: {e}")
        return 5
    except OSError as e:
        if getattr(e, "ferry_connect", False):
            _err(f"cannot connect to {a.host} port {a.port}: {e.strerror or e}")
            return 3
        _err(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}")
        return 1
    except ValueError as e:
        _err(str(e))
        return 1
    if not a.quiet:
        resumed = f" (resumed at {offset})" if offset else ""
        _err(f"{a.name}: {size} bytes{resumed}")
    return 0


def _cmd_ls(a):
    try:
        entries = list_files(a.host, a.port, a.timeout)
    except StatusError as e:
        _err(str(e))
        return 4 if isinstance(e, TooLarge) else 10 + e.status
    except FerryError as e:
        _err(str(e))
        return 5
    except OSError as e:
        if getattr(e, "ferry_connect", False):
            _err(f"cannot connect to {a.host} port {a.port}: {e.strerror or e}")
            return 3
        _err(str(e))
        return 1
    out = sys.stdout
    if a.json:
        json.dump([e._asdict() for e in entries], out, indent=None)
        out.write("\n")
    else:
        for e in entries:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.mtime))
            out.write(f"{e.size:>14}  {stamp}  {e.name}\n")
    out.flush()
    return 0


def main(argv=None):
    a = _parser().parse_args(argv)  # usage errors exit 2
    try:
        return _cmd_get(a) if a.cmd == "get" else _cmd_ls(a)
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

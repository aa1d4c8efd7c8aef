"""The noon/2 frame codec (docs/protocol/frames.md sections 2 to 4), written from the document alone.

A message after the routing id is [b"noon/2", batch]; a batch is entries of
header_len:u16 header payload_len:u32 payload. Everything malformed raises Malformed, and the caller
drops the whole message (frames.md section 3.3).
"""

import json
import struct

TAG = b"noon/2"
MAX_ENTRIES = 4096
MAX_DIRECTIVES = 16
# 4 x maxFrame, what a reference service accepts (frames.md section 9)
MAX_PAYLOAD = 65536

KIND_REQUEST = 1
KIND_REPLY = 2
KIND_PUSH = 3
KIND_ROOM = 4

DIRECTIVE_AUTH = 1
DIRECTIVE_LOGOUT = 2
DIRECTIVE_BIND = 3
DIRECTIVE_UNBIND = 4
DIRECTIVE_SUBSCRIBE = 5
DIRECTIVE_UNSUBSCRIBE = 6
DIRECTIVE_CLOSE = 7

# the fields of each directive code, in order (frames.md section 4.5)
DIRECTIVE_FIELDS = {
    DIRECTIVE_AUTH: 3,
    DIRECTIVE_LOGOUT: 0,
    DIRECTIVE_BIND: 3,
    DIRECTIVE_UNBIND: 2,
    DIRECTIVE_SUBSCRIBE: 2,
    DIRECTIVE_UNSUBSCRIBE: 1,
    DIRECTIVE_CLOSE: 1,
}

REQUEST_FIELDS = ("sessionId", "userId", "username", "method", "via", "traceId")

ERROR_CODES = {
    "BAD_REQUEST",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "UNKNOWN_METHOD",
    "RATE_LIMITED",
    "BUSY",
    "TIMEOUT",
    "UNAVAILABLE",
    "STATE_LOST",
    "TOO_LARGE",
    "PROTOCOL",
    "INTERNAL",
}


class Malformed(Exception):
    """A message the receiver must drop whole (frames.md section 3.3)."""


class Reader:
    """Reads the primitive types of frames.md section 2.1 from one header."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> bytes:
        if self.left() < n:
            raise Malformed(f"{what} runs past the end of the header")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        return struct.unpack(">I", self.take(4, what))[0]

    def str(self, what: str) -> str:
        (n,) = struct.unpack(">H", self.take(2, what))
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Malformed(f"{what} is not UTF-8") from e


def enc_str(s: str) -> bytes:
    raw = s.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError(f"string of {len(raw)} bytes does not fit a u16 length")
    return struct.pack(">H", len(raw)) + raw


def split_batch(batch: bytes, max_payload: int = MAX_PAYLOAD) -> list:
    """The (header, payload) pairs of a batch frame, in order (frames.md section 3.1)."""
    entries = []
    pos = 0
    end = len(batch)
    while pos < end:
        if len(entries) == MAX_ENTRIES:
            raise Malformed("more than 4096 entries")
        if end - pos < 2:
            raise Malformed("fewer than 2 bytes left for header_len")
        (hlen,) = struct.unpack_from(">H", batch, pos)
        pos += 2
        if pos + hlen + 4 > end:
            raise Malformed("header and payload_len run past the end")
        header = batch[pos : pos + hlen]
        pos += hlen
        (plen,) = struct.unpack_from(">I", batch, pos)
        pos += 4
        if plen > max_payload:
            raise Malformed(f"payload of {plen} bytes is over the limit {max_payload}")
        if pos + plen > end:
            raise Malformed("payload runs past the end")
        entries.append((header, batch[pos : pos + plen]))
        pos += plen
    if not entries:
        raise Malformed("zero entries")
    return entries


def read_directives(r: Reader) -> list:
    count = r.u8("directive count")
    if count > MAX_DIRECTIVES:
        raise Malformed(f"{count} directives, more than 16")
    out = []
    for _ in range(count):
        code = r.u8("directive code")
        if code not in DIRECTIVE_FIELDS:
            raise Malformed(f"unknown directive code {code}")
        out.append((code, *[r.str("directive field") for _ in range(DIRECTIVE_FIELDS[code])]))
    return out


def decode_header(header: bytes) -> dict:
    """One envelope header as a dict with `kind`; Malformed on anything section 3.3 names."""
    r = Reader(header)
    kind = r.u8("kind")
    if kind == KIND_REQUEST:
        env = {"kind": kind, "requestId": r.u32("requestId"), "timeoutMs": r.u32("timeoutMs")}
        for name in REQUEST_FIELDS:
            env[name] = r.str(name)
        # field 10 is optional: read when bytes are left after traceId (frames.md section 4.1)
        # an empty field 10 (written before a caller proof) means none
        env["clientRequestId"] = (r.str("clientRequestId") or None) if r.left() > 0 else None
        # fields 11 and 12 come together, when bytes are left after field 10 (frames.md section 4.1)
        if r.left() > 0:
            env["callerKey"] = r.str("callerKey")
            env["callerProof"] = r.str("callerProof")
    elif kind == KIND_REPLY:
        env = {"kind": kind, "requestId": r.u32("requestId"), "error": r.str("error")}
        if env["error"]:
            try:
                json.loads(env["error"])
            except ValueError as e:
                raise Malformed("error is not JSON") from e
        env["directives"] = read_directives(r)
    elif kind == KIND_PUSH:
        env = {"kind": kind, "sessionId": r.str("sessionId"), "directives": read_directives(r)}
    elif kind == KIND_ROOM:
        env = {"kind": kind, "topic": r.str("topic"), "seqHigh": r.u32("seqHigh"), "seqLow": r.u32("seqLow")}
    else:
        raise Malformed(f"unknown kind {kind}")
    if r.left() != 0:
        raise Malformed(f"{r.left()} bytes left over after the last field")
    return env


def decode_message(frames: list, max_payload: int = MAX_PAYLOAD) -> list:
    """[tag, batch] (the routing id already removed) to a list of (header dict, payload)."""
    if len(frames) < 1 or frames[0] != TAG:
        raise Malformed("frame 0 is not noon/2")
    if len(frames) != 2:
        raise Malformed(f"{len(frames)} frames, not 2")
    return [(decode_header(h), p) for h, p in split_batch(frames[1], max_payload)]


def enc_directives(directives: list) -> bytes:
    if len(directives) > MAX_DIRECTIVES:
        raise ValueError(f"{len(directives)} directives, at most 16")
    out = bytes([len(directives)])
    for code, *fields in directives:
        if DIRECTIVE_FIELDS.get(code) != len(fields):
            raise ValueError(f"directive {code} with {len(fields)} fields")
        out += bytes([code]) + b"".join(enc_str(f) for f in fields)
    return out


def reply_header(request_id: int, error: str = "", directives: list = ()) -> bytes:
    return bytes([KIND_REPLY]) + struct.pack(">I", request_id) + enc_str(error) + enc_directives(list(directives))


def push_header(session_id: str, directives: list = ()) -> bytes:
    return bytes([KIND_PUSH]) + enc_str(session_id) + enc_directives(list(directives))


def error_json(code: str, detail: str, retryable: bool = False) -> str:
    """The error field of a reply (frames.md section 6), message prefixed with its code."""
    if code not in ERROR_CODES:
        raise ValueError(f"unknown error code {code}")
    return json.dumps({"code": code, "message": f"{code}: {detail}", "retryable": retryable}, separators=(",", ":"))


def encode_batch(entries: list) -> bytes:
    """(header bytes, payload bytes) pairs to one batch frame."""
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise ValueError(f"a batch holds 1..4096 entries, not {len(entries)}")
    out = []
    for header, payload in entries:
        if len(header) > 0xFFFF:
            raise ValueError(f"header of {len(header)} bytes does not fit a u16 length")
        out.append(struct.pack(">H", len(header)) + header + struct.pack(">I", len(payload)) + payload)
    return b"".join(out)

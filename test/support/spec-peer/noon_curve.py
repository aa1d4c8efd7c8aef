"""Role keys of the internal plane (docs/security.md, docs/protocol/frames.md section 10,
docs/protocol/yellow.md section 1), written from the documents alone: the key files, the
registration proof and the ZAP handler (ZMQ RFC 27) that admits a socket's audience.
"""

import hashlib
import hmac
import json

import zmq
from zmq.utils import z85

ZAP_ENDPOINT = "inproc://zeromq.zap.01"
# the audience of each ZAP domain, as roles; None admits every keyring key (frames.md section 10)
INFRASTRUCTURE_ROLES = {"yellow", "broker", "brokerlist", "operator"}


# --- X25519 (RFC 7748), for the proof's shared secret ------------------------------------------

_P = 2**255 - 19
_A24 = 121665


def x25519(scalar: bytes, u: bytes) -> bytes:
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    kn = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3 = 1, 0, x1, 1
    swap = 0
    for t in reversed(range(255)):
        bit = (kn >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a = x2 + z2
        aa = a * a
        b = x2 - z2
        bb = b * b
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a
        cb = c * b
        x3 = (da + cb) ** 2 % _P
        z3 = x1 * (da - cb) ** 2 % _P
        x2 = aa * bb % _P
        z2 = e * (aa + _A24 * e) % _P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, _P - 2, _P) % _P).to_bytes(32, "little")


def public_of(secret_z85: str) -> str:
    return z85.encode(x25519(z85.decode(secret_z85), (9).to_bytes(32, "little"))).decode("ascii")


# --- key files ---------------------------------------------------------------------------------


class Keys:
    """This process's role key pair and the keyring (public key -> roles)."""

    def __init__(self, key_file: str, keyring_file: str):
        with open(key_file, encoding="utf-8") as f:
            mine = json.load(f)
        for field in ("role", "publicKey", "secretKey"):
            if not isinstance(mine.get(field), str):
                raise ValueError(f"key file {key_file}: field {field} is missing or not a string")
        self.role = mine["role"]
        self.public = mine["publicKey"]
        self.secret = mine["secretKey"]
        if public_of(self.secret) != self.public:
            raise ValueError(f"key file {key_file}: publicKey is not the public half of secretKey")
        with open(keyring_file, encoding="utf-8") as f:
            ring = json.load(f)
        if not isinstance(ring.get("keys"), list):
            raise ValueError(f"keyring {keyring_file}: no keys list")
        self.ring = [(k["publicKey"], k["role"]) for k in ring["keys"]]
        if (self.public, self.role) not in self.ring:
            raise ValueError(f"keyring {keyring_file} does not list this {self.role} key")
        yellows = [pub for pub, role in self.ring if role == "yellow"]
        if not yellows:
            raise ValueError(f"keyring {keyring_file} lists no yellow key")
        # during a rotation the keyring lists the old key first and the new one after it; a
        # client pins the newest, the last one listed (docs/security.md section 3)
        self.yellow = yellows[-1]

    def roles_of(self, public_z85: str) -> set:
        return {role for pub, role in self.ring if pub == public_z85}

    def proof(self, instance_id: str, role: str) -> str:
        """The registration proof (yellow.md section 1)."""
        shared = x25519(z85.decode(self.secret), z85.decode(self.yellow))
        text = f"noon-register/1\n{instance_id}\n{role}\n{self.public}".encode("utf-8")
        return hmac.new(shared, text, hashlib.sha256).hexdigest()

    def server(self, sock: zmq.Socket, domain: str) -> None:
        sock.curve_server = True
        sock.curve_secretkey = self.secret.encode("ascii")
        sock.curve_publickey = self.public.encode("ascii")
        sock.zap_domain = domain.encode("ascii")
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)

    def client(self, sock: zmq.Socket, server_key: str) -> None:
        sock.curve_serverkey = server_key.encode("ascii")
        sock.curve_publickey = self.public.encode("ascii")
        sock.curve_secretkey = self.secret.encode("ascii")


def admits(domain: str, roles: set) -> bool:
    if domain == "noon.any":
        return bool(roles)
    if domain == "noon.broker":
        return "broker" in roles
    if domain == "noon.service":
        return bool(roles - INFRASTRUCTURE_ROLES)
    return False


class ZapHandler:
    """A REP socket on inproc://zeromq.zap.01 answering the context's CURVE handshakes."""

    def __init__(self, ctx: zmq.Context, keys: Keys, on_decision):
        self.keys = keys
        self.on_decision = on_decision
        self.sock = ctx.socket(zmq.REP)
        self.sock.linger = 0
        self.sock.bind(ZAP_ENDPOINT)

    def handle(self) -> None:
        frames = self.sock.recv_multipart()
        # version, request id, domain, address, routing id, mechanism, credentials (RFC 27)
        version, request_id, domain, address, _identity, mechanism = frames[:6]
        domain_s = domain.decode("ascii", "replace")
        roles = set()
        if mechanism == b"CURVE" and len(frames) == 7 and len(frames[6]) == 32:
            roles = self.keys.roles_of(z85.encode(frames[6]).decode("ascii"))
        ok = version == b"1.0" and admits(domain_s, roles)
        self.on_decision(domain_s, address.decode("ascii", "replace"), sorted(roles), ok)
        status = b"200" if ok else b"400"
        text = b"OK" if ok else b"key not admitted"
        user = (sorted(roles)[0] if roles else "").encode("ascii")
        self.sock.send_multipart([b"1.0", request_id, status, text, user, b""])

    def close(self) -> None:
        self.sock.close()

"""An Echo service peer in Python, written from docs/protocol/*.md and docs/security.md alone.

It binds a ROUTER (a CURVE server for broker keys unless NOON_INTERNAL_PLAINTEXT=1), registers in
every Yellow of NOON_YELLOW with the proof of its role key, heartbeats every heartbeatMs / 2,
serves `Echo:*` calls routed by brokers, answers errors as error envelopes, pushes
`Events:echoed` to a session through the broker that holds it, and deregisters on SIGTERM.

It reports what it does as JSON lines on stdout (the first is `{"ready":"echo",...}`), so a test
can follow it. SIGUSR1 pauses its heartbeats and SIGUSR2 resumes them (to show expiry).

Environment: NOON_YELLOW (comma-separated tcp://host:port), NOON_HEARTBEAT_MS, NOON_HOST,
NOON_INTERNAL_KEY + NOON_INTERNAL_KEYRING (or NOON_INTERNAL_KEYS, a key directory), or
NOON_INTERNAL_PLAINTEXT=1.
"""

import json
import os
import secrets
import signal
import sys
import time

import zmq
from thrift.protocol.TBinaryProtocol import TBinaryProtocol
from thrift.protocol.TCompactProtocol import TCompactProtocol
from thrift.Thrift import TMessageType, TType
from thrift.transport.TTransport import TMemoryBuffer
from zmq.utils.monitor import recv_monitor_message

import noon_frames as frames
from noon_curve import Keys, ZapHandler
from noon_yellow import Provider

ROLE = "echo"
SERVICE = {
    "thriftService": "Echo",
    "methods": ["echo", "login", "whoami", "notify", "fail", "secret"],
    "publicMethods": ["echo", "login", "fail"],
    "idempotentMethods": ["echo"],
    "internalMethods": ["secret"],
    "stateful": False,
}


def report(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def config() -> dict:
    env = os.environ
    heartbeat = env.get("NOON_HEARTBEAT_MS") or "1000"
    if not heartbeat.isdigit() or not 20 <= int(heartbeat) <= 60000:
        raise SystemExit(f"NOON_HEARTBEAT_MS: expected an integer 20..60000, got {heartbeat!r}")
    yellows = [e.strip() for e in (env.get("NOON_YELLOW") or "tcp://127.0.0.1:7700").split(",") if e.strip()]
    for y in yellows:
        if not y.startswith("tcp://"):
            raise SystemExit(f"NOON_YELLOW: {y!r} is not tcp://host:port")
    keys = None
    if env.get("NOON_INTERNAL_PLAINTEXT") != "1":
        key_dir = env.get("NOON_INTERNAL_KEYS") or ""
        key_file = env.get("NOON_INTERNAL_KEY") or (key_dir and os.path.join(key_dir, f"{ROLE}.key"))
        ring_file = env.get("NOON_INTERNAL_KEYRING") or (key_dir and os.path.join(key_dir, "keyring.json"))
        if not key_file or not ring_file:
            raise SystemExit("set NOON_INTERNAL_KEY and NOON_INTERNAL_KEYRING (or NOON_INTERNAL_KEYS), or NOON_INTERNAL_PLAINTEXT=1")
        keys = Keys(key_file, ring_file)
        if keys.role != ROLE:
            raise SystemExit(f"NOON_INTERNAL_KEY: a {keys.role} key, this peer is role {ROLE}")
    return {"heartbeat_ms": int(heartbeat), "yellows": yellows, "host": env.get("NOON_HOST") or "127.0.0.1", "keys": keys}


# --- Thrift payloads (frames.md section 5) ------------------------------------------------------


def protocol_for(first_byte: int):
    if first_byte == 0x82:
        return TCompactProtocol, "compact"
    if first_byte == 0x80:
        return TBinaryProtocol, "binary"
    raise ValueError(f"payload starts with 0x{first_byte:02x}, neither compact nor binary Thrift")


def read_call(payload: bytes) -> dict:
    """A CALL message: its protocol, name, seqid and string arguments by field id."""
    if not payload:
        raise ValueError("empty payload")
    proto_class, name = protocol_for(payload[0])
    proto = proto_class(TMemoryBuffer(payload))
    method, mtype, seqid = proto.readMessageBegin()
    if mtype != TMessageType.CALL:
        raise ValueError(f"message type {mtype}, not CALL")
    args = {}
    proto.readStructBegin()
    while True:
        _, ftype, fid = proto.readFieldBegin()
        if ftype == TType.STOP:
            break
        if ftype == TType.STRING:
            args[fid] = proto.readString()
        else:
            proto.skip(ftype)
        proto.readFieldEnd()
    proto.readStructEnd()
    proto.readMessageEnd()
    return {"protocol": name, "proto_class": proto_class, "name": method, "seqid": seqid, "args": args}


def write_message(proto_class, name: str, mtype: int, seqid: int, fields: dict) -> bytes:
    """A message whose body is a struct of string fields (a result, or an event's arguments)."""
    buf = TMemoryBuffer()
    proto = proto_class(buf)
    proto.writeMessageBegin(name, mtype, seqid)
    proto.writeStructBegin("body")
    for fid, value in fields.items():
        proto.writeFieldBegin(f"f{fid}", TType.STRING, fid)
        proto.writeString(value)
        proto.writeFieldEnd()
    proto.writeFieldStop()
    proto.writeStructEnd()
    proto.writeMessageEnd()
    return buf.getvalue()


# --- the Echo service -------------------------------------------------------------------------


class Failure(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


class EchoPeer:
    def __init__(self, cfg: dict):
        self.cfg = cfg
        self.keys = cfg["keys"]
        self.instance_id = f"{ROLE}-{os.getpid()}-{secrets.token_hex(4)}"
        self.started_at = int(time.time() * 1000)
        self.ctx = zmq.Context()
        self.zap = ZapHandler(self.ctx, self.keys, self.on_zap) if self.keys else None
        self.router = self.ctx.socket(zmq.ROUTER)
        for opt, value in (
            (zmq.ROUTER_MANDATORY, 1),
            (zmq.ROUTER_HANDOVER, 1),
            (zmq.LINGER, 0),
            (zmq.SNDHWM, 50000),
            (zmq.RCVHWM, 50000),
            (zmq.SNDTIMEO, 0),
            (zmq.MAXMSGSIZE, 64 * 1024 * 1024),
        ):
            self.router.setsockopt(opt, value)
        if self.keys:
            # the router admits broker keys only (frames.md section 10)
            self.keys.server(self.router, "noon.broker")
        self.monitor = self.router.get_monitor_socket(
            zmq.EVENT_ACCEPTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_DISCONNECTED
        )
        self.router.bind(f"tcp://{cfg['host']}:*")
        self.endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.provider = Provider(
            self.ctx, cfg["yellows"], cfg["heartbeat_ms"], self.keys, self.registration, self.load, report
        )
        # the via of each session's most recent call: where its pushes go (frames.md section 5.3)
        self.via_of = {}
        self.busy_ms = 0.0
        self.window_start = time.monotonic()
        self.stopping = False

    def registration(self, draining: bool) -> dict:
        reg = {
            "role": ROLE,
            "instanceId": self.instance_id,
            "host": self.cfg["host"],
            "endpoints": {"router": self.endpoint},
            "version": "1.0.0",
            "pid": os.getpid(),
            "startedAt": self.started_at,
            "load": self.load(),
            "service": SERVICE,
        }
        if draining:
            reg["draining"] = True
        if self.keys:
            reg["curveKey"] = self.keys.public
            reg["proof"] = self.keys.proof(self.instance_id, ROLE)
        return reg

    def load(self) -> dict:
        # calls are served one at a time, so none is in flight between two of them
        elapsed = max(1e-3, (time.monotonic() - self.window_start) * 1000)
        elu = min(1.0, self.busy_ms / elapsed)
        self.busy_ms = 0.0
        self.window_start = time.monotonic()
        return {"inFlight": 0, "elu": round(elu, 3)}

    def on_zap(self, domain: str, address: str, roles: list, ok: bool) -> None:
        report("zap", domain=domain, address=address, roles=roles, admitted=ok)

    # --- serving -------------------------------------------------------------------------------

    def on_router(self) -> None:
        msg = self.router.recv_multipart()
        sender, rest = msg[0], msg[1:]
        try:
            envelopes = frames.decode_message(rest)
        except frames.Malformed as e:
            report("dropped", sender=sender.decode("utf-8", "replace"), reason=str(e))
            return
        replies = []
        for env, payload in envelopes:
            # a service ROUTER handles only requests (frames.md section 3.2)
            if env["kind"] == frames.KIND_REQUEST:
                replies.append(self.serve(sender.decode("utf-8", "replace"), env, payload, len(envelopes)))
        if replies:
            self.send(sender, replies)

    def send(self, routing_id: bytes, entries: list) -> bool:
        try:
            self.router.send_multipart([routing_id, frames.TAG, frames.encode_batch(entries)], zmq.NOBLOCK)
            return True
        except zmq.ZMQError as e:
            # ROUTER_MANDATORY: an unknown routing id fails here instead of being dropped silently
            report("error", where="send", to=routing_id.decode("utf-8", "replace"), message=str(e))
            return False

    def serve(self, sender: str, req: dict, payload: bytes, batch_size: int) -> tuple:
        """One request to one (reply header, reply payload)."""
        if req["sessionId"]:
            self.via_of[req["sessionId"]] = req["via"]
        seen = {k: req[k] for k in ("requestId", "timeoutMs", *frames.REQUEST_FIELDS, "clientRequestId")}
        try:
            call = read_call(payload)
        except Exception as e:  # anything the Thrift reader throws: the payload does not decode
            report("request", sender=sender, batch=batch_size, **seen, error=str(e))
            return frames.reply_header(req["requestId"], frames.error_json("BAD_REQUEST", f"payload: {e}")), b""
        report("request", sender=sender, batch=batch_size, protocol=call["protocol"], seqid=call["seqid"], args=call["args"], **seen)
        service, _, method = req["method"].partition(":")
        directives = []
        try:
            if service != SERVICE["thriftService"] or method not in SERVICE["methods"]:
                raise Failure("UNKNOWN_METHOD", f"{req['method']} is not a method of Echo")
            if method in SERVICE["internalMethods"]:
                # only services may call it, and they do not come through this socket
                raise Failure("FORBIDDEN", f"{req['method']} is internal")
            result = self.handle(method, req, call["args"], directives)
        except Failure as f:
            return frames.reply_header(req["requestId"], frames.error_json(f.code, f.detail)), b""
        fields = {} if result is None else {0: result}
        # the same protocol and seqid as the call; the bare method name (frames.md section 5.1)
        body = write_message(call["proto_class"], method, TMessageType.REPLY, call["seqid"], fields)
        return frames.reply_header(req["requestId"], "", directives), body

    def handle(self, method: str, req: dict, args: dict, directives: list):
        if method == "echo":
            return args.get(1, "")
        if method == "login":
            name = args.get(1, "")
            if not name:
                raise Failure("BAD_REQUEST", "login needs a name")
            directives.append((frames.DIRECTIVE_AUTH, f"sess-{name}", f"u-{name}", name))
            return f"sess-{name}"
        if method == "whoami":
            return f"{req['userId']}|{req['username']}|{req['sessionId']}"
        if method == "notify":
            self.push(req["sessionId"], "echoed", {1: args.get(1, "")})
            return None
        if method == "fail":
            raise Failure("NOT_FOUND", "no such echo")
        raise Failure("UNKNOWN_METHOD", f"Echo:{method} has no handler")

    def push(self, session_id: str, event: str, fields: dict) -> None:
        via = self.via_of.get(session_id)
        if not via:
            report("error", where="push", message=f"no broker known for session {session_id}")
            return
        # compact ONEWAY Events:<event>, seqid 0 (frames.md section 5.3)
        payload = write_message(TCompactProtocol, f"Events:{event}", TMessageType.ONEWAY, 0, fields)
        if self.send(via.encode("utf-8"), [(frames.push_header(session_id), payload)]):
            report("push", sessionId=session_id, via=via, name=f"Events:{event}")

    def on_monitor(self) -> None:
        m = recv_monitor_message(self.monitor)
        names = {
            zmq.EVENT_ACCEPTED: "accepted",
            zmq.EVENT_HANDSHAKE_SUCCEEDED: "handshake",
            zmq.EVENT_HANDSHAKE_FAILED_AUTH: "handshake-refused",
            zmq.EVENT_DISCONNECTED: "disconnected",
        }
        report("connection", what=names.get(m["event"], str(m["event"])))

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.monitor, zmq.POLLIN)
        if self.zap:
            poller.register(self.zap.sock, zmq.POLLIN)
        for s in self.provider.sockets():
            poller.register(s, zmq.POLLIN)
        report("ready", ready=ROLE, instanceId=self.instance_id, router=self.endpoint, curveKey=self.keys.public if self.keys else None)
        # serving starts before the registration: a broker may call as soon as Yellow publishes it
        self.provider.start()
        yellow_socks = set(self.provider.sockets())
        paused = False
        while not self.stopping:
            if self.provider.paused != paused:
                paused = self.provider.paused
                report("heartbeats", paused=paused, lastSentAt=self.provider.last_sent_at)
            # short polls, so a signal's flag is seen promptly
            timeout = min(self.provider.tick(), 50)
            for sock, _ in poller.poll(max(1, timeout)):
                began = time.monotonic()
                if sock is self.router:
                    self.on_router()
                elif sock is self.monitor:
                    self.on_monitor()
                elif self.zap and sock is self.zap.sock:
                    self.zap.handle()
                elif sock in yellow_socks:
                    try:
                        self.provider.on_reply(sock)
                    except ValueError as e:
                        report("error", where="yellow", message=str(e))
                self.busy_ms += (time.monotonic() - began) * 1000
        self.stop()

    def stop(self) -> None:
        # deregister first, so no broker routes here while we close (yellow.md section 7, step 7)
        self.provider.deregister(max(self.cfg["heartbeat_ms"], 1000))
        # answer what already arrived, then close
        while self.router.poll(0, zmq.POLLIN):
            self.on_router()
        self.provider.close()
        self.router.disable_monitor()
        self.monitor.close()
        self.router.close()
        if self.zap:
            self.zap.close()
        self.ctx.term()
        report("stopped")


def main() -> None:
    peer = EchoPeer(config())

    def stop(_sig, _frame):
        peer.stopping = True

    # handlers only set flags: the loop reports (a write from a handler could re-enter stdout)
    def pause(_sig, _frame):
        peer.provider.paused = True

    def resume(_sig, _frame):
        peer.provider.paused = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, pause)
    signal.signal(signal.SIGUSR2, resume)
    peer.run()


if __name__ == "__main__":
    main()

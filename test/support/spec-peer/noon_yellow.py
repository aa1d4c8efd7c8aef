"""A provider's side of the Yellow protocol (docs/protocol/yellow.md), written from the document
alone: one DEALER per Yellow, JSON requests matched by rid, registration until acknowledged,
heartbeats every heartbeatMs / 2 with at most one outstanding, re-registration on `unknown`,
deregistration on stop.
"""

import json
import time

import zmq

TAG = b"noon-yellow/1"


def now_ms() -> float:
    return time.monotonic() * 1000


class YellowLink:
    """One Yellow: its DEALER, the requests waiting for a reply, and this instance's state there."""

    def __init__(self, ctx: zmq.Context, endpoint: str, keys, report):
        self.endpoint = endpoint
        self.report = report
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.sndhwm = self.sock.rcvhwm = 10000
        if keys is not None:
            keys.client(self.sock, keys.yellow)
        self.sock.connect(endpoint)
        self.rid = 0
        # rid -> (op, deadline in monotonic ms)
        self.pending = {}
        # wall-clock ms of the last request sent
        self.sent_at = 0.0
        self.registered = False
        self.draining = False
        self.register_sent_at = None
        self.heartbeat_sent_at = None

    def send(self, op: str, fields: dict) -> int:
        self.rid += 1
        msg = {"op": op, "rid": self.rid, **fields}
        try:
            self.sock.send_multipart([TAG, json.dumps(msg).encode("utf-8")], zmq.NOBLOCK)
        except zmq.Again:
            self.report("error", where="yellow", message=f"{op} to {self.endpoint} could not be queued")
        self.pending[self.rid] = op
        self.sent_at = time.time() * 1000
        return self.rid

    def receive(self) -> dict:
        frames = self.sock.recv_multipart()
        if len(frames) != 2 or frames[0] != TAG:
            raise ValueError(f"a Yellow reply of {len(frames)} frames, tag {frames[0]!r}")
        reply = json.loads(frames[1])
        if not isinstance(reply, dict):
            raise ValueError("a Yellow reply that is not a JSON object")
        return reply


class Provider:
    """Registers `registration()` on every Yellow and keeps it alive there."""

    def __init__(self, ctx, endpoints: list, heartbeat_ms: int, keys, registration, load, report):
        self.links = [YellowLink(ctx, e, keys, report) for e in endpoints]
        self.heartbeat_ms = heartbeat_ms
        self.registration = registration
        self.load = load
        self.report = report
        self.paused = False
        self.next_beat = now_ms()

    @property
    def instance_id(self) -> str:
        return self.registration(False)["instanceId"]

    @property
    def last_sent_at(self) -> float:
        return max(link.sent_at for link in self.links)

    def sockets(self) -> list:
        return [link.sock for link in self.links]

    def link_of(self, sock):
        return next(link for link in self.links if link.sock is sock)

    def register(self, link: YellowLink) -> None:
        link.register_sent_at = now_ms()
        link.send("register", {"reg": self.registration(link.draining)})

    def start(self) -> None:
        for link in self.links:
            self.register(link)
        self.next_beat = now_ms() + self.heartbeat_ms / 2

    def tick(self) -> float:
        """Due work; returns the ms until the next beat."""
        t = now_ms()
        if t < self.next_beat:
            return self.next_beat - t
        self.next_beat = t + self.heartbeat_ms / 2
        if self.paused:
            return self.heartbeat_ms / 2
        for link in self.links:
            # an unacknowledged registration is sent again at every interval (yellow.md section 5.1)
            if not link.registered:
                if link.register_sent_at is None or t - link.register_sent_at >= self.heartbeat_ms:
                    self.register(link)
                continue
            # at most one outstanding heartbeat per Yellow, waited for heartbeatMs
            if link.heartbeat_sent_at is not None and t - link.heartbeat_sent_at < self.heartbeat_ms:
                continue
            link.heartbeat_sent_at = t
            link.send("heartbeat", {"instanceId": self.instance_id, "load": self.load()})
        return self.heartbeat_ms / 2

    def on_reply(self, sock) -> None:
        link = self.link_of(sock)
        reply = link.receive()
        op = link.pending.pop(reply.get("rid"), None)
        if op is None:
            return
        if not reply.get("ok"):
            link.register_sent_at = None if op == "register" else link.register_sent_at
            self.report("yellow-error", yellow=link.endpoint, op=op, error=reply.get("error"))
            return
        if op == "register":
            link.registered = True
            link.heartbeat_sent_at = None
            self.report("registered", yellow=link.endpoint, epoch=reply.get("epoch"))
        elif op == "heartbeat":
            link.heartbeat_sent_at = None
            status = reply.get("status")
            self.report("heartbeat", yellow=link.endpoint, status=status)
            if status == "unknown":
                # Yellow restarted or we expired: register again, now (yellow.md section 5.1)
                link.registered = False
                self.register(link)
            else:
                link.draining = reply.get("draining") is True
        elif op == "deregister":
            self.report("deregistered", yellow=link.endpoint, found=reply.get("found"))

    def deregister(self, deadline_ms: int) -> None:
        """`deregister` on every Yellow, waiting at most deadline_ms for the replies."""
        waiting = {link: link.send("deregister", {"instanceId": self.instance_id}) for link in self.links}
        poller = zmq.Poller()
        for link in self.links:
            poller.register(link.sock, zmq.POLLIN)
        end = now_ms() + deadline_ms
        while waiting and now_ms() < end:
            for sock, _ in poller.poll(max(1, end - now_ms())):
                self.on_reply(sock)
            waiting = {link: rid for link, rid in waiting.items() if rid in link.pending}
        for link in waiting:
            self.report("error", where="yellow", message=f"no deregister reply from {link.endpoint}")

    def close(self) -> None:
        for link in self.links:
            link.sock.close()

"""A stock Thrift client (code from Apache Thrift's compiler, python3-thrift, binary protocol)
against a noon broker: register, play rounds, spend, buy, read the wallet, then read every push
through Events:poll. Prints one JSON object with what each call returned, for the test to assert.
Usage: push_poll_client.py <gen-py dir> <host> <port> <username> <receipt prefix>"""
import json
import sys

sys.path.insert(0, sys.argv[1])

from thrift.protocol import TBinaryProtocol, TMultiplexedProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from noon import Events, Player, Sso  # noqa: E402
from noon.constants import CLIENT_PROTOCOL  # noqa: E402
from noon.ttypes import BuyRequest, Currency, RoundRequest, SpendRequest  # noqa: E402

host, port, username, receipt = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
transport = TTransport.TFramedTransport(TSocket.TSocket(host, port))
proto = TBinaryProtocol.TBinaryProtocol(transport)
transport.open()


def client(module, name):
    return module.Client(TMultiplexedProtocol.TMultiplexedProtocol(proto, name))


sso, player, events = client(Sso, "Sso"), client(Player, "Player"), client(Events, "Events")
out = {"calls": [], "wallets": []}
# a client states the protocol version it was generated from (the broker may require a minimum)
session = sso.register(username, "password-" + username, CLIENT_PROTOCOL)
out["calls"].append(["register", type(session).__name__, session.username])
for i in range(3):
    r = player.playRound(RoundRequest(idempotencyKey="%s-round-%d" % (username, i), stage=1))
    out["calls"].append(["playRound", type(r).__name__, r.softReward])
    if r.softReward > 0:
        out["wallets"].append([r.profile.wallet.soft, r.profile.wallet.hard])
    w = player.spendCurrency(SpendRequest(idempotencyKey="%s-spend-%d" % (username, i), currency=Currency.SOFT, amount=5, reason="test"))
    out["calls"].append(["spendCurrency", type(w).__name__, w.soft])
    out["wallets"].append([w.soft, w.hard])
w = player.buyCurrency(BuyRequest(receiptId=receipt, currency=Currency.HARD, amount=50))
out["calls"].append(["buyCurrency", type(w).__name__, w.hard])
out["wallets"].append([w.soft, w.hard])
w = player.getWallet()
out["calls"].append(["getWallet", type(w).__name__, w.soft])

pushes, after = [], 0
while len(pushes) < len(out["wallets"]):
    batch = events.poll(after, 100, 5000)
    out["calls"].append(["poll", type(batch).__name__, len(batch.events)])
    for e in batch.events:
        p = TBinaryProtocol.TBinaryProtocol(TTransport.TMemoryBuffer(e.message))
        name, _, seqid = p.readMessageBegin()
        args = Events.walletChanged_args()
        args.read(p)
        pushes.append({"seq": e.seq, "name": e.name, "header": name, "seqid": seqid, "wallet": [args.wallet.soft, args.wallet.hard]})
        after = e.seq
    if batch.missedTo:
        out["missed"] = [batch.missedFrom, batch.missedTo]
out["pushes"] = pushes
transport.close()
print(json.dumps(out))

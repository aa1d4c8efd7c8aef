// noon client/service contract. The one source of truth: TypeScript is generated from this file
// (npm run gen) into shared/protocol/gen/, which is never edited nor committed.
// Multiplexed names on the wire: "Service:method" (e.g. "Player:buyCurrency").
// A field or argument marked (noon.sensitive = "true") holds a secret (a password, a bearer token,
// a store receipt): the traffic tap shows it as "[redacted]" (docs/tap.md). Mark every new one.
namespace js noon

// Stable error codes. The broker's own errors reach clients as TApplicationException whose
// message starts with the code name (e.g. "UNAVAILABLE: player has no live instance").
enum ErrorCode {
  BAD_REQUEST = 1,
  UNAUTHENTICATED = 2,
  FORBIDDEN = 3,
  NOT_FOUND = 4,
  ALREADY_EXISTS = 5,
  INVALID_CREDENTIALS = 6,
  INSUFFICIENT_FUNDS = 7,
  CONFLICT = 8,
  RATE_LIMITED = 9,
  BUSY = 10,
  TIMEOUT = 11,
  UNAVAILABLE = 12,
  STATE_LOST = 13,
  UNKNOWN_METHOD = 14,
  TOO_LARGE = 15,
  INTERNAL = 16,
  // the client's protocol version is below the cluster's minimum (NOON_MIN_CLIENT_PROTOCOL): update the app
  UPGRADE_REQUIRED = 17,
}

exception GameError {
  1: ErrorCode code,
  2: string message,
  3: bool retryable,
}

struct Pong {
  1: string instance,
  2: string serviceName,
  3: i64 serverTimeMs,
}

// ---------- Sso ----------
struct Session {
  1: string sessionId,
  2: string userId,
  3: string username,
  // opaque bearer token (>= 128 random bits) for Sso:resume on any broker
  4: string token (noon.sensitive = "true"),
  5: i64 expiresAtMs,
}

// The client protocol version this IDL defines; the SDK states it as `clientProtocol` (field 10 of
// register, login, loginDevice and resume) and the broker refuses a login below the cluster's
// minimum with UPGRADE_REQUIRED. Raised when a release stops serving older clients correctly.
const i32 CLIENT_PROTOCOL = 1

service Sso {
  Session register(1: string username, 2: string password (noon.sensitive = "true"), 10: optional i32 clientProtocol) throws (1: GameError err),
  Session login(1: string username, 2: string password (noon.sensitive = "true"), 10: optional i32 clientProtocol) throws (1: GameError err),
  Session resume(1: string token (noon.sensitive = "true"), 10: optional i32 clientProtocol) throws (1: GameError err),
  void logout() throws (1: GameError err),
  // Guest login (public): the account bound to this device id, created on first use. The id is a
  // bearer secret the device keeps: 16..128 characters of A-Z a-z 0-9 _ -, random-looking.
  Session loginDevice(1: string deviceId (noon.sensitive = "true"), 10: optional i32 clientProtocol) throws (1: GameError err),
  // Logged in as a device account: it becomes a password account with this (unique) username,
  // keeping its userId and this session (the token is replaced); loginDevice no longer opens it.
  Session upgradeDevice(1: string username, 2: string password (noon.sensitive = "true")) throws (1: GameError err),
  Pong ping(),
}

// ---------- Player ----------
enum Currency {
  SOFT = 1,
  HARD = 2,
}

struct Wallet {
  1: i64 soft,
  2: i64 hard,
}

struct Unit {
  1: string unitId,
  2: string kind,
  3: i32 level,
  4: i32 stars,
}

struct Profile {
  1: string userId,
  2: string username,
  3: i32 level,
  4: i64 xp,
  5: Wallet wallet,
  6: i32 rating,
}

// A purchase from a store receipt: applied once per receiptId.
struct BuyRequest {
  1: string receiptId (noon.sensitive = "true"),
  2: Currency currency,
  3: i64 amount,
}

// Every state-changing call carries a client idempotency key: a retry is applied once.
struct SpendRequest {
  1: string idempotencyKey,
  2: Currency currency,
  3: i64 amount,
  4: string reason,
}

struct UnitRequest {
  1: string idempotencyKey,
  2: string unitId,
}

struct RoundRequest {
  1: string idempotencyKey,
  2: i32 stage,
}

struct RoundResult {
  1: bool won,
  2: i64 softReward,
  3: i64 xpGained,
  4: Profile profile,
}

// Service-to-service only (never routed from a client).
struct GrantRequest {
  1: string idempotencyKey,
  2: string userId,
  3: i64 soft,
  4: i64 hard,
  5: string reason,
}

// Service-to-service only (duel): both players' stakes for one duel, taken together or not at all.
struct EscrowRequest {
  1: string duelId,
  // the two players, each paying `amount` soft
  2: list<string> userIds,
  3: i64 amount,
}

// An escrow and where its money went. state: "held" (taken from both), "paid" (the total went to
// `winner`), "refunded" (each got their stake back), "void" (closed before anything was taken:
// a later escrowStakes for this duel is refused), "refused" (someone could not pay: nobody was
// debited; `shortOfFunds` names who).
struct EscrowResult {
  1: string duelId,
  2: string state,
  // per player
  3: i64 amount,
  4: list<string> userIds,
  5: string winner,
  6: list<string> shortOfFunds,
}

service Player {
  Profile getProfile() throws (1: GameError err),
  Wallet getWallet() throws (1: GameError err),
  Wallet buyCurrency(1: BuyRequest req) throws (1: GameError err),
  Wallet spendCurrency(1: SpendRequest req) throws (1: GameError err),
  list<Unit> listUnits() throws (1: GameError err),
  Unit levelUp(1: UnitRequest req) throws (1: GameError err),
  Unit evolve(1: UnitRequest req) throws (1: GameError err),
  RoundResult playRound(1: RoundRequest req) throws (1: GameError err),
  Wallet grant(1: GrantRequest req) throws (1: GameError err),
  // service-to-service (sso on register): creates the player with its starter wallet and units; idempotent
  Profile createProfile(1: string userId, 2: string username) throws (1: GameError err),
  // service-to-service (duel): takes `amount` soft from both players and holds it for the duel, in one
  // transaction with the escrow rows; nobody is debited unless both can pay; idempotent by duelId
  EscrowResult escrowStakes(1: EscrowRequest req) throws (1: GameError err),
  // service-to-service (duel): pays the whole escrow (both stakes) to the winner; idempotent by duelId
  EscrowResult settleEscrow(1: string duelId, 2: string winnerUserId) throws (1: GameError err),
  // service-to-service (duel): gives each player their own stake back (no winner, or the duel was
  // lost); an unknown duel is closed as "void"; idempotent by duelId
  EscrowResult refundEscrow(1: string duelId) throws (1: GameError err),
  Pong ping(),
}

// ---------- Duel (stateful) ----------
enum MatchStatus {
  QUEUED = 1,
  MATCHED = 2,
}

enum DuelAction {
  DRAW = 1,
  SHOOT = 2,
}

enum DuelPhase {
  WAITING = 1,
  ACTIVE = 2,
  FINISHED = 3,
}

struct DuelState {
  1: string duelId,
  2: DuelPhase phase,
  3: list<string> players,
  4: map<string, bool> drawn,
  5: string winner,
  6: string reason,
  7: i64 stake,
  8: i64 deadlineMs,
}

struct MatchTicket {
  1: MatchStatus status,
  2: string duelId,
  3: string opponent,
}

struct DuelActRequest {
  1: string duelId,
  2: DuelAction action,
}

struct DuelRecord {
  1: string duelId,
  2: string winner,
  3: string loser,
  4: string reason,
  5: i64 endedAtMs,
}

// A finished duel as a job: the worker records it for analytics after the result is written
// (services/duel/analytics.ts). The duel id makes the record idempotent.
struct DuelFinished {
  1: string duelId,
  2: list<string> players,
  3: string winner,
  4: string reason,
  5: i64 stake,
  6: i64 endedAtMs,
}

service Duel {
  MatchTicket findMatch(1: i64 stake) throws (1: GameError err),
  void cancelMatch() throws (1: GameError err),
  DuelState getDuel(1: string duelId) throws (1: GameError err),
  DuelState act(1: DuelActRequest req) throws (1: GameError err),
  list<DuelRecord> history(1: i32 limit) throws (1: GameError err),
  Pong ping(),
}

// ---------- Chat (stateful rooms) ----------
struct ChatMessage {
  1: string roomId,
  // total order per room: 1, 2, 3 ... with no gaps
  2: i64 seq,
  3: string userId,
  4: string username,
  5: string text,
  6: i64 sentAtMs,
}

struct RoomSnapshot {
  1: string roomId,
  2: i64 lastSeq,
  3: list<ChatMessage> recent,
}

service Chat {
  RoomSnapshot join(1: string roomId) throws (1: GameError err),
  void leave(1: string roomId) throws (1: GameError err),
  ChatMessage say(1: string roomId, 2: string text) throws (1: GameError err),
  list<ChatMessage> history(1: string roomId, 2: i64 afterSeq, 3: i32 limit) throws (1: GameError err),
  Pong ping(),
}

// ---------- Leaderboard ----------
struct RankEntry {
  1: string userId,
  2: string username,
  3: i64 score,
  4: i64 rank,
}

service Leaderboard {
  list<RankEntry> top(1: string board, 2: i32 count) throws (1: GameError err),
  RankEntry myRank(1: string board) throws (1: GameError err),
  list<RankEntry> around(1: string board, 2: i32 radius) throws (1: GameError err),
  // service-to-service: add delta to a user's score
  RankEntry report(1: string board, 2: string userId, 3: string username, 4: i64 delta, 5: string idempotencyKey) throws (1: GameError err),
  Pong ping(),
}

// ---------- Channels (named pub/sub with filters evaluated at the broker, docs/channels.md) ----------
// One attribute value: exactly one field is set. A filter (`region = 'eu' AND level >= 10`) reads
// text, integer, real and flag attributes as strings, numbers and booleans.
struct ChannelValue {
  1: optional string text,
  2: optional i64 integer,
  3: optional double real,
  4: optional bool flag,
}

struct ChannelMessage {
  1: string channel,
  // total order per channel: 1, 2, 3 ... with no gaps (a subscriber sees only those its filter matches)
  2: i64 seq,
  // what filters read
  3: map<string, ChannelValue> attributes,
  // opaque to noon
  4: binary payload,
  // the publishing user's id, or "service" for a service
  5: string publisher,
  6: i64 sentAtMs,
}

struct ChannelSubscription {
  1: string channel,
  2: string filter,
  // the channel's last seq when the subscription took effect: messages after it are delivered
  3: i64 lastSeq,
}

// A page of a channel's history as one filter sees it.
struct ChannelPage {
  // the matching messages after afterSeq, in seq order
  1: list<ChannelMessage> messages,
  // every message up to this seq was read: continue after it
  2: i64 scannedTo,
  // the channel's last seq
  3: i64 lastSeq,
}

service Channels {
  // this connection gets the channel's messages that match `filter` ('' = all) from now on;
  // a second subscribe to the same channel replaces the filter
  ChannelSubscription subscribe(1: string channel, 2: string filter) throws (1: GameError err),
  void unsubscribe(1: string channel) throws (1: GameError err),
  // a client's publish: allowed where the channel's rule lets users publish
  ChannelMessage publish(1: string channel, 2: map<string, ChannelValue> attributes, 3: binary payload) throws (1: GameError err),
  // service-to-service: a service's publish
  ChannelMessage publishAsService(1: string channel, 2: map<string, ChannelValue> attributes, 3: binary payload) throws (1: GameError err),
  // the messages after afterSeq that match filter, at most limit, reading at most a bounded number of messages
  ChannelPage history(1: string channel, 2: i64 afterSeq, 3: i32 limit, 4: string filter) throws (1: GameError err),
  Pong ping(),
}

// ---------- Pushes: one numbered stream per session (docs/pushes.md) ----------
// Pushes reach a connection as ONEWAY messages (seqid = the push's seq) only after it called
// Events:subscribe; any client can instead read the same stream with Events:poll.

// One push as reply data: `name` is its message name ("Events:walletChanged"), `message` the ONEWAY
// message itself in the protocol of the poll call (its body is the generated <method>_args struct).
struct PushEvent {
  1: i64 seq,
  2: string name,
  3: binary message,
}

struct PushBatch {
  // in seq order, each after the asked afterSeq
  1: list<PushEvent> events,
  // pushes missedFrom..missedTo are gone (retention window): reload state (0, 0 = none missed)
  2: i64 missedFrom,
  3: i64 missedTo,
  // the newest seq of this session's stream: poll with the last seq you have seen
  4: i64 lastSeq,
}

enum StateLostKind {
  INSTANCE_DIED = 1,
  UNBOUND = 2,
}

service Events {
  oneway void duelUpdated(1: DuelState state),
  oneway void matchFound(1: MatchTicket ticket),
  oneway void chatMessage(1: ChatMessage message),
  oneway void walletChanged(1: Wallet wallet),
  oneway void stateLost(1: string serviceName, 2: StateLostKind kind, 3: string detail),
  // the broker cut this member from a room (slow reader); rejoin and fetch history to catch up
  oneway void roomClosed(1: string roomId, 2: string reason),
  oneway void kicked(1: string reason),
  // this broker is draining (shutting down, or drained by an operator): finish the calls in flight,
  // then reconnect to another broker from BrokerList and resume; the session and its state move with it
  oneway void brokerDraining(1: string reason),
  // pushes fromSeq..toSeq can no longer be replayed (retention window): reload state
  oneway void pushesMissed(1: i64 fromSeq, 2: i64 toSeq),
  // Answered by the broker. The pushes after afterSeq (at most max), waiting up to waitMs for one.
  // Every argument may be left out (a hand-written client may send none): afterSeq 0, the
  // broker's largest batch, no wait.
  PushBatch poll(1: optional i64 afterSeq, 2: optional i32 max, 3: optional i32 waitMs) throws (1: GameError err),
  // From now on this connection gets the stream as ONEWAY messages, starting after afterSeq
  // (replayed before the reply); the reply's events list is empty.
  PushBatch subscribe(1: optional i64 afterSeq) throws (1: GameError err),
  // a message of a channel this connection subscribed to, matching its filter
  oneway void channelMessage(1: ChannelMessage message),
  // messages fromSeq..toSeq of the channel did not reach this broker: read them with
  // Channels:history and your filter before the messages after them
  oneway void channelGap(1: string channel, 2: i64 fromSeq, 3: i64 toSeq),
  // the subscription ended (no channels instance is left, or the rules changed): subscribe again
  oneway void channelClosed(1: string channel, 2: string reason),
}

/**
 * Who may publish to and subscribe to a channel, declared per channel pattern
 * (`--channel-rules` / NOON_CHANNEL_RULES, docs/channels.md):
 *
 *   news.* publish=services subscribe=users; inbox.{user} publish=services subscribe=users
 *
 * A pattern is dot-separated segments: a literal, `*` (any one segment) or `{user}` (any one
 * segment for a service; for a user, exactly their user id). The first rule whose pattern fits the
 * channel decides; a channel no rule fits is refused. `users` lets any logged-in user (and every
 * service) act, `services` only services, `none` nobody.
 */
export type Who = 'users' | 'services' | 'none';
export type ChannelAction = 'publish' | 'subscribe';

export interface ChannelRule {
  /** the pattern as written */
  pattern: string;
  segments: readonly string[];
  publish: Who;
  subscribe: Who;
}

/** who asks: a logged-in user (a client's call) or a service (a service-to-service call) */
export type Actor = { kind: 'user'; userId: string } | { kind: 'service' };

export type Decision = { allowed: true; rule: ChannelRule } | { allowed: false; reason: string };

export const USER_SEGMENT = '{user}';
const SEGMENT_RE = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_SEGMENTS = 8;
export const MAX_CHANNEL_LENGTH = 128;
const WHO: readonly Who[] = ['users', 'services', 'none'];

export const DEFAULT_CHANNEL_RULES =
  'news.* publish=services subscribe=users; lobby.* publish=users subscribe=users; inbox.{user} publish=services subscribe=users';

export class ChannelRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelRuleError';
  }
}

/** Why `channel` is not a channel name, or undefined when it is one. */
export function channelNameProblem(channel: string): string | undefined {
  if (channel.length === 0 || channel.length > MAX_CHANNEL_LENGTH)
    return `a channel name is 1..${MAX_CHANNEL_LENGTH} characters`;
  const segments = channel.split('.');
  if (segments.length > MAX_SEGMENTS) return `a channel name has at most ${MAX_SEGMENTS} dot-separated segments`;
  const bad = segments.find((s) => !SEGMENT_RE.test(s));
  if (bad !== undefined)
    return `segment ${JSON.stringify(bad)} of channel ${JSON.stringify(channel)} is not 1..64 characters of [A-Za-z0-9_-]`;
  return undefined;
}

function parseRule(text: string): ChannelRule {
  const [pattern = '', ...settings] = text.split(/\s+/);
  const segments = pattern.split('.');
  if (segments.length > MAX_SEGMENTS)
    throw new ChannelRuleError(`rule "${text}": at most ${MAX_SEGMENTS} segments in a pattern`);
  for (const s of segments)
    if (s !== '*' && s !== USER_SEGMENT && !SEGMENT_RE.test(s))
      throw new ChannelRuleError(
        `rule "${text}": segment ${JSON.stringify(s)} is not a name of [A-Za-z0-9_-], * or ${USER_SEGMENT}`,
      );
  const who: Partial<Record<ChannelAction, Who>> = {};
  for (const setting of settings) {
    const m = /^(publish|subscribe)=(\w+)$/.exec(setting);
    if (!m)
      throw new ChannelRuleError(`rule "${text}": ${JSON.stringify(setting)} is not publish=<who> or subscribe=<who>`);
    const [, action, value] = m as unknown as [string, ChannelAction, string];
    if (!(WHO as readonly string[]).includes(value))
      throw new ChannelRuleError(`rule "${text}": ${action}=${value}: who is one of ${WHO.join(', ')}`);
    if (who[action] !== undefined) throw new ChannelRuleError(`rule "${text}": ${action} is given twice`);
    who[action] = value as Who;
  }
  for (const action of ['publish', 'subscribe'] as const)
    if (who[action] === undefined) throw new ChannelRuleError(`rule "${text}": says nothing about ${action}=<who>`);
  return { pattern, segments, publish: who.publish as Who, subscribe: who.subscribe as Who };
}

/** The rules, in order, from their text: `;`-separated rules, blank ones ignored. */
export function parseChannelRules(text: string): ChannelRule[] {
  return text
    .split(';')
    .map((r) => r.trim())
    .filter((r) => r.length > 0)
    .map(parseRule);
}

/** Whether the pattern's shape fits the channel (`{user}` fits any segment here). */
function fits(rule: ChannelRule, segments: readonly string[]): boolean {
  if (rule.segments.length !== segments.length) return false;
  return rule.segments.every((p, i) => p === '*' || p === USER_SEGMENT || p === segments[i]);
}

/** May `actor` do `action` on `channel` (a valid channel name)? A refusal says why. */
export function decide(rules: readonly ChannelRule[], channel: string, action: ChannelAction, actor: Actor): Decision {
  const segments = channel.split('.');
  const rule = rules.find((r) => fits(r, segments));
  if (!rule) return { allowed: false, reason: `no channel rule matches ${channel}` };
  const who = rule[action];
  if (who === 'none') return { allowed: false, reason: `nobody may ${action} on ${channel} (rule ${rule.pattern})` };
  if (actor.kind === 'service') return { allowed: true, rule };
  if (who === 'services')
    return { allowed: false, reason: `only services may ${action} on ${channel} (rule ${rule.pattern})` };
  const owner = rule.segments.findIndex((p, i) => p === USER_SEGMENT && segments[i] !== actor.userId);
  if (owner >= 0)
    return {
      allowed: false,
      reason: `only user ${segments[owner] ?? ''} may ${action} on ${channel} (rule ${rule.pattern})`,
    };
  return { allowed: true, rule };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChannelRuleError,
  DEFAULT_CHANNEL_RULES,
  channelNameProblem,
  decide,
  parseChannelRules,
  type Actor,
} from '../../shared/channels';
import { loadConfig } from '../../shared/config';

const rules = parseChannelRules(
  'news.* publish=services subscribe=users; inbox.{user} publish=services subscribe=users; ' +
    'team.{user}.* publish=users subscribe=users; lobby.* publish=users subscribe=users; secret.* publish=none subscribe=none',
);
const ann: Actor = { kind: 'user', userId: 'ann' };
const service: Actor = { kind: 'service' };

const allowed = (channel: string, action: 'publish' | 'subscribe', actor: Actor): boolean =>
  decide(rules, channel, action, actor).allowed;
const reason = (channel: string, action: 'publish' | 'subscribe', actor: Actor): string => {
  const d = decide(rules, channel, action, actor);
  assert.equal(d.allowed, false, `${action} ${channel} should be refused`);
  return d.allowed ? '' : d.reason;
};

test('news.*: any logged-in user subscribes, only services publish', () => {
  assert.ok(allowed('news.eu', 'subscribe', ann));
  assert.ok(allowed('news.eu', 'publish', service));
  assert.equal(reason('news.eu', 'publish', ann), 'only services may publish on news.eu (rule news.*)');
});

test('* is exactly one segment: news and news.eu.x fit no rule', () => {
  assert.equal(reason('news', 'subscribe', ann), 'no channel rule matches news');
  assert.equal(reason('news.eu.x', 'subscribe', ann), 'no channel rule matches news.eu.x');
});

test('{user} is the caller for a user, any segment for a service', () => {
  assert.ok(allowed('inbox.ann', 'subscribe', ann));
  assert.equal(reason('inbox.bob', 'subscribe', ann), 'only user bob may subscribe on inbox.bob (rule inbox.{user})');
  assert.ok(allowed('inbox.bob', 'publish', service));
  assert.ok(allowed('team.ann.chat', 'publish', ann));
  assert.ok(!allowed('team.bob.chat', 'publish', ann));
});

test('none refuses services too; the first fitting rule decides', () => {
  assert.equal(reason('secret.x', 'publish', service), 'nobody may publish on secret.x (rule secret.*)');
  const ordered = parseChannelRules('a.b publish=none subscribe=none; a.* publish=users subscribe=users');
  assert.equal(decide(ordered, 'a.b', 'publish', ann).allowed, false);
  assert.equal(decide(ordered, 'a.c', 'publish', ann).allowed, true);
});

test('a bad rule is refused naming the rule and what is wrong', () => {
  const bad: [string, RegExp][] = [
    ['news.* publish=services', /rule "news.\* publish=services": says nothing about subscribe=<who>/],
    ['news.* publish=everyone subscribe=users', /publish=everyone: who is one of users, services, none/],
    ['news.* publish=users publish=users subscribe=users', /publish is given twice/],
    ['news.* sub=users', /"sub=users" is not publish=<who> or subscribe=<who>/],
    ['news.a b publish=users subscribe=users', /"b" is not publish=<who>/],
    ['ne ws publish=users subscribe=users', /"ws" is not publish/],
    ['news.$ publish=users subscribe=users', /segment "\$" is not a name/],
  ];
  for (const [text, want] of bad) assert.throws(() => parseChannelRules(text), want, text);
  assert.throws(() => parseChannelRules('x publish=users'), ChannelRuleError);
  assert.deepEqual(parseChannelRules(' ; ;'), []);
});

test('the default rules parse, and the config refuses bad rules naming the option', () => {
  assert.equal(parseChannelRules(DEFAULT_CHANNEL_RULES).length, 3);
  assert.equal(loadConfig({}, {}).channelRules, DEFAULT_CHANNEL_RULES);
  assert.throws(
    () => loadConfig({}, { NOON_CHANNEL_RULES: 'news.* publish=all subscribe=users' }),
    /--channel-rules \/ NOON_CHANNEL_RULES.*who is one of/,
  );
});

test('channel names: dot-separated segments of [A-Za-z0-9_-], bounded', () => {
  assert.equal(channelNameProblem('news.eu'), undefined);
  assert.match(channelNameProblem('') ?? '', /1\.\.128 characters/);
  assert.match(channelNameProblem('news..eu') ?? '', /segment "" of channel "news..eu"/);
  assert.match(channelNameProblem('news.e u') ?? '', /segment "e u"/);
  assert.match(channelNameProblem('a.b.c.d.e.f.g.h.i') ?? '', /at most 8/);
  assert.match(channelNameProblem('x'.repeat(129)) ?? '', /1\.\.128/);
});

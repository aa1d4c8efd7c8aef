/**
 * The files `noon init` writes: a studio project depending on noon, with its own IDL, one
 * service (a handler that calls a built-in service and pushes to the caller, a migration), its
 * test, a load-test scenario and a README. Kept as code so the compiled package needs no assets.
 */

export interface ScaffoldOptions {
  name: string;
  /** the npm dependency spec of noon: a version range, or a file: path to a tarball */
  noon: string;
  /** thrift's version range (the generated code imports it) */
  thrift: string;
  /** typescript's and @types/node's version ranges (\`npm run build\` compiles for production) */
  typescript: string;
  nodeTypes: string;
}

export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  return {
    'package.json': `${JSON.stringify(
      {
        name: o.name,
        version: '0.1.0',
        private: true,
        scripts: {
          gen: 'noon gen',
          // production: compiled JavaScript (dist/), run with no TypeScript transpiler
          build: 'noon gen && tsc -p .',
          up: 'noon gen && noon up',
          test: 'noon gen && node --import tsx --test test/*.test.ts',
          greet: 'node --import tsx scripts/greet.ts',
          loadtest: 'noon loadtest --scenario loadtest/scenario.json',
        },
        dependencies: { noon: o.noon, thrift: o.thrift },
        devDependencies: { typescript: o.typescript, '@types/node': o.nodeTypes },
      },
      null,
      2,
    )}\n`,
    'noon.config.json': `${JSON.stringify(
      { name: o.name, idl: 'idl', gen: 'src/gen', services: ['src/services/greeter.ts'], builtins: { duel: true } },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          esModuleInterop: true,
          skipLibCheck: true,
          outDir: 'dist',
        },
        include: ['src', 'test'],
      },
      null,
      2,
    )}\n`,
    '.gitignore': 'node_modules/\ndist/\nsrc/gen/\n.noon/\n',
    'idl/game.thrift': GAME_THRIFT,
    'src/services/greeter.ts': GREETER_TS,
    'test/greeter.test.ts': GREETER_TEST,
    'scripts/greet.ts': GREET_SCRIPT,
    'loadtest/scenario.json': `${JSON.stringify(SCENARIO, null, 2)}\n`,
    'README.md': readme(o.name),
  };
}

const GAME_THRIFT = `// ${'The'} game's own contract. It may use noon's shared structs: include "noon.thrift".
// After a change: npm run gen (generated TypeScript goes to src/gen, never edited by hand).
namespace js game
include "noon.thrift"

struct Greeting {
  1: string text,
  /** soft currency granted for the greeting */
  2: i64 bonus,
}

service Greeter {
  noon.Pong ping(),
  /** Greets the caller once per idempotency key and grants a bonus through the player service. */
  Greeting greet(1: string name, 2: string idempotencyKey) throws (1: noon.GameError err),
}

/** Pushes of this game: oneway methods, delivered to the session's connection. */
service GreeterEvents {
  oneway void greeted(1: Greeting greeting),
}
`;

const GREETER_TS = `/**
 * An example service: \`Greeter:greet\` records the greeting (its migration's table), grants a
 * bonus through noon's built-in player service (idempotent by key), and pushes
 * \`GreeterEvents:greeted\` to the caller. Listed in noon.config.json, so \`noon up\` runs it.
 */
import Int64 from 'node-int64';
import { protocol, pushMessage, type ServiceModule } from 'noon';
import { Greeter, GreeterEvents, Greeting } from '../gen/game';
import { ErrorCode, GameError, Pong } from '../gen/noon';

const BONUS = 10;

export const greeterModule: ServiceModule<Greeter.IHandler> = {
  role: 'greeter',
  migrations: [
    {
      id: '001_greetings',
      sql: \`CREATE TABLE IF NOT EXISTS greeter_greetings (
        idempotency_key text PRIMARY KEY,
        user_id text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )\`,
    },
  ],
  build(_env, { db }) {
    return {
      role: 'greeter',
      thriftService: 'Greeter',
      processor: Greeter.Processor,
      stateful: false,
      publicMethods: ['ping'],
      // Keyed by the client's idempotency key, so the broker may retry it.
      idempotentMethods: ['ping', 'greet'],
      handlers: {
        ping: (ctx) => new Pong({ instance: ctx.instanceId, serviceName: 'Greeter', serverTimeMs: Date.now() }),
        async greet(name, idempotencyKey, ctx) {
          if (!name || name.length > 32) throw new GameError({ code: ErrorCode.BAD_REQUEST, message: 'name must be 1..32 characters' });
          if (!idempotencyKey) throw new GameError({ code: ErrorCode.BAD_REQUEST, message: 'idempotencyKey is required' });
          await db.query(
            'INSERT INTO greeter_greetings (idempotency_key, user_id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [\`\${ctx.userId}:\${idempotencyKey}\`, ctx.userId, name],
          );
          await ctx.services.player.grant(
            new protocol.GrantRequest({
              idempotencyKey: \`greeter:\${ctx.userId}:\${idempotencyKey}\`,
              userId: ctx.userId,
              soft: new Int64(BONUS),
              hard: new Int64(0),
              reason: 'greeting bonus',
            }),
          );
          const greeting = new Greeting({ text: \`Hello, \${name}!\`, bonus: new Int64(BONUS) });
          ctx.push(pushMessage('GreeterEvents', 'greeted', new GreeterEvents.GreetedArgs({ greeting })));
          return greeting;
        },
      },
    };
  },
};

export default greeterModule;
`;

const GREETER_TEST = `/** The greeter through a real cluster: BrokerList, broker, ZeroMQ, the player service, PGlite. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestCluster } from 'noon/testing';
import { Greeter, GreeterEvents } from '../src/gen/game';

test('greet grants a bonus once per key and pushes to the caller', async () => {
  const cluster = await startTestCluster({ project: join(__dirname, '..') });
  try {
    const client = await cluster.client();
    await client.sso.register('ann', 'a-long-password');
    const before = Number(String((await client.player.getWallet()).soft));
    const pushed = new Promise<string>((resolve) =>
      client.onPushes('GreeterEvents', GreeterEvents.Processor, { greeted: (g) => resolve(String(g.text)) }),
    );
    const greeter = client.service(Greeter.Client, 'Greeter');
    assert.equal((await greeter.greet('Ann', 'k1')).text, 'Hello, Ann!');
    await greeter.greet('Ann', 'k1'); // a retry: no second bonus
    assert.equal(await pushed, 'Hello, Ann!');
    assert.equal(Number(String((await client.player.getWallet()).soft)), before + 10);
  } finally {
    await cluster.stop();
  }
});
`;

const GREET_SCRIPT = `/**
 * Calls Greeter:greet on a running cluster (npm run up) as a new player: BrokerList, broker,
 * the greeter service, the player service, and the push back. npm run greet [-- <BrokerList URL>]
 */
import { randomBytes } from 'node:crypto';
import { NoonClient } from 'noon/client';
import { Greeter, GreeterEvents } from '../src/gen/game';

async function main(): Promise<void> {
  // The BrokerList of \`npm run up\` in this shell: the port it was given, or its default.
  const url = process.argv[2] ?? \`http://127.0.0.1:\${process.env.NOON_BROKERLIST_PORT ?? 7780}\`;
  const client = await NoonClient.viaBrokerList(url);
  const pushed = new Promise<string>((resolve) =>
    client.onPushes('GreeterEvents', GreeterEvents.Processor, { greeted: (g) => resolve(String(g.text)) }),
  );
  const name = \`player-\${randomBytes(3).toString('hex')}\`;
  await client.sso.register(name, 'a-long-password');
  const greeting = await client.service(Greeter.Client, 'Greeter').greet(name, 'first-greeting');
  console.log(\`reply: \${greeting.text} (+\${String(greeting.bonus)} soft)\`);
  console.log(\`push:  \${await pushed}\`);
  console.log(\`wallet: \${String((await client.player.getWallet()).soft)} soft\`);
  client.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
`;

const SCENARIO = {
  name: 'starter',
  players: 20,
  rampUpSeconds: 2,
  durationSeconds: 10,
  thinkTimeMs: { min: 200, max: 800 },
  mix: { playRound: 30, getProfile: 20, chatSay: 10, leaderboardTop: 5 },
  accounts: { mode: 'register', prefix: 'lt', password: 'loadtest-pw-123' },
  chat: { rooms: 4 },
  duel: { stake: 0, matchWaitMs: 2000 },
  leaderboard: { board: 'duels', count: 10 },
  callTimeoutMs: 5000,
};

function readme(name: string): string {
  return `# ${name}

A game backend on noon (its service API, SDK and \`noon\` command come from the \`noon\`
dependency in package.json).

\`\`\`sh
npm install          # noon, thrift
npm run up           # noon gen (src/gen from idl/), then the whole cluster on this machine
npm run greet        # in another terminal: a new player calls Greeter:greet and gets the push
npm test             # the greeter through a real cluster (PGlite, no servers needed)
\`\`\`

- \`idl/game.thrift\`: the game's own services and pushes; it may \`include "noon.thrift"\`.
- \`src/services/greeter.ts\`: a service module (handlers, a migration), listed in \`noon.config.json\`.
- \`noon.config.json\`: which built-in services run (\`builtins\`: sso, player, duel, chat,
  leaderboard; set one \`false\` to switch it off) and the project's own \`services\` (a module
  with a built-in's role replaces that built-in).
- \`noon start <role>\` runs one role (\`yellow\`, \`broker\`, \`brokerlist\`, \`greeter\`, …) per process;
  \`npm run loadtest\` drives simulated players against a running cluster.

Production: \`npm run build\` (noon gen, then tsc into \`dist/\`) and point \`services\` at the compiled
\`.js\` files (\`dist/src/services/greeter.js\`); each role then runs with plain node, \`noon start <role>\`.
`;
}

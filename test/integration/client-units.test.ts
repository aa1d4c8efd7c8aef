/** SDK pieces on their own: frame reading, BrokerList validation and fetching, transport limits. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as net from 'node:net';
import { after, describe, test } from 'node:test';
import { fetchBrokers, parseBrokerList, pickBroker } from '../../client/brokerlist';
import { ClientError } from '../../client/errors';
import { connectTcp, FrameReader, parseHostPort } from '../../client/transports';

function frames(reader: FrameReader, chunks: Buffer[]): string[] {
  const out: string[] = [];
  for (const c of chunks) reader.push(c, (f) => out.push(f.toString()));
  return out;
}

function framed(s: string): Buffer {
  const b = Buffer.alloc(4 + s.length);
  b.writeInt32BE(s.length);
  b.write(s, 4);
  return b;
}

describe('FrameReader', () => {
  test('reassembles frames split and merged across chunks', () => {
    const all = Buffer.concat([framed('hello'), framed('w'), framed('orld!')]);
    const chunks = [all.subarray(0, 2), all.subarray(2, 7), all.subarray(7, 13), all.subarray(13)];
    assert.deepEqual(frames(new FrameReader(64), chunks), ['hello', 'w', 'orld!']);
  });

  test('rejects a length of 0, a negative length, or one above the limit before buffering it', () => {
    for (const len of [0, -1, 65]) {
      const head = Buffer.alloc(4);
      head.writeInt32BE(len);
      assert.throws(
        () => frames(new FrameReader(64), [head]),
        (e: unknown) => e instanceof ClientError && e.code === 'PROTOCOL',
      );
    }
  });
});

describe('BrokerList parsing', () => {
  test('accepts the original shape, with or without the brokers array', () => {
    assert.deepEqual(
      parseBrokerList('u', { version: '0.1.0', brokerList: { '10.0.0.7:7800': 0.067, '10.0.0.8:7800': 0.0418 } }),
      [
        { tcp: '10.0.0.7:7800', load: 0.067 },
        { tcp: '10.0.0.8:7800', load: 0.0418 },
      ],
    );
    const full = parseBrokerList('u', {
      version: '0.1.0',
      brokerList: { 'h:1': 0.5 },
      brokers: [
        { instanceId: 'b1', tcp: 'h:1', ws: 'ws://h:2', load: 0.5 },
        { instanceId: 'b2', ws: 'ws://h:4', load: 0.1 },
      ],
    });
    assert.deepEqual(full, [
      { tcp: 'h:1', ws: 'ws://h:2', instanceId: 'b1', load: 0.5 },
      { ws: 'ws://h:4', instanceId: 'b2', load: 0.1 },
    ]);
    assert.equal(pickBroker(full, 'tcp')?.instanceId, 'b1');
    assert.equal(pickBroker(full, 'ws')?.instanceId, 'b2');
  });

  test('garbage is a clear BROKERLIST error naming the problem', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[], /not a JSON object/],
      [{ brokerList: {} }, /"version"/],
      [{ version: '1', brokerList: 'x' }, /"brokerList" object/],
      [{ version: '1', brokerList: { 'no-port': 0.1 } }, /not host:port/],
      [{ version: '1', brokerList: { 'h:1': 2 } }, /0\.\.1/],
      [{ version: '1', brokerList: { 'h:1': '0.1' } }, /0\.\.1/],
      [{ version: '1', brokerList: {}, brokers: {} }, /not an array/],
      [{ version: '1', brokerList: {}, brokers: [{ ws: 'http://x', load: 0 }] }, /brokers\[0\]\.ws/],
    ];
    for (const [body, re] of cases) {
      assert.throws(
        () => parseBrokerList('http://x/brokers', body),
        (e: unknown) => e instanceof ClientError && e.code === 'BROKERLIST' && re.test(e.message),
        JSON.stringify(body),
      );
    }
  });
});

describe('fetchBrokers over HTTP', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/brokers`;
  }

  test('non-JSON, HTTP errors, oversized and silent answers are BROKERLIST errors', async () => {
    const notJson = await serve((_q, r) => r.end('<html>captive portal</html>'));
    await assert.rejects(fetchBrokers(notJson), /BROKERLIST: .*not JSON/);
    const status = await serve((_q, r) => r.writeHead(503).end());
    await assert.rejects(fetchBrokers(status), /BROKERLIST: .*HTTP 503/);
    const huge = await serve((_q, r) => r.end(`{"version":"${'x'.repeat(4096)}"}`));
    await assert.rejects(fetchBrokers(huge, { maxBytes: 1024 }), /larger than 1024 bytes/);
    const silent = await serve(() => undefined);
    await assert.rejects(fetchBrokers(silent, { timeoutMs: 200 }), /no answer within 200 ms/);
    await assert.rejects(fetchBrokers('http://127.0.0.1:1/brokers'), /BROKERLIST: .*request failed/);
  });
});

describe('TCP transport limits', () => {
  test('a reply frame above maxFrame drops the connection', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      const head = Buffer.alloc(4);
      head.writeInt32BE(5 << 20);
      s.write(head);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const closed = new Promise<string>((resolve) => {
        void connectTcp(
          `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
          { message: () => assert.fail('no message expected'), close: resolve },
          { maxFrame: 4 << 20 },
        );
      });
      assert.match(await closed, /outside 1\.\.4194304/);
    } finally {
      server.close();
    }
  });

  test('parseHostPort', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:7800'), { host: '127.0.0.1', port: 7800 });
    assert.deepEqual(parseHostPort('[::1]:7800'), { host: '::1', port: 7800 });
    assert.throws(() => parseHostPort('127.0.0.1'), /not host:port/);
    assert.throws(() => parseHostPort('h:99999'), /not host:port/);
  });
});

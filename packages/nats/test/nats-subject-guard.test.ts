/**
 * Subject squatting on a bus WITHOUT permissions (docs/security.md has the permissions that stop
 * it outright; test/e2e/nats-permissions.test.ts runs them): whoever serves a node's subjects
 * first, a node refuses to start next to it and says who it is; one that appears later makes
 * the node refuse to answer until it is gone. Plus the logs a stranger can trigger, rate-limited.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connect, headers, type NatsConnection } from 'nats';
import { BadRequestError, ROUTE_MESSAGE, TransportError, type Logger } from '@ringkv/core';
import { describeDistributed, startNatsServer, type NatsServer } from '@ringkv/test-utils';
import {
  connectNatsTransport,
  decodeReply,
  decodeRequest,
  encodeRequest,
  encodeResult,
  PROBE_TYPE,
  routeSubjectForNode,
  subjectForNode,
  type NatsTransport,
} from '../src/index.js';

const FOO = 'foo@computer-name';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (m: string) => lines.push(`[${level}] ${m}`);
  return { lines, debug: () => {}, info: log('info'), warn: log('warn'), error: log('error') };
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!().catch(() => {});
});

describeDistributed('NATS transport: one process per node subject', () => {
  let nats: NatsServer;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  const transport = async (
    options: { subjectCheckIntervalMs?: number; logger?: Logger; exclusive?: boolean } = {},
  ): Promise<NatsTransport> => {
    const t = await connectNatsTransport({ url: nats.url, name: FOO, ...options });
    cleanup.push(() => t.close());
    return t;
  };
  const raw = async (): Promise<NatsConnection> => {
    const nc = await connect({ servers: nats.url });
    cleanup.push(() => nc.close());
    return nc;
  };
  const call = (t: NatsTransport, bucket = 'x') =>
    t.request(FOO, { type: ROUTE_MESSAGE, body: { bucket, mod: 'Kernel', fun: 'node', args: [], path: [] } }, { timeoutMs: 3000 });

  it('refuses to serve a node another ringkv process serves, naming its pid, host and instance', async () => {
    const first = await transport();
    await first.listen(FOO, () => 'first');
    const second = await transport();
    const err = await second.listen(FOO, () => 'second').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^node ${FOO} is already served on this NATS cluster, on ringkv\\.node\\.foo~40computer-name by another ringkv process \\(node ${FOO}, pid ${process.pid} on host \\S+, instance \\w+, serving since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); on ringkv\\.route\\.foo~40computer-name by another ringkv process .*; stop that process first$`,
      ),
    );
    // The first one keeps serving, alone.
    expect(await call(second)).toBe('first');
  });

  it('refuses to start next to a squatter that answers with anything else, or says nothing', async () => {
    const squatter = await raw();
    squatter.subscribe(subjectForNode(FOO), { callback: (_e, m) => m.respond(new TextEncoder().encode('I am foo')) });
    squatter.subscribe(routeSubjectForNode(FOO), { callback: () => {} });
    await squatter.flush();
    const started = Date.now();
    const err = await (await transport()).listen(FOO, () => 'real').catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `node ${FOO} is already served on this NATS cluster, ` +
        'on ringkv.node.foo~40computer-name by a process that is not a ringkv node (it answered a probe with 8 bytes that are not a ringkv probe answer); ' +
        'on ringkv.route.foo~40computer-name by a subscriber that did not answer a probe within 2000 ms (not a ringkv node, or a stuck one); stop that process first',
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('catches a squatter that forges "no responders" to look absent', async () => {
    const squatter = await raw();
    const forged = headers(503, 'No Responders');
    for (const s of [subjectForNode(FOO), routeSubjectForNode(FOO)]) {
      squatter.subscribe(s, { callback: (_e, m) => m.respond(new Uint8Array(0), { headers: forged }) });
    }
    await squatter.flush();
    const err = await (await transport()).listen(FOO, () => 'real').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /already served on this NATS cluster, on ringkv\.node\.foo~40computer-name by a process that forges "no responders" statuses/,
    );
  });

  it('refuses to answer while a squatter that came later is there, logs it, and answers again once it left', async () => {
    const logger = recordingLogger();
    const node = await transport({ subjectCheckIntervalMs: 150, logger });
    await node.listen(FOO, () => 'real');
    const client = await transport();
    expect(await call(client)).toBe('real');

    const squatter = await raw();
    // A squatter that knows the probe: answers it as a node would (another instance), and
    // stays silent on calls, so every answer the client gets comes from the real node.
    const sub = squatter.subscribe(subjectForNode(FOO), {
      callback: (_e, m) => {
        if (decodeRequest(m.data).type !== PROBE_TYPE) return;
        m.respond(encodeResult({ node: FOO, instance: 'squatter', pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z' }));
      },
    });
    await squatter.flush();
    const deadline = Date.now() + 10_000;
    let refusal: unknown;
    while (Date.now() < deadline) {
      refusal = await call(client).catch((e: unknown) => e);
      if (refusal instanceof Error) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(refusal).toBeInstanceOf(TransportError);
    expect((refusal as Error).message).toBe(
      `node ${FOO} refuses to answer while another process also serves it (on ringkv.node.foo~40computer-name by another ringkv process (node ${FOO}, pid 1 on host elsewhere, instance squatter, serving since 2026-01-01T00:00:00.000Z))`,
    );
    expect(logger.lines.join('\n')).toMatch(
      /\[error\] node foo@computer-name is also served by another process, on ringkv\.node\.foo~40computer-name/,
    );

    sub.unsubscribe();
    await squatter.flush();
    let answer: unknown;
    while (Date.now() < deadline + 10_000) {
      answer = await call(client).catch((e: unknown) => e);
      if (answer === 'real') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(answer).toBe('real');
    expect(logger.lines.join('\n')).toMatch(/node foo@computer-name is the only process serving its subjects again; answering calls/);
  });

  it('serves only routing calls on the route subject', async () => {
    const node = await transport();
    await node.listen(FOO, (msg) => msg.type);
    const nc = await raw();
    const reply = await nc.request(routeSubjectForNode(FOO), encodeRequest({ type: 'ring.apply', body: {} }), { timeout: 3000 });
    const decoded = decodeReply(reply.data, FOO);
    expect(decoded.ok).toBe(false);
    const error = (decoded as { error: Error }).error;
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toBe(
      'only routing calls are served on ringkv.route.foo~40computer-name; other messages go to ringkv.node.foo~40computer-name',
    );
    // The same message on the node subject reaches the handler.
    const ok = decodeReply(
      (await nc.request(subjectForNode(FOO), encodeRequest({ type: 'ring.apply', body: {} }), { timeout: 3000 })).data,
      FOO,
    );
    expect(ok).toEqual({ ok: true, value: 'ring.apply' });
  });

  it('logs 50,000 messages without a reply subject and 2,000 malformed ones in a handful of lines, and keeps serving', async () => {
    const logger = recordingLogger();
    const node = await transport({ logger });
    await node.listen(FOO, () => 'real');
    const nc = await raw();
    // Connected before the flood: a loaded machine may not finish a handshake behind it.
    const client = await transport();
    for (let i = 0; i < 50_000; i++) nc.publish(subjectForNode(FOO), new Uint8Array([i & 255]));
    for (let i = 0; i < 2_000; i++) nc.publish(subjectForNode(FOO), new TextEncoder().encode('junk'), { reply: `_INBOX.nobody.${i}` });
    await nc.flush();
    // The node has worked through the flood once it answers a call sent after it.
    expect(await call(client)).toBe('real');
    const text = logger.lines.join('\n');
    expect(logger.lines.filter((l) => l.includes('without a reply subject')).length).toBeLessThanOrEqual(6);
    expect(logger.lines.filter((l) => l.includes('malformed request')).length).toBeLessThanOrEqual(6);
    expect(text.length).toBeLessThan(4000);
    expect(text).toContain(`node ${FOO} ignored a message without a reply subject on ringkv.node.foo~40computer-name`);
  });
});

/**
 * The HTTP API against a range-table cluster and a ring cluster (one test body, both setups),
 * over real HTTP on loopback, on a node that stores nothing: every endpoint, binary bucket names
 * and keys, content types, and the 400/404/413/503 answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePathSegment } from '../src/index.js';
import { HANG_BYTE, RANGE_NODES, RING_NODES, startHttpCluster, type HttpCluster, type Kind } from './cluster-fixture.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const BODY_LIMIT = 64 * 1024;

const bytes = (...b: number[]) => new Uint8Array(b);
const path = (bucket: Uint8Array | string, key?: Uint8Array | string) => {
  const seg = (x: Uint8Array | string) => encodePathSegment(typeof x === 'string' ? enc.encode(x) : x);
  return key === undefined ? `/buckets/${seg(bucket)}/keys` : `/buckets/${seg(bucket)}/keys/${seg(key)}`;
};

for (const kind of ['range', 'ring'] as Kind[]) {
  describe(`HTTP API on a ${kind} cluster`, () => {
    let c: HttpCluster;
    const req = (p: string, init: RequestInit = {}) => fetch(`${c.base}${p}`, init);
    const put = (p: string, body: Uint8Array | string, contentType?: string, headers: Record<string, string> = {}) =>
      req(p, { method: 'PUT', body: typeof body === 'string' ? enc.encode(body) : body, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers } });

    beforeAll(async () => {
      c = await startHttpCluster(kind, { bodyLimit: BODY_LIMIT });
    });
    afterAll(async () => {
      await c?.stop();
    });

    it('answers /ping and /stats', async () => {
      const ping = await req('/ping');
      expect(ping.status).toBe(200);
      expect(await ping.text()).toBe('OK');
      const stats = (await (await req('/stats')).json()) as Record<string, unknown>;
      expect(stats.nodename).toBe('web@http');
      expect(stats.strategy).toBe(kind);
      const members = kind === 'range' ? [...RANGE_NODES, 'hang@http'] : RING_NODES;
      expect(stats.ring_members).toEqual(expect.arrayContaining(members));
    });

    it('creates the bucket on PUT, and GET returns the value with its content type', async () => {
      const r = await put(path('fruit', 'apple'), 'red', 'text/plain; charset=utf-8');
      expect(r.status).toBe(204);
      const got = await req(path('fruit', 'apple'));
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await got.text()).toBe('red');
      // The text protocol and library callers see the envelope, on one line.
      const raw = (await c.web.route('fruit', 'KV.Bucket', 'get', ['fruit', 'apple'])) as { value: Uint8Array };
      expect(dec.decode(raw.value)).toBe('ringkv-http/1 text/plain; charset=utf-8\tred');
    });

    it('round-trips content types: JSON is stored as sent, octet-stream raw, other types as given', async () => {
      const notJson = '{"unclosed": [1, 2';
      expect((await put(path('types', 'j'), notJson, 'application/json')).status).toBe(204);
      const j = await req(path('types', 'j'));
      expect(j.headers.get('content-type')).toBe('application/json');
      expect(await j.text()).toBe(notJson);
      const binary = bytes(0, 0xff, 0x0a, 0x0d, 0x20);
      expect((await put(path('types', 'bin'), binary, 'application/octet-stream')).status).toBe(204);
      const b = await req(path('types', 'bin'));
      expect(b.headers.get('content-type')).toBe('application/octet-stream');
      expect(new Uint8Array(await b.arrayBuffer())).toEqual(binary);
      // Raw for octet-stream: exactly what route callers (and the text protocol) see.
      expect(await c.web.route('types', 'KV.Bucket', 'get', ['types', 'bin'])).toMatchObject({ value: binary });
      // No Content-Type at all is octet-stream too.
      expect((await put(path('types', 'none'), bytes(1, 2, 3))).status).toBe(204);
      expect((await req(path('types', 'none'))).headers.get('content-type')).toBe('application/octet-stream');
      // A value that looks like an envelope still comes back as it was sent.
      const tricky = enc.encode('ringkv-http/1 text/html\t<b>');
      await put(path('types', 'tricky'), tricky, 'application/octet-stream');
      const t = await req(path('types', 'tricky'));
      expect(t.headers.get('content-type')).toBe('application/octet-stream');
      expect(new Uint8Array(await t.arrayBuffer())).toEqual(tricky);
      // A value written through route (the text protocol's way) reads as octet-stream.
      await c.web.route('types', 'KV.Bucket', 'put', ['types', 'text', 'plain-3']);
      const viaText = await req(path('types', 'text'));
      expect(viaText.headers.get('content-type')).toBe('application/octet-stream');
      expect(await viaText.text()).toBe('plain-3');
    });

    it('takes bucket names and keys as arbitrary bytes, percent-encoded', async () => {
      const bucket = bytes(0x00, 0xff, 0x2f, 0x20, 0xc3);
      const key = bytes(0x2f, 0x25, 0x00, 0xfe, 0x3f);
      expect((await put(path(bucket, key), 'v1', 'text/plain')).status).toBe(204);
      expect(await (await req(path(bucket, key))).text()).toBe('v1');
      // The same bytes through route: the HTTP layer decoded them byte for byte.
      expect(dec.decode(((await c.web.route(bucket, 'KV.Bucket', 'get', [bucket, key])) as { value: Uint8Array }).value)).toContain('v1');
      // Lower-case escapes and unescaped safe characters name the same bytes.
      await put(path('names', 'plain-key'), 'v2', 'text/plain');
      expect(await (await req('/buckets/%6eames/keys/plain%2dkey')).text()).toBe('v2');
      const keys = (await (await req(`${path(bucket)}?keys=true`)).json()) as { keys: string[]; keys_percent_encoded?: string[] };
      expect(keys.keys).toEqual([]);
      expect(keys.keys_percent_encoded).toEqual([encodePathSegment(key)]);
      const buckets = (await (await req('/buckets?buckets=true')).json()) as { buckets: string[]; buckets_percent_encoded?: string[] };
      expect(buckets.buckets).toEqual(expect.arrayContaining(['fruit', 'names', 'types']));
      expect(buckets.buckets_percent_encoded).toEqual([encodePathSegment(bucket)]);
    });

    it('lists keys (keys=true and keys=stream), under /types/default too', async () => {
      for (const k of ['k3', 'k1', 'k2']) await put(path('listed', k), k, 'text/plain');
      expect(await (await req(`${path('listed')}?keys=true`)).json()).toEqual({ keys: ['k1', 'k2', 'k3'] });
      const stream = await (await req(`${path('listed')}?keys=stream`)).text();
      const chunks = stream.split(/(?<=\})(?=\{)/).map((s) => JSON.parse(s) as { keys: string[] });
      expect(chunks.flatMap((x) => x.keys)).toEqual(['k1', 'k2', 'k3']);
      expect(await (await req(`/types/default${path('listed')}?keys=true`)).json()).toEqual({ keys: ['k1', 'k2', 'k3'] });
      expect(await (await req(`/types/default${path('listed', 'k2')}`)).text()).toBe('k2');
      expect((await req(`/types/other${path('listed', 'k2')}`)).status).toBe(404);
      expect(await (await req(`${path('never-made')}?keys=true`)).json()).toEqual({ keys: [] });
      expect((await req(`${path('listed')}`)).status).toBe(400);
      expect((await req('/buckets')).status).toBe(400);
    });

    it('POSTs under a given key, and under a generated one (201 + Location)', async () => {
      expect((await req(path('posts', 'given'), { method: 'POST', body: enc.encode('p1'), headers: { 'content-type': 'text/plain' } })).status).toBe(204);
      expect(await (await req(path('posts', 'given'))).text()).toBe('p1');
      const created = await req(path('posts'), { method: 'POST', body: enc.encode('p2'), headers: { 'content-type': 'text/plain' } });
      expect(created.status).toBe(201);
      const location = created.headers.get('location')!;
      expect(location).toMatch(/^\/buckets\/posts\/keys\/[A-Za-z0-9_-]{10,}$/);
      expect(await (await req(location)).text()).toBe('p2');
    });

    it('returns the body on returnbody=true, and answers 404 for missing keys and buckets', async () => {
      const r = await put(`${path('rb', 'k')}?returnbody=true`, 'back', 'text/plain');
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('back');
      const missingKey = await req(path('rb', 'nope'));
      expect(missingKey.status).toBe(404);
      expect(await missingKey.text()).toBe('not found\n');
      expect((await req(path('no-such-bucket', 'k'))).status).toBe(404);
      expect((await req('/no/such/thing')).status).toBe(404);
    });

    it('deletes: 204, then 404; 404 for a bucket that does not exist', async () => {
      await put(path('del', 'k'), 'x', 'text/plain');
      expect((await req(path('del', 'k'), { method: 'DELETE' })).status).toBe(204);
      expect((await req(path('del', 'k'))).status).toBe(404);
      expect((await req(path('del-never', 'k'), { method: 'DELETE' })).status).toBe(404);
    });

    it('answers 400 with a one-line reason for bad encoding and bad parameters', async () => {
      const cases: [string, RequestInit, RegExp][] = [
        ['/buckets/b/keys/x%G1', {}, /bad percent-encoding in the key/],
        ['/buckets/b%/keys/x', {}, /bad percent-encoding in the bucket name/],
        [`${path('b', 'k')}?r=many`, {}, /r must be a number or one, quorum, all, default/],
        [`${path('b', 'k')}?r=99`, {}, /r must be from 1 to n/],
        [`${path('b', 'k')}?pr=1`, {}, /pr is not supported/],
        [`${path('b', 'k')}?timeout=-5`, {}, /timeout must be a number of milliseconds/],
        [path('b', 'k'), { method: 'PUT', body: enc.encode('v'), headers: { 'x-riak-vclock': 'not a vclock!' } }, /X-Riak-Vclock is not a vclock this server issued/],
        [path('b', 'k'), { method: 'PUT', body: enc.encode('v'), headers: { 'content-type': 'not a type' } }, /Content-Type must be a media type/],
        [`${path('b', 'k')}?returnbody=maybe`, { method: 'PUT', body: enc.encode('v') }, /returnbody must be true or false/],
      ];
      for (const [p, init, reason] of cases) {
        const r = await req(p, init);
        const text = await r.text();
        expect(r.status, `${p}: ${text}`).toBe(400);
        expect(text).toMatch(reason);
        expect(text.trimEnd().split('\n')).toHaveLength(1);
      }
    });

    it('answers 413 for a body over the limit, and keeps serving', async () => {
      const r = await put(path('big', 'k'), new Uint8Array(BODY_LIMIT + 1), 'application/octet-stream');
      expect(r.status).toBe(413);
      expect(await r.text()).toMatch(/larger than the limit of 65536 bytes/);
      expect((await put(path('big', 'k'), new Uint8Array(BODY_LIMIT), 'application/octet-stream')).status).toBe(204);
      expect((await req(path('big', 'k'))).status).toBe(200);
    });

    it('counts calls by command and outcome in /metrics', async () => {
      const text = await (await req('/metrics')).text();
      expect(text).toMatch(/^ringkv_calls_total\{protocol="http",command="KV.Bucket.put",outcome="ok",node="web@http"\} [1-9]/m);
      expect(text).toMatch(/^ringkv_call_duration_seconds_count\{node="web@http",protocol="http",command="KV.Bucket.object"\} [1-9]/m);
      expect(text).toMatch(/^ringkv_http_responses_total\{method="PUT",route="\/buckets\/:bucket\/keys\/:key",status="413",node="web@http"\} 1$/m);
      expect(text).toMatch(/^process_resident_memory_bytes\{node="web@http"\} \d+/m);
    });

    if (kind === 'range') {
      it('answers 503 naming the timeout when the owner does not answer in time', async () => {
        const r = await req(`${path(bytes(HANG_BYTE, 1), 'k')}?timeout=300`);
        expect(r.status).toBe(503);
        expect(r.headers.get('x-ringkv-error')).toBe('TimeoutError');
        expect(await r.text()).toMatch(/TimeoutError: .*hang@http/);
      });
    }

    it('answers 503 when the storage is unreachable (range) or the quorum is not met (ring)', async () => {
      await put(path('zz-late', 'k'), 'v', 'text/plain');
      if (kind === 'range') {
        // zz-late lives on foo (first byte 0x7a): stop it.
        await c.stopStorage(RANGE_NODES[0]!);
        const r = await req(path('zz-late', 'k'));
        expect(r.status).toBe(503);
        expect(await r.text()).toMatch(/NodeUnreachableError: .*foo@http/);
      } else {
        await c.stopStorage(RING_NODES[1]!);
        await c.stopStorage(RING_NODES[2]!);
        const r = await put(`${path('zz-late', 'k')}?w=2`, 'v2', 'text/plain');
        const text = await r.text();
        expect(r.status).toBe(503);
        expect(r.headers.get('x-ringkv-error')).toBe('QuorumError');
        // What answered, and who did not.
        expect(text).toMatch(/write quorum not met for KV\.Bucket\.put on "zz-late": needed 2, 1 answered; failed: /);
        expect(text).toMatch(/b@http/);
        expect(text).toMatch(/c@http/);
        const metrics = await (await req('/metrics')).text();
        expect(metrics).toMatch(/^ringkv_quorum_failures_total\{command="KV.Bucket.put",node="web@http"\} [1-9]/m);
      }
    });
  });
}

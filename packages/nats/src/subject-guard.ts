/**
 * Keeps a node's subjects its own. Anyone allowed to subscribe to `ringkv.node.<name>` gets
 * the requests meant for that node and can answer them; NATS permissions (docs/security.md)
 * are what stop strangers from subscribing at all. This guard catches the rest: a second
 * process started with the same node name, or a subscriber on a bus without permissions.
 *
 * A probe (`ringkv.probe`) is published on a subject with a reply subject of its own, and every
 * answer within a short window is collected, so a second responder is seen even when it answers
 * after the first. A ringkv node answers a probe with who it is (node, instance id, pid, host,
 * serving since), which is what the refusal message shows; anything else is described by what
 * it did (answered something else, or subscribed and stayed silent). A "no responders" status
 * means nobody serves the subject.
 *
 * @example
 * const guard = createSubjectGuard({ publish, inbox });
 * const others = await guard.probe('ringkv.node.foo~40computer-name', { own: instanceId });
 * others.map(describeResponder); // [] when this process is the only one serving it
 */
import { hostname } from 'node:os';
import { TRANSPORT_PROBE_MESSAGE } from '@ringkv/core';
import { decodeReplyValue, encodeRequest, REPLY_OK } from './codec.js';

/** Message type answered by the transport itself, never passed to a node's handler. */
export const PROBE_TYPE = TRANSPORT_PROBE_MESSAGE;

/** What the guard reads of a reply (a nats `Msg`; structural, so nats types stay internal). */
export interface ProbeReply {
  readonly data: Uint8Array;
  readonly headers?: { readonly code: number };
}
/** @default of `subjectCheckIntervalMs`. */
export const DEFAULT_SUBJECT_CHECK_INTERVAL_MS = 10_000;
/** Longest wait for the answers to one probe. */
export const PROBE_TIMEOUT_MS = 2000;
/** After the awaited answer, how long later answers are still collected. */
const GRACE_MS = 50;

/** Who a ringkv node says it is, in its probe answer. */
export interface ProbeIdentity {
  node: string;
  /** Random per connection: two processes never share it. */
  instance: string;
  pid: number;
  host: string;
  /** When this process started serving the node (ISO 8601). */
  since: string;
}

export type Responder =
  | { kind: 'ringkv'; identity: ProbeIdentity }
  | { kind: 'other'; bytes: number }
  | { kind: 'no-responders' }
  | { kind: 'silent'; waitedMs: number }
  | { kind: 'denied'; subject: string };

export interface SubjectGuard {
  /**
   * Probes `subject` and resolves to the responders other than instance `own`. Without `own`
   * (before this process subscribes) the first answer settles it; a silent subscriber shows
   * as `silent` after {@link PROBE_TIMEOUT_MS}.
   */
  probe(subject: string, options?: { own?: string; timeoutMs?: number }): Promise<Responder[]>;
  /** Whether a reply-subject suffix (after the inbox prefix) belongs to a probe. */
  owns(suffix: string): boolean;
  onReply(suffix: string, m: ProbeReply): void;
  /** The server refused this connection's publish to `subject`: probes of it end at once. */
  denied(subject: string): void;
}

export interface SubjectGuardDeps {
  publish(subject: string, data: Uint8Array, reply: string): void;
  /** This connection's reply prefix, ending in `.`. */
  inbox: string;
}

export function identityFor(node: string, instance: string, since: Date): ProbeIdentity {
  return { node, instance, pid: process.pid, host: hostname(), since: since.toISOString() };
}

function isIdentity(v: unknown): v is ProbeIdentity {
  const i = v as ProbeIdentity | null;
  return i !== null && typeof i === 'object' && typeof i.node === 'string' && typeof i.instance === 'string' && typeof i.pid === 'number';
}

/** One line naming a responder, for errors and logs. */
export function describeResponder(r: Responder): string {
  switch (r.kind) {
    case 'ringkv': {
      const i = r.identity;
      const text = (s: unknown) => String(s).slice(0, 200);
      return `another ringkv process (node ${text(i.node)}, pid ${i.pid} on host ${text(i.host)}, instance ${text(i.instance)}, serving since ${text(i.since)})`;
    }
    case 'other':
      return `a process that is not a ringkv node (it answered a probe with ${r.bytes} bytes that are not a ringkv probe answer)`;
    case 'no-responders':
      return 'a process that forges "no responders" statuses (the server sends none for a subject this node serves)';
    case 'silent':
      return `a subscriber that did not answer a probe within ${r.waitedMs} ms (not a ringkv node, or a stuck one)`;
    case 'denied':
      return `(unknown: NATS refused to let this connection probe ${r.subject}, permissions violation)`;
  }
}

const PROBE_REQUEST = encodeRequest({ type: PROBE_TYPE, body: null });

export function createSubjectGuard(deps: SubjectGuardDeps): SubjectGuard {
  let seq = 0;
  const open = new Map<string, (m: ProbeReply) => void>();
  const bySubject = new Map<string, Set<() => void>>();

  return {
    owns: (suffix) => suffix.startsWith('p'),
    onReply(suffix, m) {
      open.get(suffix)?.(m);
    },
    denied(subject) {
      for (const deny of bySubject.get(subject) ?? []) deny();
    },
    probe(subject, { own, timeoutMs = PROBE_TIMEOUT_MS } = {}) {
      const id = `p${++seq}`;
      return new Promise<Responder[]>((resolve) => {
        const others: Responder[] = [];
        let answered = false;
        let grace: ReturnType<typeof setTimeout> | undefined;
        const finish = () => {
          clearTimeout(timer);
          if (grace) clearTimeout(grace);
          open.delete(id);
          bySubject.get(subject)?.delete(deny);
          if (bySubject.get(subject)?.size === 0) bySubject.delete(subject);
          resolve(others);
        };
        const deny = () => {
          others.push({ kind: 'denied', subject });
          finish();
        };
        let waiting = bySubject.get(subject);
        if (!waiting) bySubject.set(subject, (waiting = new Set()));
        waiting.add(deny);
        const settleSoon = () => {
          grace ??= setTimeout(finish, GRACE_MS);
        };
        const timer = setTimeout(() => {
          if (own === undefined && !answered) others.push({ kind: 'silent', waitedMs: timeoutMs });
          finish();
        }, timeoutMs);
        open.set(id, (m) => {
          // The server's "no responders" status: nobody subscribes to the subject.
          if (m.data.length === 0 && m.headers?.code === 503) {
            // Before this process subscribes, the server's answer that the subject is free.
            // After, the server cannot send one: somebody forged it.
            if (own !== undefined) others.push({ kind: 'no-responders' });
            else if (!answered) finish();
            return;
          }
          answered = true;
          const value = decodeReplyValue(m.data);
          if (value.ok && value.tag === REPLY_OK && isIdentity(value.value)) {
            if (value.value.instance === own) {
              settleSoon();
              return;
            }
            others.push({ kind: 'ringkv', identity: value.value });
          } else {
            others.push({ kind: 'other', bytes: m.data.length });
          }
          if (own === undefined) settleSoon();
        });
        try {
          deps.publish(subject, PROBE_REQUEST, `${deps.inbox}${id}`);
        } catch {
          finish();
        }
      });
    },
  };
}

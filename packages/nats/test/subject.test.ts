import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArgumentError } from '@ringkv/core';
import { NODE_SUBJECT_PREFIX, nodeForSubject, subjectForNode, routeSubjectForNode } from '../src/index.js';

// A literal NATS subject: dot-separated non-empty tokens, no wildcards, no whitespace.
const VALID_SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

describe('subjectForNode', () => {
  it('maps the guide names to one token under the prefix', () => {
    expect(subjectForNode('foo@computer-name')).toBe('ringkv.node.foo~40computer-name');
    expect(subjectForNode('foo@host.example.com')).toBe('ringkv.node.foo~40host~2Eexample~2Ecom');
    expect(subjectForNode('a.b')).not.toBe(subjectForNode('a~2Eb'));
  });

  it('escapes wildcards, whitespace and the escape character itself', () => {
    const s = subjectForNode('x*> \t~y');
    expect(s).toBe('ringkv.node.x~2A~3E~20~09~7Ey');
    expect(s).toMatch(VALID_SUBJECT);
  });

  it('rejects an empty name, and names with lone surrogates (they would collide with U+FFFD)', () => {
    expect(() => subjectForNode('')).toThrow(ArgumentError);
    expect(() => subjectForNode('a\uD800b')).toThrow(/not well-formed Unicode/);
    expect(() => subjectForNode('\uDC00')).toThrow(ArgumentError);
    expect(subjectForNode('\uFFFD')).toBe('ringkv.node.~EF~BF~BD');
    expect(subjectForNode('🎉')).toBe('ringkv.node.~F0~9F~8E~89');
  });

  it('always yields a valid subject with exactly one token after the prefix', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'grapheme' }), (name) => {
        const s = subjectForNode(name);
        expect(s).toMatch(VALID_SUBJECT);
        expect(s.startsWith(NODE_SUBJECT_PREFIX)).toBe(true);
        expect(s.slice(NODE_SUBJECT_PREFIX.length)).toMatch(/^[A-Za-z0-9_~-]+$/);
      }),
    );
  });

  it('is injective: distinct names never share a subject', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'grapheme-ascii' }), fc.string({ minLength: 1, unit: 'grapheme' }), (a, b) => {
        fc.pre(a !== b);
        expect(subjectForNode(a)).not.toBe(subjectForNode(b));
      }),
    );
    // Names differing only where escaping happens are the risky ones.
    fc.assert(
      fc.property(fc.array(fc.constantFrom('~', '7', 'E', '.', '@', '2', 'a', '-', '_'), { minLength: 1, maxLength: 8 }), fc.array(fc.constantFrom('~', '7', 'E', '.', '@', '2', 'a', '-', '_'), { minLength: 1, maxLength: 8 }), (a, b) => {
        const x = a.join('');
        const y = b.join('');
        fc.pre(x !== y);
        expect(subjectForNode(x)).not.toBe(subjectForNode(y));
      }),
    );
  });

  it('decodes back to the name (well-formed UTF-16 names)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'grapheme' }), (name) => {
        expect(nodeForSubject(subjectForNode(name))).toBe(name);
      }),
    );
  });

  it('gives routing calls their own subject with the same token, decoded to the same name', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'grapheme' }), (name) => {
        const route = routeSubjectForNode(name);
        expect(route).toBe(`ringkv.route.${subjectForNode(name).slice('ringkv.node.'.length)}`);
        expect(nodeForSubject(route)).toBe(name);
      }),
    );
    expect(routeSubjectForNode('foo@computer-name')).toBe('ringkv.route.foo~40computer-name');
  });

  it('decodes nothing that subjectForNode would not produce', () => {
    expect(nodeForSubject('other.subject')).toBeUndefined();
    expect(nodeForSubject('ringkv.node.')).toBeUndefined();
    expect(nodeForSubject('ringkv.node.~41')).toBeUndefined(); // "A" needs no escape
    expect(nodeForSubject('ringkv.node.~4')).toBeUndefined();
    expect(nodeForSubject('ringkv.node.a.b')).toBeUndefined();
    expect(nodeForSubject('ringkv.route.')).toBeUndefined();
    expect(nodeForSubject('ringkv.topic.x')).toBeUndefined();
  });
});

import assert from 'node:assert/strict';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { checkItem } from '../../../kinds/registry.js';
import type { CollectionKind } from '../../../protocol/collections.js';
import { decodeWbxml, encodeWbxml } from '../wbxml/codec.js';
import { el, text as text_, type WbxmlElement } from '../wbxml/element.js';
import type { EasVersion, FromEasContext, ItemMapper } from './item-mapper.js';

/**
 * For the mappers' tests: a mapper driven the way the Sync command drives it, through the wire, with
 * every item it makes checked as the hub would check it.
 */
export function mapperHarness(mapper: ItemMapper, kind: CollectionKind, context: { uid: string; now: number }) {
  const ctx = (version: EasVersion = '14.1'): FromEasContext => ({ version, newUid: () => context.uid, now: context.now });
  /** As a client would send it back: encoded to WBXML and decoded again. */
  const wire = (children: WbxmlElement[]): WbxmlElement => decodeWbxml(encodeWbxml(el('AirSync', 'ApplicationData', ...children)));
  return {
    ctx,
    wire,
    toEas: (item: string, version: EasVersion = '14.1') => wire(mapper.toEas(item, { version })),
    fromEas(app: WbxmlElement, existing?: string, version: EasVersion = '14.1'): string {
      const out = mapper.fromEas(app, existing, ctx(version));
      const check = checkItem(kind, out);
      assert.ok(check.ok, `checkItem: ${check.ok ? '' : check.message}\n${out}`);
      return out;
    },
    /**
     * The rule for an RTF body the server cannot read (body.ts bodyAfter; docs/eas.md), through the
     * mapper, on the item `base` makes: kept as sent beside the text, sent back as Type 3 to a client
     * that asks for RTF (and to no other), kept by a Change without a body or with the text the client
     * was sent, replaced by a readable body that differs.
     */
    keptRtf(base: WbxmlElement[], version: EasVersion = '14.1'): void {
      const rtf = (data: string) => el('AirSyncBase', 'Body', el('AirSyncBase', 'Type', '3'), el('AirSyncBase', 'Data', data));
      const text = (data: string) => el('AirSyncBase', 'Body', el('AirSyncBase', 'Type', '1'), el('AirSyncBase', 'Data', data));
      const kept = /\r\nX-SYNCPOINT-EAS-RTF:\/\/\/\/\r\n/;
      const write = (body: WbxmlElement | undefined, existing?: string) => {
        const out = mapper.fromEas(wire(body ? [...base, body] : base), existing, ctx(version));
        const check = checkItem(kind, out);
        assert.ok(check.ok, `checkItem: ${check.ok ? '' : check.message}\n${out}`);
        return out;
      };
      const bodyFor = (item: string, type: number) => {
        const body = wire(mapper.toEas(item, { version, bodyPreference: { type } })).children.find((c) => typeof c === 'object' && !(c instanceof Uint8Array) && c.name === 'Body') as WbxmlElement | undefined;
        return body && Object.fromEntries(body.children.map((c) => [(c as WbxmlElement).name, text_(c as WbxmlElement)]));
      };
      const added = write(rtf('////'));
      assert.match(added, kept, 'an unreadable RTF body is kept as sent');
      assert.deepEqual(bodyFor(added, 3), { Type: '3', EstimatedDataSize: '4', Data: '////' });
      assert.equal(bodyFor(added, 1), undefined, 'a client that asks for text gets no body');
      assert.match(write(undefined, added), kept, 'a Change without a body keeps it');
      assert.match(write(text(''), added), kept, 'a Change with the empty body it was sent keeps it');
      const replaced = write(text('new words'), added);
      assert.doesNotMatch(replaced, /X-SYNCPOINT-EAS-RTF/, 'a readable body replaces it');
      assert.deepEqual(bodyFor(replaced, 3), { Type: '1', EstimatedDataSize: '9', Data: 'new words' });
      const beside = write(rtf('////'), replaced);
      assert.match(beside, kept, 'an unreadable body is kept beside the text');
      assert.match(beside, /new words/, 'the text stays');
      assert.deepEqual(bodyFor(beside, 1), { Type: '1', EstimatedDataSize: '9', Data: 'new words' });
      assert.deepEqual(bodyFor(beside, 3), { Type: '3', EstimatedDataSize: '4', Data: '////' });
      assert.match(write(text('new words'), beside), kept, 'the text the client was sent, sent back, keeps it');
      assert.doesNotMatch(write(undefined, beside), /X-SYNCPOINT-EAS-RTF|new words/, 'a body cleared clears both');
    },
    /** ical.js's own serialization of a text (what the hub gets back when nothing changed). */
    canonical: (ics: string) => `${new ICAL.Component(ICAL.parse(ics) as unknown as unknown[]).toString()}\r\n`,
    /**
     * Random ApplicationData from `field`, on each of `existing` (undefined: an Add): the mapper either
     * makes an item the hub accepts and can send back, or refuses with a plain Error, never a TypeError.
     */
    fuzzFromEas(field: fc.Arbitrary<WbxmlElement>, existing: ReadonlyArray<string | undefined>, numRuns = 400): void {
      fc.assert(
        fc.property(fc.array(field, { maxLength: 10 }), fc.constantFrom(...existing), fc.constantFrom<EasVersion>('14.0', '14.1', '16.1'), (kids, item, version) => {
          let out: string;
          try {
            out = mapper.fromEas(el('AirSync', 'ApplicationData', ...kids), item, ctx(version));
          } catch (err) {
            return err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError);
          }
          const check = checkItem(kind, out);
          assert.ok(check.ok, check.ok ? '' : `${check.message}\n${out}`);
          mapper.toEas(out, { version });
          return true;
        }),
        { numRuns },
      );
    },
  };
}

/** Asserts `fn` throws a plain Error (never a TypeError, RangeError, ...) whose message matches. */
export function throwsClearly(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal(err.constructor, Error, `expected a plain Error, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

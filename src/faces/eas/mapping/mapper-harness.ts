import assert from 'node:assert/strict';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { checkItemContent } from '../../../content/item-content.js';
import type { CollectionKind } from '../../../protocol/collections.js';
import { decodeWbxml, encodeWbxml } from '../wbxml/codec.js';
import { el, type WbxmlElement } from '../wbxml/element.js';
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
      const check = checkItemContent(kind, out);
      assert.ok(check.ok, `checkItemContent: ${check.ok ? '' : check.message}\n${out}`);
      return out;
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
          const check = checkItemContent(kind, out);
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

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { z } from 'zod';
import { limits } from '../core/limits.js';
import { ProtocolError } from './errors.js';
import { parseJson, validate } from './validate.js';

const refusal = (fn: () => unknown): ProtocolError => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProtocolError);
    return err;
  }
  assert.fail('expected a refusal');
};

test('parseJson reads what JSON.parse reads, for any JSON within the list and depth bounds', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
      const text = JSON.stringify(value);
      assert.deepEqual(parseJson(text), JSON.parse(text));
    }),
  );
  // Brackets, commas and escaped quotes inside strings are not structure.
  const tricky = { a: `${',['.repeat(5000)}\\"${'\\'.repeat(7)}"`, b: ['"', '\\', ']'] };
  assert.deepEqual(parseJson(JSON.stringify(tricky)), tricky);
});

test('parseJson refuses long lists and deep nesting before parsing, and never quotes the body', () => {
  assert.deepEqual((parseJson(`[${'0,'.repeat(limits.bodyListItemsMax - 1)}0]`) as unknown[]).length, limits.bodyListItemsMax);
  assert.match(refusal(() => parseJson(`[${'0,'.repeat(limits.bodyListItemsMax)}0]`)).message, /more than 1000 entries/);
  assert.match(refusal(() => parseJson('['.repeat(limits.jsonDepthMax + 1))).message, /nested deeper/);
  const secret = 's3cret'.repeat(1000);
  assert.ok(refusal(() => parseJson(`{"password": "${secret}`)).message.length <= limits.errorTextCharsMax + 40);
});

test('validate stops at the first issues and checks a list’s cap before its entries', () => {
  const schema = z.object({ items: z.array(z.object({ n: z.number() })).max(5), name: z.string() });
  assert.deepEqual(validate(schema, { items: [{ n: 1 }], name: 'x', extra: true }, 'thing'), { items: [{ n: 1 }], name: 'x' });
  const many = refusal(() => validate(schema.extend({ items: z.array(z.object({ n: z.number() })) }), { items: Array.from({ length: 500 }, () => ({ n: 'no' })), name: 1 }, 'thing'));
  assert.equal((many.extra.issues as unknown[]).length, limits.errorIssuesMax);
  assert.equal(many.extra.issuesTruncated, true);
  const capped = refusal(() => validate(schema, { items: Array.from({ length: 6 }, () => 'not even an object'), name: 'x' }, 'thing'));
  assert.deepEqual(capped.extra.issues, [{ path: 'items', message: 'Too big: at most 5 entries, got 6' }]);
  const strict = refusal(() => validate(z.object({}).strict(), { ['k'.repeat(10_000)]: 1 }, 'thing'));
  assert.ok((strict.extra.issues as Array<{ message: string }>)[0]?.message.length ?? Infinity <= limits.errorTextCharsMax + 1);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decompressRtf, rtfBodyText, rtfToText } from './rtf.js';

// MS-OXRTFCP section 4, examples 1 and 2 (the second has a reference that crosses the write position).
const simple = Buffer.from('2d0000002b0000004c5a4675f1c5c7a703000a0072637067313235423 20af32068656c0900206277 05b06c647d0a800fa0'.replace(/ /g, ''), 'hex');
const crossing = Buffer.from('1a0000001c0000004c5a4675e2d44b51410004205758595a0d6e7d010eb0', 'hex');

test('compressed RTF decompresses as MS-OXRTFCP says, references crossing the write position included', () => {
  assert.equal(decompressRtf(simple, 1024).toString('latin1'), '{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n');
  assert.equal(decompressRtf(crossing, 1024).toString('latin1'), '{\\rtf1 WXYZWXYZWXYZWXYZWXYZ}');
  const mela = Buffer.concat([Buffer.from([7 + 12, 0, 0, 0, 7, 0, 0, 0]), Buffer.from('MELA', 'latin1'), Buffer.alloc(4), Buffer.from('{\\rtf1}', 'latin1')]);
  assert.equal(decompressRtf(mela, 1024).toString('latin1'), '{\\rtf1}');
});

test('the announced size is checked before any work; a stream that writes more than it announced, or of another type, is refused', () => {
  const huge = Buffer.from(simple);
  huge.writeUInt32LE(64 * 1024 * 1024, 4);
  assert.throws(() => decompressRtf(huge, 1024 * 1024), Error);
  const short = Buffer.from(simple);
  short.writeUInt32LE(10, 4);
  assert.throws(() => decompressRtf(short, 1024), /more than its header says/);
  const other = Buffer.from(simple);
  other.write('ABCD', 8, 'latin1');
  assert.throws(() => decompressRtf(other, 1024), Error);
  assert.throws(() => decompressRtf(Buffer.alloc(8), 1024), Error);
});

test('RTF becomes its text: tables, fields and \\* groups dropped, escapes and Unicode decoded, paragraphs as lines', () => {
  const rtf =
    "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Calibri;}}{\\colortbl;\\red0\\green0\\blue0;}{\\*\\generator Riched20;}\\pard Caf\\'e9 at 10\\par " +
    "Second line: \\{braces\\} and a backslash \\\\\\line \\uc1\\u8364?uro \\u-3913?x{\\*\\htmltag <p>}\\htmlrtf hidden\\htmlrtf0  end\\par}";
  assert.equal(rtfToText(rtf), 'Café at 10\nSecond line: {braces} and a backslash \\\n€uro \uf0b7x end');
  assert.throws(() => rtfToText('not rtf'), Error);
});

test('a Type 3 body is base64 of compressed RTF, or RTF itself; anything else is refused', () => {
  assert.equal(rtfBodyText(simple.toString('base64'), 1024), 'hello world');
  assert.equal(rtfBodyText('{\\rtf1 plain}', 1024), 'plain');
  assert.equal(rtfBodyText(Buffer.from('{\\rtf1 plain}').toString('base64'), 1024), 'plain');
  assert.throws(() => rtfBodyText('%%% not base64 %%%', 1024), Error);
  assert.throws(() => rtfBodyText(Buffer.from('just some bytes, no header').toString('base64'), 1024), Error);
});

test('cost is linear: eight times the RTF takes about eight times as long, not sixty-four', () => {
  // Relative, not absolute: both sizes are timed in the same run, alternately, so a loaded machine slows
  // both alike; a quadratic reader would take about 64 times as long for 8 times the input.
  const rtfOf = (words: number) => `{\\rtf1 ${'word \\b bold\\b0  '.repeat(words)}}`;
  const small = rtfOf(7_500);
  const large = rtfOf(60_000);
  const timed = (rtf: string) => {
    const started = performance.now();
    const text = rtfToText(rtf);
    assert.ok(text.startsWith('word bold word'));
    return performance.now() - started;
  };
  const smallMs: number[] = [];
  const largeMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    smallMs.push(timed(small));
    largeMs.push(timed(large));
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[2] as number;
  const ratio = median(largeMs) / Math.max(median(smallMs), 0.05);
  console.log(`rtfToText: ${(large.length / 1048576).toFixed(2)} MiB in ${median(largeMs).toFixed(0)} ms, ${ratio.toFixed(1)}x the time of an eighth of it`);
  assert.ok(ratio < 24, `8x the input took ${ratio.toFixed(1)}x the time`);
});

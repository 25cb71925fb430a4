import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messagePart } from './message-part.js';

test('HTML: the part ends where the first quote mark begins, whichever mail program left it', () => {
  const reply = (quote: string) => `<p>Yes, at noon.</p>${quote}<p>Lunch?</p></blockquote>`;
  for (const mark of ['<blockquote type="cite">', "<BLOCKQUOTE TYPE='cite'>", '<div class="gmail_quote">', '<div class="moz-cite-prefix">On Monday, Ann wrote:</div><blockquote type="cite">']) {
    assert.deepEqual(messagePart({ type: 'text/html', text: reply(mark) }), { html: '<p>Yes, at noon.</p>', cut: true }, mark);
  }
  assert.deepEqual(messagePart({ type: 'text/html', text: '<p>A new message <blockquote>with a plain quote of its own</blockquote></p>' }), {
    html: '<p>A new message <blockquote>with a plain quote of its own</blockquote></p>',
    cut: false,
  });
});

test('text: the part ends before the first quoted line and its "wrote:" line, or an Outlook original; it is escaped HTML', () => {
  assert.deepEqual(messagePart({ type: 'text/plain', text: 'Yes <b>at</b> noon & then.\n\nOn Mon, Ann wrote:\n> Lunch?\n> \n' }), { html: 'Yes &lt;b&gt;at&lt;/b&gt; noon &amp; then.', cut: true });
  assert.deepEqual(messagePart({ type: 'text/plain', text: 'See below.\r\n-----Original Message-----\r\nFrom: Ann\r\n' }), { html: 'See below.', cut: true });
  assert.deepEqual(messagePart({ type: 'text/plain', text: 'Two lines\nand "no" quote.\n' }), { html: 'Two lines<br>\r\nand &quot;no&quot; quote.', cut: false });
  // A quoted line with no attribution before it: the line before stays.
  assert.deepEqual(messagePart({ type: 'text/plain', text: 'I agree with:\n> this\n' }), { html: 'I agree with:', cut: true });
});

import { useEffect, useMemo, useState } from 'preact/hooks';
import type { MailAttachment, MailItem } from '../../../src/content/mail/item.js';
import { fetchMailPart, mailPartUrl } from '../data/account.js';
import { base64 } from './compose.js';
import { mailDocument } from './html-view.js';
import { describeError } from './mail-errors.js';

/** Inline images an HTML body shows (`cid:`) are fetched and shown as data: URIs, up to this size each. */
const inlineImageBytesMax = 2 * 1024 * 1024;
const inlineImageTypes = /^image\/(png|jpeg|gif|webp)$/;

type Body = { kind: 'text'; text: string } | { kind: 'html'; html: string; inline: Map<string, string> } | { kind: 'none' };

function decode(part: { bytes: Uint8Array; contentType: string }): string {
  const charset = /charset="?([^";\s]+)/i.exec(part.contentType)?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(part.bytes);
  } catch {
    return new TextDecoder().decode(part.bytes);
  }
}

const dataUri = (type: string, bytes: Uint8Array) => `data:${type};base64,${base64(bytes)}`;

/** The message's text: its HTML version when it has one, else its plain text, whole (the item holds only the start). */
async function loadBody(collectionId: string, id: string, item: MailItem): Promise<Body> {
  const body = item.body;
  if (!body) return { kind: 'none' };
  const htmlPart = body.htmlPart ?? (body.type === 'text/html' ? body.part : null);
  if (htmlPart === null) return { kind: 'text', text: body.complete ? body.text : decode(await fetchMailPart(collectionId, id, body.part)) };
  const html = htmlPart === body.part && body.complete ? body.text : decode(await fetchMailPart(collectionId, id, htmlPart));
  const inline = new Map<string, string>();
  for (const a of item.attachments) {
    if (!a.contentId || !inlineImageTypes.test(a.type) || a.size > inlineImageBytesMax) continue;
    try {
      inline.set(a.contentId.replace(/^<|>$/g, ''), dataUri(a.type, (await fetchMailPart(collectionId, id, a.part)).bytes));
    } catch {
      // The text is shown without that picture.
    }
  }
  return { kind: 'html', html, inline };
}

export function MessageBody(props: { collectionId: string; id: string; item: MailItem }) {
  const [body, setBody] = useState<Body | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [allowRemote, setAllowRemote] = useState(false);
  const { collectionId, id, item } = props;
  // Flags change the item's text; the body and the choice about remote content stay with the message.
  const key = `${collectionId}/${id}/${item.body?.part ?? ''}/${item.body?.htmlPart ?? ''}`;
  useEffect(() => {
    let current = true;
    setBody(null);
    setError(null);
    setAllowRemote(false);
    loadBody(collectionId, id, item).then(
      (b) => current && setBody(b),
      (err: unknown) => current && setError(describeError(err)),
    );
    return () => void (current = false);
  }, [key]);
  const doc = useMemo(() => (body?.kind === 'html' ? mailDocument(body.html, { allowRemote, inline: body.inline }) : null), [body, allowRemote]);

  return (
    <div class="mail-body">
      {error && (
        <p class="error" role="alert">
          The message text could not be fetched: {error}
        </p>
      )}
      {!body && !error && <p class="muted">Loading the message…</p>}
      {body?.kind === 'none' && <p class="muted">This message has no text.</p>}
      {body?.kind === 'text' && <pre class="mail-text">{body.text}</pre>}
      {doc && (
        <>
          {doc.blocked > 0 && !allowRemote && (
            <div class="remote-note">
              <p>Remote content in this message was blocked, so the sender cannot see whether and when you read it.</p>
              <button type="button" class="button" onClick={() => setAllowRemote(true)}>
                Load remote content
              </button>
            </div>
          )}
          {/* No scripts, no same origin: the message cannot reach the page, the session or the server's API. */}
          <iframe class="mail-frame" title={`Text of “${item.subject || 'message'}”`} sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc={doc.srcdoc} />
        </>
      )}
      <Attachments collectionId={collectionId} id={id} attachments={item.attachments} />
    </div>
  );
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function Attachments(props: { collectionId: string; id: string; attachments: MailAttachment[] }) {
  // Inline parts with a Content-ID are pictures in the text; the rest are files.
  const files = props.attachments.filter((a) => !(a.inline && a.contentId));
  if (files.length === 0) return null;
  return (
    <section class="attachments" aria-label="Attachments">
      <h3>Attachments</h3>
      <ul>
        {files.map((a) => (
          <li key={a.part}>
            <a href={mailPartUrl(props.collectionId, props.id, a.part)} download={a.name ?? ''}>
              {a.name ?? 'Unnamed attachment'}
            </a>{' '}
            <span class="muted">
              ({a.type}, {size(a.size)})
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

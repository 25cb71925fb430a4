import DOMPurify from 'dompurify';

/**
 * A message's HTML as a document for a sandboxed frame's `srcdoc` (docs/design.md § The web app, mail).
 * DOMPurify removes scripts, event handlers and dangerous URLs. Remote content (images, CSS backgrounds,
 * styles imported from the web) is left out unless the user allowed it for this message: loading it
 * tells the sender that and when the message was read, and from where. Two walls hold it back: every
 * remote URL is taken out here, and the document's own Content-Security-Policy lets images load only
 * from data: URIs. URLs relative to nothing (mail has no base) are always dropped: in the frame they would
 * point at this server.
 */

export interface MailDocument {
  srcdoc: string;
  /** Remote URLs left out; the page offers to load them when there are any. */
  blocked: number;
}

const remote = /^\s*(?:https?:)?\/\//i;
const cidUrl = /^\s*cid:(.+)$/i;
const dataUrl = /^\s*data:/i;
/** `url(…)` in CSS, quoted or not. */
const cssUrl = /url\(\s*(['"]?)(.*?)\1\s*\)/gi;
const cssImport = /@import\s+(?:url\()?\s*['"]?[^;]*;?/gi;
/** Attributes that load something when the document is shown. */
const resourceAttributes = ['src', 'background', 'poster', 'srcset', 'href', 'xlink:href'];

interface Context {
  allowRemote: boolean;
  /** Content-ID (without angle brackets) → data: URI of an inline part. */
  inline: ReadonlyMap<string, string>;
  blocked: number;
}

const purify = DOMPurify(window);
let context: Context = { allowRemote: false, inline: new Map(), blocked: 0 };

/** What a resource URL becomes: itself, a data: URI for a `cid:` part, or nothing. */
function resolve(url: string): string | null {
  const cid = cidUrl.exec(url);
  if (cid) return context.inline.get(decodeURIComponentSafe(cid[1] as string).replace(/^<|>$/g, '')) ?? null;
  if (dataUrl.test(url)) return url;
  if (remote.test(url)) {
    if (context.allowRemote) return url;
    context.blocked++;
  }
  return null;
}

function cleanCss(css: string): string {
  return css
    .replace(cssImport, (rule) => {
      if (!context.allowRemote && remote.test(rule.replace(/^@import\s+(?:url\()?\s*['"]?/i, ''))) context.blocked++;
      // Styles from elsewhere are never fetched: the frame's policy allows only inline styles.
      return '';
    })
    .replace(cssUrl, (_all, _quote: string, url: string) => {
      const kept = resolve(url);
      return kept === null ? 'url("")' : `url("${kept.replace(/["\\\n]/g, '')}")`;
    });
}

purify.addHook('afterSanitizeAttributes', (node) => {
  const element = node as Element;
  const link = element.localName === 'a' || element.localName === 'area';
  for (const name of resourceAttributes) {
    const value = element.getAttribute(name);
    if (value === null || (link && name.endsWith('href'))) continue;
    if (name === 'srcset') {
      // Candidates are URLs with sizes; one remote candidate is enough to leave the whole set out.
      const urls = value.split(',').map((c) => c.trim().split(/\s+/)[0] ?? '');
      if (urls.every((u) => resolve(u) === u)) continue;
      element.removeAttribute(name);
      continue;
    }
    const kept = resolve(value);
    if (kept === null) element.removeAttribute(name);
    else if (kept !== value) element.setAttribute(name, kept);
  }
  const style = element.getAttribute('style');
  if (style !== null) element.setAttribute('style', cleanCss(style));
  if (link && element.hasAttribute('href')) {
    // Links open in a new tab, outside the frame (which may not navigate itself).
    element.setAttribute('target', '_blank');
    element.setAttribute('rel', 'noopener noreferrer');
  }
});

purify.addHook('uponSanitizeElement', (node, data) => {
  if (data.tagName === 'style' && node.textContent) node.textContent = cleanCss(node.textContent);
});

/** The document policy: nothing but inline styles and data: images, and remote images once allowed. */
function policy(allowRemote: boolean): string {
  return `default-src 'none'; style-src 'unsafe-inline'; img-src data:${allowRemote ? ' https: http:' : ''}; font-src data:`;
}

export function mailDocument(html: string, options: { allowRemote: boolean; inline: ReadonlyMap<string, string> }): MailDocument {
  context = { ...options, blocked: 0 };
  try {
    const clean = purify.sanitize(html, { WHOLE_DOCUMENT: true, FORBID_TAGS: ['form', 'base', 'meta', 'link'], ADD_ATTR: ['target'] });
    // The sanitised text is parsed inert (nothing loads in a parsed document) to put the policy first in its head.
    const doc = new DOMParser().parseFromString(clean, 'text/html');
    const meta = doc.createElement('meta');
    meta.setAttribute('http-equiv', 'Content-Security-Policy');
    meta.setAttribute('content', policy(options.allowRemote));
    const base = doc.createElement('style');
    base.textContent = 'body { margin: 0.5rem; font-family: system-ui, sans-serif; overflow-wrap: anywhere; } img { max-width: 100%; height: auto; }';
    doc.head.prepend(meta, base);
    return { srcdoc: `<!doctype html>${doc.documentElement.outerHTML}`, blocked: context.blocked };
  } finally {
    context = { allowRemote: false, inline: new Map(), blocked: 0 };
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

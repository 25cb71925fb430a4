/**
 * One rule for every name a person gives something, on every face: collection names, display names and
 * descriptions, app-password labels, device names (docs/protocol.md § Names). No control character
 * (C0, DEL, C1), no noncharacter U+FFFE/U+FFFF and no lone surrogate: such a character makes a listing
 * invalid XML, cannot be written as a WBXML string, and is never part of a name. A description may hold
 * tabs and line breaks, the only controls its formats carry.
 */
const forbiddenInName = /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const forbiddenInText = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const nameRule = 'control characters are not allowed in names';
export const textRule = 'control characters other than tab and line breaks are not allowed';

/** Why `value` is not acceptable as a name (`multiline`: as a description), or undefined if it is. */
export function nameProblem(value: string, multiline = false): string | undefined {
  return (multiline ? forbiddenInText : forbiddenInName).test(value) ? (multiline ? textRule : nameRule) : undefined;
}

/** For the protocol's schemas: `z.string().max(200).refine(...isName)`. */
export const isName = [(v: string) => nameProblem(v) === undefined, nameRule] as const;
export const isText = [(v: string) => nameProblem(v, true) === undefined, textRule] as const;

/** A name the server takes from a header (a DAV client's User-Agent) rather than from a person: controls are dropped. */
export const withoutControls = (value: string) => value.replace(new RegExp(forbiddenInName.source, 'g'), '');

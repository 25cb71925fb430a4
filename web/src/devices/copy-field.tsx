import { useId, useRef } from 'preact/hooks';

interface Props {
  label: string;
  value: string;
  /** Says what happened, in words ("Server URL copied."), for the panel's status line. */
  onCopied: (message: string) => void;
}

/**
 * A read-only value with a Copy button. The Clipboard API needs a secure context (https or localhost),
 * which a self-hosted server often is not; then the text is selected so the person can copy it by hand.
 */
export function CopyField({ label, value, onCopied }: Props) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);

  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      onCopied(`${label} copied.`);
    } catch {
      input.current?.focus();
      input.current?.select();
      onCopied(`${label} selected: press Ctrl+C (⌘C on a Mac) to copy it.`);
    }
  };

  return (
    <div class="copy-field">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input ref={input} id={id} type="text" readOnly value={value} spellcheck={false} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="button" onClick={copy}>
          Copy<span class="visually-hidden"> {label}</span>
        </button>
      </div>
    </div>
  );
}

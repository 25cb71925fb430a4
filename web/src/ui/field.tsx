import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';

/** A visible label over its control; `hint` is read out with it. */
interface FieldProps {
  label: string;
  hint?: string;
  class?: string;
}

function Labelled(props: FieldProps & { id: string; children: ComponentChildren }) {
  return (
    <div class={`field ${props.class ?? ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <span class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
    </div>
  );
}

export function TextField(
  props: FieldProps & {
    value: string;
    onValue: (value: string) => void;
    type?: 'text' | 'email' | 'tel' | 'date' | 'time' | 'search' | 'password' | 'url';
    multiline?: boolean;
    required?: boolean;
    autoComplete?: string;
    autoFocus?: boolean;
    placeholder?: string;
  },
) {
  const id = useId();
  const common = {
    id,
    value: props.value,
    required: props.required,
    autoComplete: props.autoComplete,
    autoFocus: props.autoFocus,
    placeholder: props.placeholder,
    'aria-describedby': props.hint ? `${id}-hint` : undefined,
    onInput: (e: Event) => props.onValue((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <Labelled {...props} id={id}>
      {/* Preact's typings pick attributes by input type; these types all take the same ones as text. */}
      {props.multiline ? <textarea rows={4} {...common} /> : <input type={(props.type ?? 'text') as 'text'} {...common} />}
    </Labelled>
  );
}

export function SelectField<T extends string>(props: FieldProps & { value: T; onValue: (value: T) => void; options: ReadonlyArray<{ value: T; label: string }> }) {
  const id = useId();
  return (
    <Labelled {...props} id={id}>
      <select id={id} value={props.value} aria-describedby={props.hint ? `${id}-hint` : undefined} onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value as T)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Labelled>
  );
}

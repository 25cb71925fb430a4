/** A contact's photo, or their initials on a tinted circle. */
export function Avatar(props: { name: string; photo: string | null; size?: 'small' | 'large' }) {
  const cls = `avatar ${props.size ?? 'small'}`;
  if (props.photo) return <img class={cls} src={props.photo} alt={props.size === 'large' ? `Photo of ${props.name}` : ''} />;
  const initials = props.name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase())
    .join('');
  return (
    <span class={cls} aria-hidden="true">
      {initials || '?'}
    </span>
  );
}

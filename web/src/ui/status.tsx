/** A message region screen readers announce when its text changes (errors interrupt, the rest waits). */
export function StatusMessage(props: { error?: string | null; message?: string | null }) {
  return (
    <>
      <p class="error" role="alert">
        {props.error ?? ''}
      </p>
      <p class="status" role="status">
        {props.error ? '' : (props.message ?? '')}
      </p>
    </>
  );
}

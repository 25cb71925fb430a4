import QRCode from 'qrcode';
import { useEffect, useRef, useState } from 'preact/hooks';
import { CopyField } from './copy-field.js';
import { setupText, type SetupDetails } from './setup-text.js';

interface Props {
  label: string;
  details: SetupDetails;
  onDone: () => void;
}

/** A new app password and the rest of a device's setup, shown once: the server keeps only its hash. */
export function NewPassword({ label, details, onDone }: Props) {
  const heading = useRef<HTMLHeadingElement>(null);
  const [status, setStatus] = useState('');
  const [qr, setQr] = useState<string | null>(null);

  useEffect(() => heading.current?.focus(), []);

  useEffect(() => {
    let live = true;
    QRCode.toString(setupText(details), { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
      .then((svg) => live && setQr(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`))
      .catch(() => live && setQr(null));
    return () => {
      live = false;
    };
  }, [details]);

  return (
    <section class="new-password" aria-labelledby="new-password-heading">
      <h3 id="new-password-heading" ref={heading} tabIndex={-1}>
        App password for “{label}”
      </h3>
      <p class="warning">Copy it now: it is shown only this once. Use it as the password, with your user name.</p>
      <div class="setup-layout">
        <div class="setup-fields">
          <CopyField label="App password" value={details.password} onCopied={setStatus} />
          <CopyField label="User name" value={details.user} onCopied={setStatus} />
          <CopyField label="Server URL" value={details.serverUrl} onCopied={setStatus} />
          <CopyField label="CardDAV/CalDAV address" value={details.davUrl} onCopied={setStatus} />
          <CopyField label="ActiveSync (Exchange) server" value={details.easServer} onCopied={setStatus} />
          <CopyField label="Native API address" value={details.nativeUrl} onCopied={setStatus} />
        </div>
        {qr && (
          <figure class="setup-qr">
            <img src={qr} alt="QR code with the setup details" width={220} height={220} />
            <figcaption>Scan with the phone's camera to read these details.</figcaption>
          </figure>
        )}
      </div>
      <p role="status" class="status copy-status">
        {status}
      </p>
      <button type="button" class="button" onClick={onDone}>
        Done
      </button>
    </section>
  );
}

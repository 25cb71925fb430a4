/** What a device needs to sync with this account, shown once when an app password is made. */
export interface SetupDetails {
  serverUrl: string;
  user: string;
  password: string;
  davUrl: string;
  /** ActiveSync ("Exchange" accounts): phones ask for the server's host name and find the path themselves. */
  easServer: string;
  nativeUrl: string;
}

export function setupDetails(origin: string, user: string, password: string): SetupDetails {
  return { serverUrl: origin, user, password, davUrl: `${origin}/dav/`, easServer: new URL(origin).host, nativeUrl: `${origin}/api/v1/` };
}

/**
 * The QR code's text. There is no standard URI for a CardDAV/CalDAV account, and a made-up scheme
 * (syncpoint://setup?...) would make a phone's camera app offer to open an app that does not exist,
 * while an http URL would offer to open the password in a browser. Plain labelled lines are shown by
 * camera apps as text that can be read and copied, one field at a time if need be, and stay short
 * enough for a QR code a phone reads from a screen at arm's length.
 */
export function setupText(details: SetupDetails): string {
  return [
    `Server: ${details.serverUrl}`,
    `User: ${details.user}`,
    `Password: ${details.password}`,
    `CardDAV/CalDAV: ${details.davUrl}`,
    `ActiveSync (Exchange) server: ${details.easServer}`,
    `Native API: ${details.nativeUrl}`,
  ].join('\n');
}

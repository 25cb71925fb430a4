/**
 * Who a request is from, as the server shell's authentication (src/server/auth/) hands it to the faces
 * and to push. It lives here, not in the shell, so those layers need not import the shell
 * (docs/architecture.md § Layers).
 */
export interface Principal {
  accountId: string;
  accountName: string;
  /** The app token used, if any. */
  tokenId?: string;
  /** The browser session used, if any (signed in with the account password). */
  session?: Session;
  /** The account's credential epoch when the password or session was checked (hub/accounts.ts Credential). */
  epoch: number;
}

/** A web app session (src/server/auth/sessions.ts keeps them). */
export interface Session {
  accountId: string;
  csrf: string;
  /** The cookie's value. */
  id: string;
  /** What the store keeps of it; push channels opened from the session are tagged with it. */
  idHash: string;
}

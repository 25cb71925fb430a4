import { z } from 'zod';

/** The web app's sign-in (docs/protocol.md § Web sessions). */

export const signInSchema = z.object({
  user: z.string().min(1).max(128),
  password: z.string().min(1).max(1024),
});
export type SignIn = z.infer<typeof signInSchema>;

/** What a signed-in page needs: who it is, and the token every change must carry in X-CSRF-Token. */
export const sessionInfoSchema = z.object({ user: z.string(), csrf: z.string() });
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

/** The fewest characters a new password may have (the CLI and the API agree). */
export const passwordCharsMin = 8;

/** `POST /api/v1/account/password` (docs/protocol.md § Web sessions): the current password and the new one. */
export const changePasswordSchema = z.object({
  current: z.string().min(1).max(1024),
  new: z.string().min(passwordCharsMin).max(1024),
});
export type ChangePassword = z.infer<typeof changePasswordSchema>;

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

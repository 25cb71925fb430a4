import { z } from 'zod';
import { isName } from './names.js';

/** The app-password API. Only the account password may use it: a device's token cannot mint or revoke others. */

export const appTokenInfoSchema = z.object({
  id: z.string(),
  label: z.string(),
  createdAt: z.iso.datetime(),
  lastUsedAt: z.iso.datetime().optional(),
});
export type AppTokenInfo = z.infer<typeof appTokenInfoSchema>;

export const appTokenListSchema = z.object({ tokens: z.array(appTokenInfoSchema) });
export type AppTokenList = z.infer<typeof appTokenListSchema>;

export const createAppTokenSchema = z.object({ label: z.string().min(1).max(200).refine(...isName) });

/** The new token's secret appears in this answer only; the server keeps its hash. */
export const createdAppTokenSchema = appTokenInfoSchema.extend({ token: z.string() });
export type CreatedAppToken = z.infer<typeof createdAppTokenSchema>;

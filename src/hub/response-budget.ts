import { limits } from '../core/limits.js';

/**
 * The item data one sync response may still carry (limits.syncResponseBytesMax, docs/protocol.md §6):
 * the windows of every collection of the request draw on it first, then the fetched items. Sizes come
 * from the store without reading any data, so nothing past the budget is ever read or serialized.
 */
export class ResponseBudget {
  private used = 0;

  /**
   * Takes `bytes` if they fit. The first item of a response always fits (items are smaller than the
   * budget anyway), so an exchange with anything to carry always carries something.
   */
  take(bytes: number): boolean {
    if (this.used > 0 && this.used + bytes > limits.syncResponseBytesMax) return false;
    this.used += bytes;
    return true;
  }
}

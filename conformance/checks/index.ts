import type { Check } from '../registry.js';
import { authChecks } from './auth.js';
import { cacheChecks } from './cache.js';
import { errorChecks } from './errors.js';
import { eventChecks } from './events.js';
import { publishChecks } from './publish.js';
import { subscribeChecks } from './subscribe.js';

/** Every check, in the order they run: the broker's basics first, the hostile inputs last. */
export const ALL_CHECKS: readonly Check[] = [
  ...authChecks,
  ...publishChecks,
  ...subscribeChecks,
  ...eventChecks,
  ...cacheChecks,
  ...errorChecks,
];

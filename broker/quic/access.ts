/**
 * What a stream's token allows, asked before every publish, subscribe and cache request. A denial is
 * answered with `forbidden` naming the permission the request needed.
 */
import type { DataAction } from '../auth/index.js';

export interface Access {
  /** undefined when allowed; otherwise the refusal's message, naming the permission needed. */
  denied(action: DataAction, tenant: string, namespace: string, name: string): string | undefined;
}

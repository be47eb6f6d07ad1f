/**
 * How the command line names a stream or a cache: `name`, `namespace/name` or `tenant/namespace/name`,
 * the order of the broker's resource paths (and of token permissions). The parts the argument leaves out
 * come from --namespace and --tenant (or their defaults); a part it gives must agree with the flag.
 */
import { isValidName, NAME_RULE } from '../config/tenants.js';
import { CliUsageError } from './exit-codes.js';

export interface ResourceAddress {
  /** Undefined when the argument did not name one: the client's tenant applies. */
  readonly tenant: string | undefined;
  /** Undefined when the argument did not name one: --namespace (or the client's default) applies. */
  readonly namespace: string | undefined;
  readonly name: string;
}

export function parseResourceAddress(kind: 'stream' | 'cache', text: string): ResourceAddress {
  const parts = text.split('/');
  const bad = parts.length > 3 || parts.some((part) => !isValidName(part));
  if (bad) {
    throw new CliUsageError(
      `invalid ${kind} ${JSON.stringify(text)}: expected ${kind}, namespace/${kind} or ` +
        `tenant/namespace/${kind}, each part ${NAME_RULE}`,
    );
  }
  const [name, namespace, tenant] = [...parts].reverse();
  return { tenant, namespace, name };
}

/** The tenant to connect as: the address's, unless --tenant names another (a contradiction). */
export function tenantFor(address: ResourceAddress, tenantFlag: string | undefined): string | undefined {
  if (address.tenant !== undefined && tenantFlag !== undefined && address.tenant !== tenantFlag) {
    throw new CliUsageError(
      `the name says tenant ${address.tenant} but --tenant says ${tenantFlag}; a client acts as one tenant`,
    );
  }
  return address.tenant ?? tenantFlag;
}

/** The namespace the address gives, unless --namespace names another (a contradiction). */
export function namespaceFor(
  address: ResourceAddress,
  namespaceFlag: string | undefined,
): string | undefined {
  if (address.namespace !== undefined && namespaceFlag !== undefined && address.namespace !== namespaceFlag) {
    throw new CliUsageError(
      `the name says namespace ${address.namespace} but --namespace says ${namespaceFlag}; give only one`,
    );
  }
  return address.namespace ?? namespaceFlag;
}

// Felix's permission grammar, as its broker checks it (gabloe/felix, crates/felix-authz: action.rs,
// permission.rs, matcher.rs, resource.rs):
//
//   <action>:<resource pattern>      split at the FIRST ':'
//
// - <action> is one of Felix's eleven action names, exactly (no wildcard): an unknown action or a missing
//   ':' makes the permission, and so the token, invalid.
// - The broker checks `<action>` against the resource `<kind>:<tenant>/<namespace>/<name>`, kind `stream`
//   for stream.publish/stream.subscribe and `cache` for cache.read/cache.write, e.g.
//   `stream.publish:stream:t1/payments/orders`.
// - In the resource pattern `*` matches any run of characters, including none (a glob, not a segment
//   wildcard): `t1/*/*` covers a tenant, `t1/payments/*` a namespace, `t1/payments/orders.*` streams named
//   orders.<anything>, and `*` everything. Any other text matches itself, case-sensitively.
// - Only these four actions authorize operations here; the others (rbac.*, tenant.manage, ns.manage,
//   stream.manage, cache.manage) are Felix control-plane actions: accepted in a token, granting nothing.
//
// A permission is compiled once, when its token is verified; `allows` is then a loop over a few
// precompiled rules with no regular expression and no string building.
import { shownPath } from '../../config/shown-name.js';
import { segmentGlob, type SegmentGlob, VirtualGlob } from './glob.js';

/** The actions the broker authorizes, one per operation. */
export const DATA_ACTIONS = ['stream.publish', 'stream.subscribe', 'cache.read', 'cache.write'] as const;
export type DataAction = (typeof DATA_ACTIONS)[number];

/** Every action name Felix defines (crates/felix-authz/src/action.rs), in its order. */
export const FELIX_ACTIONS = [
  'rbac.view',
  'rbac.policy.manage',
  'rbac.assignment.manage',
  'tenant.manage',
  'ns.manage',
  'stream.manage',
  'cache.manage',
  ...DATA_ACTIONS,
] as const;
export type FelixAction = (typeof FELIX_ACTIONS)[number];

export type ResourceKind = 'stream' | 'cache';

export const KIND_OF_ACTION: Readonly<Record<DataAction, ResourceKind>> = Object.freeze({
  'stream.publish': 'stream',
  'stream.subscribe': 'stream',
  'cache.read': 'cache',
  'cache.write': 'cache',
});

/** `<kind>:` once per action, so a check never concatenates it. */
const RESOURCE_PREFIX: Readonly<Record<DataAction, string>> = Object.freeze({
  'stream.publish': 'stream:',
  'stream.subscribe': 'stream:',
  'cache.read': 'cache:',
  'cache.write': 'cache:',
});

const FELIX_ACTION_SET: ReadonlySet<string> = new Set(FELIX_ACTIONS);
const DATA_ACTION_SET: ReadonlySet<string> = new Set(DATA_ACTIONS);

export class PermissionSyntaxError extends Error {
  override readonly name = 'PermissionSyntaxError';
  constructor(
    readonly permission: string,
    problem: string,
  ) {
    super(`invalid permission ${JSON.stringify(permission)}: ${problem}`);
  }
}

export interface ParsedPermission {
  readonly action: FelixAction;
  readonly resourcePattern: string;
}

/** Felix's PermissionPattern::parse. Throws PermissionSyntaxError. */
export function parsePermission(text: string): ParsedPermission {
  if (typeof text !== 'string') throw new PermissionSyntaxError(String(text), 'not a string');
  const colon = text.indexOf(':');
  if (colon < 0) {
    throw new PermissionSyntaxError(text, 'expected <action>:<kind>:<tenant>/<namespace>/<name>');
  }
  const action = text.slice(0, colon);
  if (!FELIX_ACTION_SET.has(action)) {
    throw new PermissionSyntaxError(
      text,
      `unknown action ${JSON.stringify(action)}; expected one of ${FELIX_ACTIONS.join(', ')}`,
    );
  }
  return { action: action as FelixAction, resourcePattern: text.slice(colon + 1) };
}

export function isDataAction(action: string): action is DataAction {
  return DATA_ACTION_SET.has(action);
}

/**
 * The permission a request needs, for the `forbidden` error that names it, each name as error messages
 * echo one (shownPath). Builds a string: denials only.
 */
export function permissionFor(action: DataAction, tenant: string, namespace: string, name: string): string {
  return `${action}:${RESOURCE_PREFIX[action]}${shownPath(tenant, namespace, name)}`;
}

/**
 * One permission's resource pattern, compiled. Patterns of the form `<kind>:<t>/<ns>/<name>` (each part a
 * literal, `*`, or a glob without '/') become three segment globs; anything else falls back to Felix's scan
 * over the whole resource. For names following the broker's name rules (no '/') both agree with Felix's
 * matcher exactly; a segment rule never allows what Felix's scan would refuse.
 */
class ResourceRule {
  private readonly tenant: SegmentGlob | null = null;
  private readonly namespace: SegmentGlob | null = null;
  private readonly name: SegmentGlob | null = null;
  private readonly whole: VirtualGlob | null = null;

  constructor(kindPrefix: string, resourcePattern: string) {
    const segments = resourcePattern.startsWith(kindPrefix)
      ? resourcePattern.slice(kindPrefix.length).split('/')
      : [];
    if (segments.length === 3) {
      this.tenant = segmentGlob(segments[0]);
      this.namespace = segmentGlob(segments[1]);
      this.name = segmentGlob(segments[2]);
    } else {
      this.whole = new VirtualGlob(resourcePattern);
    }
  }

  matches(kindPrefix: string, tenant: string, namespace: string, name: string): boolean {
    if (this.whole !== null) return this.whole.matches(kindPrefix, tenant, namespace, name);
    return this.tenant!.matches(tenant) && this.namespace!.matches(namespace) && this.name!.matches(name);
  }
}

/** A token's `perms`, compiled for `allows`. Immutable. */
export class PermissionSet {
  static readonly EMPTY = new PermissionSet([]);

  private readonly rules: Readonly<Record<DataAction, readonly ResourceRule[]>>;

  private constructor(readonly permissions: readonly string[]) {
    const rules: Record<DataAction, ResourceRule[]> = {
      'stream.publish': [],
      'stream.subscribe': [],
      'cache.read': [],
      'cache.write': [],
    };
    for (const text of permissions) {
      const { action, resourcePattern } = parsePermission(text);
      if (isDataAction(action))
        rules[action].push(new ResourceRule(RESOURCE_PREFIX[action], resourcePattern));
    }
    this.rules = rules;
  }

  /** Parses and compiles every permission; throws PermissionSyntaxError naming the first bad one. */
  static compile(permissions: readonly string[]): PermissionSet {
    return permissions.length === 0
      ? PermissionSet.EMPTY
      : new PermissionSet(Object.freeze([...permissions]));
  }

  /**
   * Whether any permission grants `action` on `<kind>:<tenant>/<namespace>/<name>`. The tenant is matched
   * like Felix's matcher does; the token's own tenant is enforced by Grant.allows.
   */
  allows(action: DataAction, tenant: string, namespace: string, name: string): boolean {
    const rules = this.rules[action];
    if (rules === undefined) return false;
    const prefix = RESOURCE_PREFIX[action];
    for (let i = 0; i < rules.length; i++) {
      if (rules[i].matches(prefix, tenant, namespace, name)) return true;
    }
    return false;
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Grant } from '../../broker/auth/grant.js';
import {
  FELIX_ACTIONS,
  PermissionSet,
  PermissionSyntaxError,
  parsePermission,
  permissionFor,
  type DataAction,
} from '../../broker/auth/permissions.js';

/**
 * Felix's matcher, ported line by line from gabloe/felix crates/felix-authz/src/matcher.rs
 * (`wildcard_match` over the resource string `stream_resource`/`cache_resource` build): the reference the
 * compiled matcher must agree with.
 */
function felixWildcardMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p;
      mark = v;
      p++;
      continue;
    }
    if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
      continue;
    }
    if (star >= 0) {
      p = star + 1;
      mark++;
      v = mark;
      continue;
    }
    return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

function felixAllows(
  perms: readonly string[],
  action: DataAction,
  t: string,
  ns: string,
  name: string,
): boolean {
  const kind = action.startsWith('stream.') ? 'stream' : 'cache';
  const resource = `${kind}:${t}/${ns}/${name}`;
  return perms.some((perm) => {
    const colon = perm.indexOf(':');
    return perm.slice(0, colon) === action && felixWildcardMatch(perm.slice(colon + 1), resource);
  });
}

describe("Felix's permission grammar", () => {
  it.each([
    'stream.publish:stream:t1/payments/orders',
    'stream.subscribe:stream:t1/*/*',
    'cache.read:cache:t1/web/*',
    'cache.write:cache:t1/web/sessions',
    'stream.publish:stream:tenant-a/payments/orders.*',
    'stream.publish:*',
    'tenant.manage:tenant:t1',
    'ns.manage:namespace:t1/*',
    'rbac.policy.manage:namespace:t1/payments',
  ])('accepts %s', (permission) => {
    expect(() => parsePermission(permission)).not.toThrow();
  });

  it.each([
    ['stream.publish', 'no colon'],
    ['', 'empty'],
    ['stream.write:stream:t1/a/b', 'unknown action'],
    ['*:stream:t1/*/*', 'wildcard action'],
    ['Stream.Publish:stream:t1/a/b', 'actions are case-sensitive'],
    ['publish:stream:t1/a/b', "Felix's action names only"],
  ])('refuses %j (%s)', (permission) => {
    expect(() => parsePermission(permission)).toThrow(PermissionSyntaxError);
    expect(() => PermissionSet.compile(['stream.publish:stream:t1/*/*', permission])).toThrow(
      PermissionSyntaxError,
    );
  });

  it("knows Felix's eleven actions", () => {
    expect(FELIX_ACTIONS).toHaveLength(11);
  });

  it('names the permission a request needs', () => {
    expect(permissionFor('stream.publish', 't1', 'payments', 'orders')).toBe(
      'stream.publish:stream:t1/payments/orders',
    );
    expect(permissionFor('stream.subscribe', 't1', 'a', 'b')).toBe('stream.subscribe:stream:t1/a/b');
    expect(permissionFor('cache.read', 't1', 'web', 'sessions')).toBe('cache.read:cache:t1/web/sessions');
    expect(permissionFor('cache.write', 't1', 'web', 'sessions')).toBe('cache.write:cache:t1/web/sessions');
  });
});

describe('the wildcard matrix', () => {
  type Row = readonly [
    permission: string,
    action: DataAction,
    tenant: string,
    namespace: string,
    name: string,
    allowed: boolean,
  ];
  const rows: readonly Row[] = [
    // Exact permissions: one action, one resource.
    ['stream.publish:stream:t1/payments/orders', 'stream.publish', 't1', 'payments', 'orders', true],
    ['stream.publish:stream:t1/payments/orders', 'stream.subscribe', 't1', 'payments', 'orders', false],
    ['stream.publish:stream:t1/payments/orders', 'stream.publish', 't1', 'payments', 'orders2', false],
    ['stream.publish:stream:t1/payments/orders', 'stream.publish', 't1', 'payment', 'orders', false],
    ['stream.publish:stream:t1/payments/orders', 'stream.publish', 't1', 'Payments', 'orders', false],
    ['stream.subscribe:stream:t1/payments/orders', 'stream.subscribe', 't1', 'payments', 'orders', true],
    ['cache.read:cache:t1/web/sessions', 'cache.read', 't1', 'web', 'sessions', true],
    ['cache.read:cache:t1/web/sessions', 'cache.write', 't1', 'web', 'sessions', false],
    ['cache.write:cache:t1/web/sessions', 'cache.write', 't1', 'web', 'sessions', true],
    ['cache.write:cache:t1/web/sessions', 'cache.read', 't1', 'web', 'sessions', false],
    // The kind must fit the action: a cache resource grants no stream action, and the reverse.
    ['stream.publish:cache:t1/web/sessions', 'stream.publish', 't1', 'web', 'sessions', false],
    ['cache.read:stream:t1/web/sessions', 'cache.read', 't1', 'web', 'sessions', false],
    // `*` for the name.
    ['stream.publish:stream:t1/payments/*', 'stream.publish', 't1', 'payments', 'orders', true],
    ['stream.publish:stream:t1/payments/*', 'stream.publish', 't1', 'payments', 'refunds.v2', true],
    ['stream.publish:stream:t1/payments/*', 'stream.publish', 't1', 'billing', 'orders', false],
    ['cache.read:cache:t1/web/*', 'cache.read', 't1', 'web', 'anything', true],
    ['cache.read:cache:t1/web/*', 'cache.read', 't1', 'api', 'anything', false],
    // `*` for the namespace.
    ['stream.subscribe:stream:t1/*/orders', 'stream.subscribe', 't1', 'payments', 'orders', true],
    ['stream.subscribe:stream:t1/*/orders', 'stream.subscribe', 't1', 'billing', 'orders', true],
    ['stream.subscribe:stream:t1/*/orders', 'stream.subscribe', 't1', 'payments', 'refunds', false],
    // `*` for namespace and name: the whole tenant.
    ['stream.publish:stream:t1/*/*', 'stream.publish', 't1', 'any', 'thing', true],
    ['stream.publish:stream:t1/*/*', 'stream.subscribe', 't1', 'any', 'thing', false],
    ['cache.write:cache:t1/*/*', 'cache.write', 't1', 'any', 'thing', true],
    ['cache.write:cache:t1/*/*', 'cache.write', 't2', 'any', 'thing', false],
    // `*` for the tenant (the Grant still pins the token's own tenant; see below).
    ['stream.publish:stream:*/payments/orders', 'stream.publish', 't9', 'payments', 'orders', true],
    ['stream.publish:stream:*/*/*', 'stream.publish', 't9', 'a', 'b', true],
    // `*` inside a segment, as Felix's own tests use it.
    ['stream.publish:stream:t1/payments/orders.*', 'stream.publish', 't1', 'payments', 'orders.v2', true],
    ['stream.publish:stream:t1/payments/orders.*', 'stream.publish', 't1', 'payments', 'orders.', true],
    ['stream.publish:stream:t1/payments/orders.*', 'stream.publish', 't1', 'payments', 'orders', false],
    ['stream.publish:stream:t1/payments/*-eu', 'stream.publish', 't1', 'payments', 'orders-eu', true],
    ['stream.publish:stream:t1/payments/*-eu', 'stream.publish', 't1', 'payments', 'orders-us', false],
    ['stream.publish:stream:t1/pay*/o*s', 'stream.publish', 't1', 'payments', 'orders', true],
    ['stream.publish:stream:t1/pay*/o*s', 'stream.publish', 't1', 'billing', 'orders', false],
    ['stream.publish:stream:t1/a*b*c/x', 'stream.publish', 't1', 'abc', 'x', true],
    ['stream.publish:stream:t1/a*b*c/x', 'stream.publish', 't1', 'aXbYc', 'x', true],
    ['stream.publish:stream:t1/a*b*c/x', 'stream.publish', 't1', 'acb', 'x', false],
    ['stream.publish:stream:t1/a*a/x', 'stream.publish', 't1', 'a', 'x', false],
    ['stream.publish:stream:t1/a*b*bc/x', 'stream.publish', 't1', 'axbc', 'x', false],
    ['stream.publish:stream:t1/a*b*bc/x', 'stream.publish', 't1', 'abxbc', 'x', true],
    // Felix's `*` is a glob over the whole resource, so it also spans segments.
    ['stream.publish:stream:t1/*', 'stream.publish', 't1', 'payments', 'orders', true],
    ['stream.publish:stream:t1/*', 'stream.publish', 't2', 'payments', 'orders', false],
    ['stream.publish:stream:*', 'stream.publish', 't1', 'a', 'b', true],
    ['stream.publish:*', 'stream.publish', 't1', 'a', 'b', true],
    ['stream.publish:*orders', 'stream.publish', 't1', 'payments', 'orders', true],
    ['stream.publish:*orders', 'stream.publish', 't1', 'payments', 'refunds', false],
    ['cache.read:*', 'stream.publish', 't1', 'a', 'b', false],
    // Felix's control-plane actions authorize no operation.
    ['tenant.manage:tenant:t1', 'stream.publish', 't1', 'a', 'b', false],
    ['stream.manage:stream:t1/*/*', 'stream.publish', 't1', 'a', 'b', false],
    ['cache.manage:cache:t1/*/*', 'cache.write', 't1', 'a', 'b', false],
  ];

  it.each(rows)('%s → %s %s/%s/%s: %s', (permission, action, tenant, namespace, name, allowed) => {
    const set = PermissionSet.compile([permission]);
    expect(set.allows(action, tenant, namespace, name)).toBe(allowed);
    // And exactly what Felix's broker decides.
    expect(felixAllows([permission], action, tenant, namespace, name)).toBe(allowed);
  });

  it('allows when any one of several permissions matches', () => {
    const set = PermissionSet.compile([
      'stream.subscribe:stream:t1/a/*',
      'stream.publish:stream:t1/b/x',
      'cache.read:cache:t1/*/*',
    ]);
    expect(set.allows('stream.publish', 't1', 'b', 'x')).toBe(true);
    expect(set.allows('stream.publish', 't1', 'a', 'x')).toBe(false);
    expect(set.allows('stream.subscribe', 't1', 'a', 'x')).toBe(true);
    expect(set.allows('cache.read', 't1', 'q', 'r')).toBe(true);
    expect(set.allows('cache.write', 't1', 'q', 'r')).toBe(false);
  });

  it('allows nothing without permissions', () => {
    expect(PermissionSet.compile([]).allows('stream.publish', 't1', 'a', 'b')).toBe(false);
  });
});

describe('a grant', () => {
  const grant = (perms: string[]) =>
    new Grant('t1', PermissionSet.compile(perms), Date.now() + 60_000, undefined, 'k1');

  it("never reaches beyond its token's tenant, whatever the permissions say", () => {
    for (const perm of ['stream.publish:*', 'stream.publish:stream:*/*/*', 'stream.publish:stream:t2/*/*']) {
      expect(grant([perm]).allows('stream.publish', 't2', 'a', 'b'), perm).toBe(false);
    }
    expect(grant(['stream.publish:*']).allows('stream.publish', 't1', 'a', 'b')).toBe(true);
    expect(grant(['cache.read:cache:*/*/*']).allows('cache.read', 't1', 'a', 'b')).toBe(true);
    expect(grant(['cache.read:cache:*/*/*']).allows('cache.read', 't10', 'a', 'b')).toBe(false);
  });
});

describe('the compiled matcher against Felix’s', () => {
  const DATA: readonly DataAction[] = ['stream.publish', 'stream.subscribe', 'cache.read', 'cache.write'];
  // Small alphabets make collisions, stars and near-misses likely.
  const nameChar = fc.constantFrom('a', 'b', '.', '-');
  const name = fc.string({ unit: nameChar, minLength: 1, maxLength: 6 });
  const patternChar = fc.constantFrom('a', 'b', '.', '*', '/', ':', 's', 't');
  const segment = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*'), maxLength: 6 });
  const pattern = fc.oneof(
    fc
      .tuple(fc.constantFrom('stream:', 'cache:', ''), fc.string({ unit: patternChar, maxLength: 10 }))
      .map(([k, rest]) => k + rest),
    fc
      .tuple(fc.constantFrom('stream:', 'cache:'), segment, segment, segment)
      .map(([k, t, n, s]) => `${k}${t}/${n}/${s}`),
  );
  const perm = fc.tuple(fc.constantFrom(...DATA), pattern).map(([action, p]) => `${action}:${p}`);

  it('decides exactly as Felix for names that follow the name rules (no "/")', () => {
    fc.assert(
      fc.property(
        fc.array(perm, { maxLength: 3 }),
        fc.constantFrom(...DATA),
        name,
        name,
        name,
        (perms, action, t, ns, n) => {
          expect(PermissionSet.compile(perms).allows(action, t, ns, n)).toBe(
            felixAllows(perms, action, t, ns, n),
          );
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it('never allows what Felix refuses, even for names with "/"', () => {
    const anyName = fc.string({ unit: fc.constantFrom('a', '/', '*', '.'), maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(perm, { maxLength: 3 }),
        fc.constantFrom(...DATA),
        anyName,
        anyName,
        anyName,
        (perms, action, t, ns, n) => {
          if (PermissionSet.compile(perms).allows(action, t, ns, n))
            expect(felixAllows(perms, action, t, ns, n)).toBe(true);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

/** `felix-ts auth …`: development keys and tokens. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { PermissionSyntaxError, parsePermission } from '../../../broker/auth/permissions.js';
import { isValidName, NAME_RULE } from '../../../config/tenants.js';
import { durationSeconds, formatSeconds } from '../../durations.js';
import { JWKS_FILE, keygen, PRIVATE_KEY_FILE } from './keygen.js';
import { mintToken, uselessPermissionWarning } from './mint.js';

const DEFAULT_TTL_SECONDS = 3_600;
const MAX_TTL_SECONDS = 3_650 * 86_400;
const KID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
const CLAIM_TEXT = /^(?!\s)[^\p{Cc}]{1,1024}(?<!\s)$/u;

function kidArgument(text: string): string {
  if (!KID_PATTERN.test(text)) {
    throw new InvalidArgumentError(
      `expected 1 to 128 letters, digits, '.', '_' or '-'; got ${JSON.stringify(text)}`,
    );
  }
  return text;
}

function tenantArgument(text: string): string {
  if (!isValidName(text))
    throw new InvalidArgumentError(`expected a tenant name (${NAME_RULE}); got ${JSON.stringify(text)}`);
  return text;
}

function claimTextArgument(text: string): string {
  if (!CLAIM_TEXT.test(text)) {
    throw new InvalidArgumentError(
      'expected 1 to 1024 characters, no control characters, no leading or trailing space',
    );
  }
  return text;
}

function collectPermission(text: string, previous: string[]): string[] {
  try {
    parsePermission(text);
  } catch (error) {
    if (error instanceof PermissionSyntaxError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return [...previous, text];
}

const KEYGEN_HELP = `
Writes:
  DIR/${PRIVATE_KEY_FILE}  the Ed25519 private key (PKCS8 PEM, mode 0600): keep it secret, it mints tokens
  DIR/${JWKS_FILE}         the public key as a JWKS: point the broker's FELIX_AUTH_JWKS at it

Without --kid the kid is the key's RFC 7638 thumbprint, which mint derives from the key again, so
neither command needs --kid. With --kid, pass the same --kid to mint.

To rotate keys, generate a new key into another directory, add its entry to the "keys" array of the
JSON file the broker loads (the broker picks the change up by itself), mint with the new key, and
remove the old entry once its tokens have expired.

Example:
  felix-ts auth keygen --out ./felix-keys
  FELIX_AUTH_JWKS=./felix-keys/${JWKS_FILE} felix-broker`;

const MINT_HELP = `
Permissions (repeat --perm; Felix's grammar, checked here):
  <action>:<kind>:<tenant>/<namespace>/<name>
  actions   stream.publish, stream.subscribe (kind stream), cache.read, cache.write (kind cache)
  *         matches any run of characters: t1/*/* is all of tenant t1, t1/orders/* one namespace,
            t1/orders/eu.* the streams named eu.<anything>
  A token only ever works for its own --tenant, whatever its permissions say.

Prints the token (one line) on stdout; warnings go to stderr.

Examples:
  felix-ts auth mint --key ./felix-keys/${PRIVATE_KEY_FILE} --tenant t1 \\
      --perm 'stream.publish:stream:t1/*/*' --perm 'stream.subscribe:stream:t1/*/*' --ttl 1h
  FELIX_AUTH_TOKEN=$(felix-ts auth mint --key k.pem --tenant t1 --perm 'cache.read:cache:t1/web/*' --ttl 15m)`;

interface MintOptions {
  key: string;
  tenant: string;
  perm: string[];
  ttl: number;
  notBefore?: number;
  issuer?: string;
  audience?: string;
  subject?: string;
  kid?: string;
}

export function registerAuthCommands(program: Command): void {
  const auth = program
    .command('auth')
    .description('development keys and tokens for a broker running with FELIX_AUTH_JWKS');

  auth
    .command('keygen')
    .description('generate an Ed25519 signing key and the JWKS the broker verifies tokens with')
    .requiredOption('--out <dir>', 'directory to write the key files to (created if missing)')
    .option('--kid <id>', 'key id written to the JWKS (default: the key thumbprint)', kidArgument)
    .option('--force', 'replace existing key files in DIR', false)
    .addHelpText('after', KEYGEN_HELP)
    .action(async (options: { out: string; kid?: string; force: boolean }) => {
      const result = await keygen({ outDir: options.out, kid: options.kid, force: options.force });
      process.stdout.write(
        `wrote ${result.privateKeyPath} (Ed25519 private key, mode 0600)\n` +
          `wrote ${result.jwksPath} (public key, kid ${result.kid})\n` +
          `broker: FELIX_AUTH_JWKS=${result.jwksPath}\n` +
          `token:  felix-ts auth mint --key ${result.privateKeyPath}` +
          `${options.kid === undefined ? '' : ` --kid ${result.kid}`} --tenant t1 ` +
          `--perm 'stream.publish:stream:t1/*/*' --ttl 1h\n`,
      );
    });

  auth
    .command('mint')
    .description('print a signed token for a tenant with the given permissions')
    .requiredOption('--key <file>', 'private key from `felix-ts auth keygen` (PKCS8 PEM)')
    .requiredOption('--tenant <tenant>', 'tenant the token is for (the tid claim)', tenantArgument)
    .addOption(
      new Option('--perm <permission>', 'permission to grant (repeatable; the perms claim)')
        .argParser(collectPermission)
        .default([], 'none'),
    )
    .addOption(
      new Option(
        '--ttl <duration>',
        `lifetime, e.g. 15m, 1h, 7d (up to ${formatSeconds(MAX_TTL_SECONDS)}; the exp claim)`,
      )
        .argParser(durationSeconds(1, MAX_TTL_SECONDS))
        .default(DEFAULT_TTL_SECONDS, formatSeconds(DEFAULT_TTL_SECONDS)),
    )
    .option(
      '--not-before <duration>',
      'valid only from this long after now (the nbf claim)',
      durationSeconds(0, MAX_TTL_SECONDS),
    )
    .option(
      '--issuer <iss>',
      "the iss claim; must equal the broker's FELIX_AUTH_ISSUER when that is set",
      claimTextArgument,
    )
    .option(
      '--audience <aud>',
      "the aud claim; must equal the broker's FELIX_AUTH_AUDIENCE when that is set",
      claimTextArgument,
    )
    .option(
      '--subject <sub>',
      'the sub claim: who the token is for (shown in broker logs)',
      claimTextArgument,
    )
    .option(
      '--kid <id>',
      'kid to put in the header (default: the key thumbprint, as keygen uses)',
      kidArgument,
    )
    .addHelpText('after', MINT_HELP)
    .action(async (options: MintOptions) => {
      for (const permission of options.perm) {
        const warning = uselessPermissionWarning(permission, options.tenant);
        if (warning !== undefined) process.stderr.write(`warning: ${warning}\n`);
      }
      if (options.perm.length === 0) process.stderr.write('warning: no --perm: the token allows nothing\n');
      const token = await mintToken({
        keyPath: options.key,
        tenant: options.tenant,
        permissions: options.perm,
        ttlSeconds: options.ttl,
        notBeforeSeconds: options.notBefore,
        issuer: options.issuer,
        audience: options.audience,
        subject: options.subject,
        kid: options.kid,
        now: Date.now(),
      });
      process.stdout.write(`${token}\n`);
    });
}

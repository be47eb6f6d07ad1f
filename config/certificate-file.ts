/**
 * What makes a file unusable as PEM certificates to verify a peer with (FELIX_TLS_CA), found when the
 * setting is read, so a bad file is a configuration error naming the setting rather than a TLS failure at
 * the first connection.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why the file at `path` holds no usable PEM certificates, in words; undefined when it does. */
export function certificateFileProblem(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return `cannot read it: ${(error as Error).message}`;
  }
  if (!text.includes('-----BEGIN ')) return 'it is not PEM (no -----BEGIN line)';
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) return 'it holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      // Library messages may span lines; the report is one line.
      const cause = (error as Error).message.replace(/\s*\n\s*/g, ' ');
      return `its certificate ${index + 1} of ${blocks.length} does not parse (${cause})`;
    }
  }
  return undefined;
}

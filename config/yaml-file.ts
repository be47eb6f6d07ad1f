import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument, visit, type Document } from 'yaml';
import { ConfigError } from './errors.js';

export interface YamlEntry {
  readonly value: unknown;
  /** 1-based, for error messages. */
  readonly line: number;
  /**
   * The line of what `path` names inside the value (a key of a mapping, an item of a list), or of the
   * deepest part of it found: a block's errors name the line of what is wrong.
   */
  readonly lineOf: (path: readonly (string | number)[]) => number;
}

export interface YamlFile {
  readonly path: string;
  readonly entries: ReadonlyMap<string, YamlEntry>;
}

function readText(path: string, pathSource: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`Cannot read the configuration file ${path} (from ${pathSource}): ${reason}`, {
      setting: pathSource,
      value: path,
    });
  }
}

/** Written as decimal digits, as the environment takes them (a minus passes: only -1 is ever in a range). */
const DECIMAL_INTEGER = /^-?\d+$/;

/**
 * YAML reads 1e3, 0x10, 0o20, +5 and 5.0 as numbers; the environment refuses every one of them ("decimal
 * digits only"). A number not written as decimal digits is handed on as the text it was written as, so
 * each kind refuses it as it refuses that text from the environment, and the error shows it as written.
 * The tenants block's numbers go through the same.
 */
function numbersAsWritten(document: Document.Parsed): void {
  visit(document, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'number' || node.source === undefined) return;
      if (!DECIMAL_INTEGER.test(node.source)) node.value = node.source;
    },
  });
}

/**
 * The top-level keys of a YAML configuration file with their lines. Syntax errors, duplicate keys and a
 * top level that is not a mapping are errors: a file that half-parses must not half-apply.
 */
export function readYamlFile(path: string, pathSource: string): YamlFile {
  const lineCounter = new LineCounter();
  const document = parseDocument(readText(path, pathSource), {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: true,
  });
  const [firstError] = document.errors;
  if (firstError !== undefined) {
    throw new ConfigError(`The configuration file ${path} is not valid YAML: ${firstError.message}`, {
      setting: pathSource,
      value: path,
    });
  }

  numbersAsWritten(document);
  const entries = new Map<string, YamlEntry>();
  // An empty file (or one holding only comments) configures nothing, which is legitimate.
  if (document.contents === null) return { path, entries };
  if (!isMap(document.contents)) {
    throw new ConfigError(
      `The configuration file ${path} must be a mapping of keys to values (key: value).`,
      {
        setting: pathSource,
        value: path,
      },
    );
  }
  for (const pair of document.contents.items) {
    const offset = isScalar(pair.key) ? (pair.key.range?.[0] ?? 0) : 0;
    const line = lineCounter.linePos(offset).line;
    if (!isScalar(pair.key) || typeof pair.key.value !== 'string') {
      throw new ConfigError(`The configuration file ${path} line ${line}: keys must be plain names.`, {
        setting: pathSource,
        value: path,
      });
    }
    const value: unknown = isNode(pair.value) ? pair.value.toJS(document) : null;
    const node = pair.value;
    entries.set(pair.key.value, {
      value,
      line,
      lineOf: (inner) => {
        const offset = offsetOf(node, inner);
        return offset === undefined ? line : lineCounter.linePos(offset).line;
      },
    });
  }
  return { path, entries };
}

/** Where the deepest part of `path` found under `node` starts: a mapping's key, a list's item. */
function offsetOf(node: unknown, path: readonly (string | number)[]): number | undefined {
  let found: number | undefined;
  let at = node;
  for (const part of path) {
    if (isMap(at)) {
      const pair = at.items.find((p) => isScalar(p.key) && p.key.value === part);
      if (pair === undefined) break;
      found = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      at = pair.value;
    } else if (isSeq(at) && typeof part === 'number') {
      const item: unknown = at.items[part];
      if (!isNode(item)) break;
      found = item.range?.[0];
      at = item;
    } else break;
  }
  return found;
}

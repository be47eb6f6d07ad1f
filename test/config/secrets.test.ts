// A credential's value never appears in what the loader says about it, even when it is refused.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadClientConfig } from '../../client/config.js';

describe('secret settings', () => {
  it('refuses a malformed FELIX_AUTH_TOKEN without printing it', () => {
    const token = 'eyJhbGciOi not-a-token';
    let error: unknown;
    try {
      loadClientConfig({ env: { FELIX_AUTH_TOKEN: token } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const refused = error as ConfigError;
    expect(refused.message).toContain('FELIX_AUTH_TOKEN');
    expect(refused.message).not.toContain(token);
    expect(JSON.stringify(refused)).not.toContain(token);
  });

  it('reports a valid one only as set', () => {
    const loaded = loadClientConfig({ env: { FELIX_AUTH_TOKEN: 'abc.def.ghi' } });
    expect(loaded.config.authToken).toBe('abc.def.ghi');
    expect(JSON.stringify(loaded.report)).not.toContain('abc.def.ghi');
  });
});

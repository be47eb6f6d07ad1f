/** `felix-ts broker [flags]`: the broker, exactly as `felix-broker` and `npm start` run it. */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { addEntryProgramCommand } from '../entry-program.js';

export function registerBrokerCommand(program: Command): void {
  addEntryProgramCommand(
    program,
    'broker',
    'start a broker (the felix-broker program: every FELIX_* setting as a flag, e.g. --quic-bind 0.0.0.0:5000)',
    {
      scriptPath: fileURLToPath(new URL('../../broker/main.js', import.meta.url)),
      load: () => import('../../broker/main.js'),
    },
  );
}

// The soak's verdict on deliveries across restarts (bench/soak/ledger.ts): a publish unanswered when a
// SIGKILL hit may come again in the stream's next epoch (at-least-once, protocol.md); one acked before the
// kill, or any across a SIGTERM's drain, may not — those are what the soak must keep failing on.
import { describe, expect, it } from 'vitest';
import { Ledger, type Restart } from '../../bench/soak/ledger.js';

function restart(ledger: Ledger, signal: Restart['signal']): void {
  ledger.restarts.push({
    signal,
    killedAt: performance.now(),
    readyAt: performance.now(),
    lossy: false,
    unanswered: ledger.unanswered(),
  });
  ledger.gap({ expected: 5, offset: 0, missed: undefined, epochChanged: true });
}

describe('soak ledger', () => {
  it('counts a publish unanswered at a SIGKILL and delivered in both epochs as an at-least-once resend', () => {
    const ledger = new Ledger();
    const acked = ledger.published();
    ledger.ackedNow(acked);
    ledger.delivered(acked);
    const unanswered = ledger.published();
    ledger.delivered(unanswered); // appended and delivered; the kill cut off its ack
    restart(ledger, 'SIGKILL');
    ledger.delivered(unanswered); // the SDK's resend, appended to the new epoch
    ledger.ackedNow(unanswered);
    expect(ledger.summary()).toMatchObject({ resentAfterKill: 1, resentAcrossRestart: 0, duplicates: 0 });
  });

  it('fails a message acked before a SIGKILL that is delivered again after it', () => {
    const ledger = new Ledger();
    const id = ledger.published();
    ledger.ackedNow(id);
    ledger.delivered(id);
    restart(ledger, 'SIGKILL');
    ledger.delivered(id);
    expect(ledger.summary()).toMatchObject({ resentAfterKill: 0, resentAcrossRestart: 1 });
  });

  it('fails a publish unanswered at a SIGTERM that is delivered in both epochs (the drain answers what it appended)', () => {
    const ledger = new Ledger();
    const id = ledger.published();
    ledger.delivered(id);
    restart(ledger, 'SIGTERM');
    ledger.delivered(id);
    ledger.ackedNow(id);
    expect(ledger.summary()).toMatchObject({ resentAfterKill: 0, resentAcrossRestart: 1 });
  });

  it('fails a message delivered twice in one epoch', () => {
    const ledger = new Ledger();
    const id = ledger.published();
    ledger.ackedNow(id);
    ledger.delivered(id);
    ledger.delivered(id);
    expect(ledger.summary()).toMatchObject({ duplicates: 1, resentAcrossRestart: 0, resentAfterKill: 0 });
  });
});

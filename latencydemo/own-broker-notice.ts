/**
 * The SDK's notice that, without FELIX_TLS_CA, it accepts any certificate from a loopback broker
 * (transport/tls.ts). For a broker the demo started itself that is expected, and saying it would only bury
 * the warnings that matter, so latencydemo and cachedemo leave it out there; a --broker's is still given,
 * since that certificate is the user's not to verify.
 */
const LOOPBACK_TLS_NOTICE = 'accepting any certificate from loopback address';

/** connect()'s onWarning: `warn`, less the loopback notice when the demo started the broker itself. */
export function withoutOwnBrokerNotice(
  ownBroker: boolean,
  warn: (message: string) => void,
): (message: string) => void {
  return (message) => {
    if (!ownBroker || !message.includes(LOOPBACK_TLS_NOTICE)) warn(message);
  };
}

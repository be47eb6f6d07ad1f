// The only place that touches @matrixai/quic: everything else sees typed quiche objects.
// Its high-level QUICServer/QUICClient/QUICStream API is deliberately not used (DESIGN §2).
import { native } from '@matrixai/quic';

export const quiche = native.quiche;
export type QuicheConfig = native.Config;
export type QuicheConnection = native.Connection;
export type HostPort = native.Host;
export type RecvInfo = native.RecvInfo;
export const { Type: PacketType, Shutdown } = native;

// TcpTransport on real sockets on 127.0.0.1: the shared transport contract, plus what only the
// TCP transport shows (per-frame checksums, its handshake's refusals, connection pooling).
import { TcpTransport } from '../../../src/transport/tcp-transport.js';
import { describeTransportContract } from './transport-contract.js';

describeTransportContract('TCP', (options) => new TcpTransport(options));

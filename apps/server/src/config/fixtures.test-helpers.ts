import type { Module, ProtocolSpec } from '@x/core-conn';
import { protoHepModule } from '@x/proto-hep';
import type { PackageImporter } from './catalog.js';

function spec(name: string, defaultPort: number | null, transport: 'tcp' | 'udp' = 'tcp'): ProtocolSpec<unknown> {
  return {
    name, transport, defaultPort, maxMsgChunks: 4, maxMsgBytes: 65535,
    write: { async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 },
  };
}

/** Minimal module descriptors standing in for the real packages: the resolver only sees the contract. */
export const fakeTcp: Module = {
  name: 'proto_tcp',
  params: {
    tcp_port: { type: 'int', default: 5060, min: 1, max: 65535, doc: '' },
    tcp_max_msg_chunks: { type: 'int', default: 4, min: 0, doc: '' },
    tcp_async: { type: 'bool', default: true, doc: '' },
    trace_filter_route: { type: 'string', doc: '' },
    trace_on: { type: 'int', default: 0, doc: '' },
  },
  protocols: (p) => [spec('tcp', Number(p.tcp_port))],
  routes: (p) => (typeof p.trace_filter_route === 'string' ? [{ name: p.trace_filter_route, param: 'trace_filter_route' }] : []),
  init: () => ({}),
};
export const fakeHep: Module = {
  name: 'proto_hep',
  params: { hep_id: { type: 'string', multi: true, doc: '' }, hep_port: { type: 'int', default: 9060, doc: '' }, trace_on: { type: 'int', default: 0, doc: '' } },
  // the real proto_hep's config check: OpenSIPS's HEP socket rules
  checkConfig: (params, view) => (protoHepModule as unknown as Module).checkConfig?.(params, view),
  protocols: () => [spec('hep_udp', 9060, 'udp'), spec('hep_tcp', 9060)],
  init: () => ({}),
};

export const fakeImporter: PackageImporter = async (pkg) => {
  if (pkg === '@x/proto-tcp') return { protoTcpModule: fakeTcp };
  if (pkg === '@x/proto-hep') return { protoHepModule: fakeHep };
  throw new Error(`Cannot find package '${pkg}'`);
};

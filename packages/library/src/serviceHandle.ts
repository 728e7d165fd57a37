import type { Service } from '@muxd/daemon';
import { InProcessTransport } from './inProcessTransport.js';
import type { MuxService, ServiceState } from './muxService.js';

/** How long `start` and `restart` wait for a child to come up (what `muxctl start` waits). */
const START_WAIT_MS = 10_000;

/** The `MuxService` face of one of the daemon's `Service`s. */
export function createServiceHandle(service: Service): MuxService {
  return {
    name: service.name,
    socketPath: service.socketPath,
    connect: () => new InProcessTransport(service.name, (peer) => service.connectClient(peer)),
    state(): ServiceState {
      const snapshot = service.snapshot();
      return {
        name: snapshot.name,
        status: snapshot.status,
        pids: snapshot.pids,
        clients: snapshot.clients,
        restarts: snapshot.restarts,
        socketPath: snapshot.socket,
        error: snapshot.error,
      };
    },
    async start() {
      await service.start();
      await service.settled(START_WAIT_MS);
    },
    stop: () => service.stop(),
    async restart() {
      await service.restart();
      await service.settled(START_WAIT_MS);
    },
  };
}

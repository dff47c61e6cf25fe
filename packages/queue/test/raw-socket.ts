// Raw TCP clients for the HTTP front's connection tests (idle, half-sent and capped sockets).
import { connect, type Socket } from 'node:net';

/** A connected socket that reads and drops whatever the server sends (a 408 on a timeout): a paused socket holding
 * unread bytes never emits 'close', so a test could not see the server close it. */
export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.resume();
    s.on('error', reject);
  });
}

/** True once the socket has closed, false if it is still open after `ms`. */
export function closedWithin(s: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed || s.readyState === 'closed') return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => (clearTimeout(t), resolve(true)));
  });
}

// The control socket: frames request lines, answers them in order, and
// keeps one client's misbehaviour to itself. A client that sends garbage
// gets one error line and is disconnected; one that sends too much, or
// nothing for too long, is disconnected; one that disconnects mid-request
// only loses its answer. Nothing here runs on a timer once a request is in.
import * as fs from 'fs';
import * as net from 'net';
import { MAX_REQUEST_BYTES, parseRequest, ProtocolError, type Request, type Response } from './protocol';

/** Clients connected at once; more wait in the listen backlog. */
const MAX_CLIENTS = 256;
/** A connection must complete its request line within this; an idle one (a lease) may then stay. */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long a refused client may go on sending before it is cut off. */
const REFUSED_LINGER_MS = 1000;

/** One client connection, as a request handler sees it. */
export interface Client {
  /** Runs `hook` once the client has gone (closed, killed, or cut off). */
  onClose(hook: () => void): void;
}

export type RequestHandler = (req: Request, client: Client) => Promise<Response>;

class Connection implements Client {
  private buffered = '';
  private busy = false;
  private readonly queue: string[] = [];
  private gone = false;
  private readonly hooks: (() => void)[] = [];

  constructor(private readonly socket: net.Socket, private readonly handle: RequestHandler) {
    socket.setEncoding('utf8');
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: string) => this.received(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.closed());
  }

  onClose(hook: () => void): void {
    if (this.gone) hook();
    else this.hooks.push(hook);
  }

  private received(chunk: string): void {
    if (this.gone) return; // refused: the rest is read and dropped
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      this.queue.push(this.buffered.slice(0, nl));
      this.buffered = this.buffered.slice(nl + 1);
    }
    if (this.buffered.length > MAX_REQUEST_BYTES || this.queue.length > 16) {
      this.refuse('request too large');
      return;
    }
    void this.next();
  }

  private async next(): Promise<void> {
    if (this.busy || this.gone) return;
    const line = this.queue.shift();
    if (line === undefined) return;
    this.busy = true;
    let req: Request;
    try {
      req = parseRequest(line);
    } catch (err) {
      this.refuse(err instanceof ProtocolError ? err.message : String(err));
      return;
    }
    let res: Response;
    try {
      res = await this.handle(req, this);
    } catch (err) {
      res = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    this.send(res);
    this.busy = false;
    // Answered: a client may now wait as long as it likes (a `ptsfs run` lease).
    if (this.queue.length === 0 && this.buffered === '') this.socket.setTimeout(0);
    void this.next();
  }

  private send(res: Response): void {
    if (!this.gone) this.socket.write(`${JSON.stringify(res)}\n`);
  }

  private refuse(error: string): void {
    this.send({ ok: false, error });
    this.gone = true;
    this.buffered = '';
    this.queue.length = 0;
    // Half-close and go on reading (and dropping): closing with the client's
    // bytes unread resets the connection (unix(7)), and a client still
    // writing then loses the answer. The client's end closes it; a client
    // that keeps sending is cut off after REFUSED_LINGER_MS.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), REFUSED_LINGER_MS).unref();
  }

  private closed(): void {
    this.gone = true;
    for (const hook of this.hooks.splice(0)) hook();
  }
}

export interface ControlSocket {
  /** Stops listening and ends every connection once its answers are written. */
  close(): void;
}

/** Listens on `socketPath` (mode 0600); the caller has made sure no other daemon owns it. */
export function listenControl(socketPath: string, handle: RequestHandler): Promise<ControlSocket> {
  fs.rmSync(socketPath, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    new Connection(socket, handle);
  });
  server.maxConnections = MAX_CLIENTS;
  const control: ControlSocket = {
    close: () => {
      server.close();
      fs.rmSync(socketPath, { force: true });
      for (const s of sockets) s.end();
    },
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      // The directory (0700) already keeps others out; this says so on the socket too.
      fs.chmodSync(socketPath, 0o600);
      server.removeListener('error', reject);
      resolve(control);
    });
  });
}

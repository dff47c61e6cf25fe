import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../scripts/worker-process.mjs', import.meta.url));

/** Worker processes started by a test; `killAll` runs in afterAll so none outlives it. */
export class WorkerProcesses {
  readonly procs: ChildProcess[] = [];

  /** Starts one and waits until it takes jobs. */
  async start(url: string, queue: string, batch: number, id: string): Promise<ChildProcess> {
    const proc = spawn(process.execPath, [CHILD, url, queue, String(batch), id], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    });
    this.procs.push(proc);
    const orphan = () => proc.kill('SIGKILL'); // no worker outlives the test process, afterAll or not
    process.once('exit', orphan);
    proc.once('exit', () => process.off('exit', orphan));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`worker ${id} exited with code ${code} before it was ready`)));
    });
    return proc;
  }

  async killAll(): Promise<void> {
    await Promise.all(
      this.procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGKILL');
        await exited;
      }),
    );
  }
}

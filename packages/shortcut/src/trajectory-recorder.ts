import { generate, MigmError, type Backend, type GenerateOptions, type GenerateResult } from '@migm/core';
import { resolveOptions } from '@migm/core/sampling';

/** The files of a trajectory recording, each appended to as runs are recorded. */
export type TrajectoryFile = 'features.f32' | 'tokens.i32' | 'reveal_step.i32' | 'classes.i32';

/** Where a recording goes (a directory on Node: `directorySink` from `@migm/shortcut/node`). */
export interface TrajectorySink {
  append(file: TrajectoryFile, data: Uint8Array): Promise<void>;
  /** Writes (replaces) `trajectories.json`. */
  writeIndex(json: string): Promise<void>;
  close?(): Promise<void>;
}

/** One generate() run of the recording. */
export interface TrajectoryRun {
  readonly images: number;
  readonly seed: number;
  /** Index of the run's first image in tokens / reveal_step / classes. */
  readonly firstImage: number;
  /** Byte offset of the run in features.f32. */
  readonly featureOffset: number;
}

/** `trajectories.json`: everything a reader needs to interpret the binary files. See docs/trajectory-format.md. */
export interface TrajectoryIndex {
  readonly format: 'migm-trajectories';
  readonly version: 1;
  readonly bundle: string;
  readonly baseSha256: string | null;
  readonly tokens: number;
  readonly grid: readonly [number, number];
  readonly featureDim: number;
  readonly codebookSize: number;
  readonly maskId: number;
  readonly steps: number;
  /** Tokens revealed per step. */
  readonly counts: number[];
  /** 2 when guided ([cond; uncond] rows), else 1. */
  readonly branches: number;
  readonly images: number;
  readonly runs: TrajectoryRun[];
}

/** Options of one recorded run: a vanilla generate() (every step full), so every feature is the base model's. */
export type RecordOptions = Omit<GenerateOptions, 'predictor' | 'budget' | 'plan' | 'onFeature' | 'guidanceCutoff'>;

/**
 * Records vanilla sampling trajectories in the format the Python trainer reads (PAPER.md section 4): per step
 * and CFG branch the base model's feature, plus the final tokens, the step each token was revealed at, and the
 * class of each image. Features stream to the sink step by step; nothing of a run is held beyond one step.
 *
 * @example
 * import { directorySink } from '@migm/shortcut/node';
 * const recorder = new TrajectoryRecorder(backend, await directorySink('trajectories/'));
 * for (let c = 0; c < 10; c++) await recorder.record({ condition: c, batch: 16, seed: c });
 * await recorder.finish();
 */
export class TrajectoryRecorder {
  readonly #backend: Backend;
  readonly #sink: TrajectorySink;
  #index: TrajectoryIndex | null = null;
  #featureBytes = 0;
  #finished = false;
  #busy = false;

  constructor(backend: Backend, sink: TrajectorySink) {
    this.#backend = backend;
    this.#sink = sink;
  }

  /** Runs one vanilla generation and appends it to the recording. */
  async record(options: RecordOptions = {}): Promise<GenerateResult> {
    if (this.#finished) throw new MigmError('DISPOSED', 'This recording was finished; start a new TrajectoryRecorder.');
    if (this.#busy) throw new MigmError('INVALID_OPTION', 'A run of this recording is still in progress; await record() before starting the next.');
    const m = this.#backend.manifest;
    const L = m.tokens.count;
    // Check the settings before anything is written, so a refused run leaves the recording intact.
    // Every recorded step holds both branches when guided (guidanceCutoff false), so steps are laid out alike.
    const plan = resolveOptions({ ...options, predictor: 'vanilla', guidanceCutoff: false }, m, false);
    const counts = Array.from(plan.counts);
    const branches = plan.guided ? 2 : 1;
    const index = this.#index;
    if (index && (index.steps !== plan.steps || index.branches !== branches || index.counts.join() !== counts.join())) {
      throw new MigmError(
        'INVALID_OPTION',
        `Every run of a recording must use the same steps, schedule and guidance (first run: N=${index.steps}, ${index.branches} branch(es)); start a new recording for other settings.`,
      );
    }
    this.#busy = true;
    // A failed run may leave features behind; runs are located by their offset, so that tail is never read.
    const featureOffset = this.#featureBytes;
    try {
      const revealStep = new Int32Array(plan.batch * L).fill(-1);
      const result = await generate(this.#backend, {
        ...options,
        seed: plan.seed,
        predictor: 'vanilla',
        guidanceCutoff: false,
        onFeature: async (e) => {
          const data = await this.#backend.readFeature(e.feature!);
          await this.#sink.append('features.f32', bytesOf(data));
          this.#featureBytes += data.byteLength;
        },
        onStep: (e) => {
          for (let b = 0; b < e.batch; b++) {
            for (let j = 0; j < e.revealed; j++) revealStep[b * L + e.revealedPositions[b * e.revealed + j]!] = e.step;
          }
          options.onStep?.(e);
        },
      });
      await this.#sink.append('tokens.i32', bytesOf(result.tokens));
      await this.#sink.append('reveal_step.i32', bytesOf(revealStep));
      await this.#sink.append('classes.i32', bytesOf(plan.classes));
      const base = m.files.find((f) => f.path === m.graphs.base.file);
      const runs = index ? index.runs : [];
      runs.push({ images: result.batch, seed: result.seed, firstImage: index?.images ?? 0, featureOffset });
      this.#index = {
        format: 'migm-trajectories',
        version: 1,
        bundle: m.name,
        baseSha256: base?.sha256 ?? null,
        tokens: L,
        grid: m.tokens.grid,
        featureDim: m.featureDim,
        codebookSize: m.tokens.codebookSize,
        maskId: m.tokens.maskId,
        steps: plan.steps,
        counts,
        branches,
        images: (index?.images ?? 0) + result.batch,
        runs,
      };
      await this.#sink.writeIndex(JSON.stringify(this.#index, null, 1));
      return result;
    } finally {
      this.#busy = false;
    }
  }

  /** The index written so far (null before the first run). */
  get index(): TrajectoryIndex | null {
    return this.#index;
  }

  /** Closes the sink. */
  async finish(): Promise<TrajectoryIndex | null> {
    this.#finished = true;
    await this.#sink.close?.();
    return this.#index;
  }
}

function bytesOf(a: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

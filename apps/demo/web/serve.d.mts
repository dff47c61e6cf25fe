export declare function startServer(options?: {
  root?: string;
  port?: number;
  mounts?: Record<string, string>;
  /** Each request's 'METHOD /path' is pushed here. */
  log?: string[];
}): Promise<{ url: string; close: () => Promise<void> }>;

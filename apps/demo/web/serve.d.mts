export declare function startServer(options?: {
  root?: string;
  port?: number;
  mounts?: Record<string, string>;
}): Promise<{ url: string; close: () => Promise<void> }>;

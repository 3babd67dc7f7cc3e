/**
 * Standard streams of `noisecat`, the same in Deno, Bun and Node: `process.stdin`
 * as a WHATWG `ReadableStream` (with backpressure: the stream is paused while
 * 64 KiB wait unread), `process.stdout` as a `WritableStream` (each write waits
 * for the runtime to take the chunk), and status lines on stderr, with a way to
 * wait until everything written has been handed to the OS before exiting.
 *
 * @module
 */
import process from "node:process";
import { NoiseErrorCode } from "../lib/errors.ts";
import { CliError } from "./args.ts";

/** Where a command prints lines (a newline is added). */
export type Output = (line: string) => void;

/** The part of a Node writable these helpers use. */
interface NodeWritable {
  write(chunk: string | Uint8Array, callback: (error?: Error | null) => void): boolean;
  on(event: "error", listener: (e: Error) => void): unknown;
}

const pending = new Set<Promise<void>>();
const streamErrors = new Map<NodeWritable, Error>();

function errorName(e: unknown): string {
  const code = (e as { code?: string })?.code;
  return code ?? (e instanceof Error ? e.message : String(e));
}

const watched = new WeakSet<NodeWritable>();

/** Records `stream`'s errors: an unhandled `error` (EPIPE once the reader has gone) would crash. */
function watch(stream: NodeWritable): void {
  if (watched.has(stream)) return;
  watched.add(stream);
  stream.on("error", (e) => streamErrors.set(stream, e));
}

function writeTo(stream: NodeWritable, data: string | Uint8Array): Promise<void> {
  watch(stream);
  const failed = streamErrors.get(stream);
  if (failed) return Promise.reject(failed);
  const done = new Promise<void>((resolve, reject) => {
    try {
      stream.write(data, (e) => (e ? reject(e) : resolve()));
    } catch (e) {
      reject(e);
    }
  });
  const tracked = done.catch(() => {});
  pending.add(tracked);
  tracked.finally(() => pending.delete(tracked));
  return done;
}

/** Writes `text` to stdout; resolves once the runtime has taken it. */
export function writeOut(text: string): Promise<void> {
  return writeTo(process.stdout, text).catch(() => {});
}

/** One line on stderr (status and error lines). */
export const errLine: Output = (line) => {
  writeTo(process.stderr, line + "\n").catch(() => {});
};

/** One line on stdout. */
export const outLine: Output = (line) => {
  writeTo(process.stdout, line + "\n").catch(() => {});
};

/** No output (`--quiet`). */
export const silent: Output = () => {};

/** Waits (at most `timeoutMs`) until every write so far has been handed to the OS. */
export async function flushStdio(timeoutMs = 2000): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all([...pending]),
    new Promise((resolve) => timer = setTimeout(resolve, timeoutMs)),
  ]);
  clearTimeout(timer);
}

/** Whether stderr is a terminal. */
export function stderrIsTty(): boolean {
  return (process.stderr as { isTTY?: boolean }).isTTY === true;
}

/** Writes `text` to stderr with no newline (progress bars). */
export function writeErr(text: string): void {
  writeTo(process.stderr, text).catch(() => {});
}

/** What the CLI uses of the runtimes' own standard input. */
interface NativeStdin {
  Deno?: { stdin: { readable: ReadableStream<Uint8Array> } };
  Bun?: { stdin: { stream(): ReadableStream<Uint8Array> } };
}

/**
 * Standard input as a byte stream: chunks as they come, closed at end of input.
 * Deno and Bun give their own stream (`Deno.stdin.readable`, `Bun.stdin.stream()`:
 * Bun's `process.stdin` can lose its `end` event after `pause`/`resume`); Node's
 * `process.stdin` is wrapped, paused while 64 KiB wait unread.
 */
export function stdinStream(): ReadableStream<Uint8Array> {
  const native = globalThis as NativeStdin;
  if (native.Deno) return native.Deno.stdin.readable;
  if (native.Bun) return native.Bun.stdin.stream();
  const stdin = process.stdin;
  let finished = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const end = () => {
    if (finished) return;
    finished = true;
    controller.close();
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      stdin.on("data", (data: Uint8Array | string) => {
        if (finished) return;
        const bytes = typeof data === "string"
          ? new TextEncoder().encode(data)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        controller.enqueue(bytes);
        if ((controller.desiredSize ?? 0) <= 0) stdin.pause();
      });
      stdin.on("end", end);
      stdin.on("close", end);
      stdin.on("error", (e: Error) => {
        if (finished) return;
        finished = true;
        controller.error(
          new CliError(`cannot read stdin: ${errorName(e)}`, NoiseErrorCode.Other),
        );
      });
    },
    pull() {
      stdin.resume();
    },
    cancel() {
      finished = true;
      stdin.pause();
    },
  }, { highWaterMark: 65536, size: (chunk) => chunk.byteLength });
}

/**
 * Standard output as a byte sink. Each write resolves once the runtime has taken
 * the chunk; a failed write (the reader has gone: EPIPE) errors it with a
 * `CliError`. Closing it ends `process.stdout`, but Deno, Bun and Node all keep
 * file descriptor 1 open until the process exits: that is when a reader of our
 * output sees its end.
 */
export function stdoutStream(): WritableStream<Uint8Array> {
  const failed = (e: unknown) =>
    new CliError(`cannot write to stdout: ${errorName(e)}`, NoiseErrorCode.Other);
  const stdout = process.stdout;
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      try {
        await writeTo(stdout, chunk);
      } catch (e) {
        throw failed(e);
      }
    },
    async close() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          try {
            stdout.end(() => resolve());
          } catch {
            resolve();
          }
        }),
        new Promise((resolve) => timer = setTimeout(resolve, 500)),
      ]);
      clearTimeout(timer);
    },
  });
}

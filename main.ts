#!/usr/bin/env -S deno run -A
/**
 * `noisecat`, the command-line tool of `@pubky/noise`: encrypted, authenticated
 * pipes between two terminals or two machines (`serve`, `connect`), keys
 * (`keygen`, `pubkey`), the main-job demo (`demo`) and the interop peer (`peer`).
 * See `noisecat --help` and the `cli/` folder.
 *
 * Run: `deno run -A main.ts …`, `bun main.ts …` or `node --import tsx main.ts …`.
 *
 * @module
 */
import process from "node:process";
import { main } from "./cli/main.ts";
import { flushStdio } from "./cli/stdio.ts";

const status = await main(process.argv.slice(2));
await flushStdio();
process.exit(status);

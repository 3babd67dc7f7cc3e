/**
 * Type-checks the TypeScript in the guides: every ```` ```ts ```` block of
 * `docs/*.md` (or of the Markdown files given) is written to a module of its
 * own and the lot is run through `deno check` against the library's real
 * entries (`@pubky/noise`, `@pubky/noise/streams`, … map to the root files).
 *
 * - ```` ```ts ignore ```` skips a block (prose-only sketches).
 * - ```` ```ts types=NAME ```` adds `docs/types/NAME.d.ts` (minimal declarations of a
 *   platform the Deno checker does not know, e.g. Cloudflare Workers or Bun).
 * - Each block is a module on its own: it imports what it uses.
 *
 * Usage: `deno run -A tools/check_docs.ts [FILE.md ...]`; exits 1 when a block
 * does not type-check (errors name the Markdown file and line).
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const rootPath = decodeURIComponent(root.pathname);

/** One fenced block to check. */
interface Block {
  file: string;
  /** Line of the opening fence (1-based). */
  line: number;
  code: string;
  types: string[];
}

/** The ```ts blocks of a Markdown text (with their line), and how many were skipped. */
export function extractBlocks(file: string, text: string): { blocks: Block[]; ignored: number } {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let ignored = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(ts|typescript)\b(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, , rest] = open;
    const attrs = rest.trim().split(/\s+/).filter((a) => a !== "");
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      if (lines[j].trimStart().startsWith(fence) && lines[j].trim() === fence) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    if (attrs.includes("ignore")) {
      ignored++;
    } else {
      const types = attrs.filter((a) => a.startsWith("types=")).map((a) => a.slice(6));
      blocks.push({ file, line: i + 1, code: body.join("\n"), types });
    }
    i = j;
  }
  return { blocks, ignored };
}

/** `@pubky/noise` → mod.ts and `@pubky/noise/NAME` → NAME.ts for each entry file at the root. */
function entryImports(dir: string): Record<string, string> {
  const imports: Record<string, string> = { "@pubky/noise": `${rootPath}mod.ts` };
  for (const entry of Deno.readDirSync(rootPath)) {
    const m = /^([a-z][a-z0-9-]*)\.ts$/.exec(entry.name);
    if (!entry.isFile || !m || m[1] === "mod" || m[1] === "main") continue;
    imports[`@pubky/noise/${m[1]}`] = `${rootPath}${entry.name}`;
  }
  for (const k of Object.keys(imports)) imports[k] = new URL(imports[k], `file://${dir}/`).href;
  return imports;
}

async function main(args: string[]): Promise<number> {
  const files = args.length > 0 ? args : [...Deno.readDirSync(`${rootPath}docs`)]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`)
    .sort();
  const all: Block[] = [];
  let ignored = 0;
  for (const file of files) {
    const found = extractBlocks(file, await Deno.readTextFile(`${rootPath}${file}`));
    all.push(...found.blocks);
    ignored += found.ignored;
  }
  if (all.length === 0) {
    console.log(`no \`\`\`ts blocks in ${files.join(", ")} (${ignored} ignored)`);
    return 0;
  }
  const dir = await Deno.makeTempDir({ dir: rootPath, prefix: ".docs-check-" });
  try {
    // npm packages resolve from the project's node_modules (one level up), as its package.json says.
    await Deno.copyFile(`${rootPath}package.json`, `${dir}/package.json`);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({ nodeModulesDir: "manual", imports: entryImports(dir) }, null, 2),
    );
    const names = new Map<string, Block>();
    for (const [n, block] of all.entries()) {
      const name = `${block.file.replace(/[^a-zA-Z0-9]+/g, "_")}_L${block.line}_${n}.ts`;
      const refs = block.types.map((t) => `/// <reference path="../docs/types/${t}.d.ts" />`);
      // One prefix line per reference: errors are reported on the block's own lines below.
      await Deno.writeTextFile(
        `${dir}/${name}`,
        [...refs, block.code, "export {};", ""].join("\n"),
      );
      names.set(name, block);
    }
    const check = new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "--config", `${dir}/deno.json`, ...names.keys()],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    });
    const out = await check.output();
    const decoder = new TextDecoder();
    let report = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    // file:///…/.docs-check-x/docs_guide_md_L12_3.ts:5:7 → docs/guide.md:16:7
    for (const [name, block] of names) {
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      report = report.replace(
        new RegExp(`(?:file://)?[^\\s]*${escaped}(?::(\\d+))?(?::(\\d+))?`, "g"),
        (_m, l?: string, c?: string) => {
          if (l === undefined) return `${block.file}:${block.line}`;
          const line = block.line + Number(l) - block.types.length;
          return `${block.file}:${line}${c === undefined ? "" : `:${c}`}`;
        },
      );
    }
    if (!out.success) {
      console.error(report.trim());
      console.error(`\n${all.length} blocks checked: FAILED (${ignored} ignored)`);
      return 1;
    }
    console.log(`${all.length} blocks type-check (${ignored} ignored) in ${files.length} files`);
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * The module graph of `src/`, read from the TypeScript sources with
 * TypeScript's own pre-processor: static imports, re-exports, `import()` and
 * `import("…")` types alike, and nothing inside comments (the `@example`
 * blocks import too).
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { repositoryRoot } from "./repository.ts";

/** Each module (a path from the repository root) and the modules it imports. */
export type ImportGraph = Map<string, Set<string>>;

/** Every `.ts` module under `src/` with the `src/` modules it imports. */
export function readImportGraph(): ImportGraph {
  const root = repositoryRoot();
  const files = readdirSync(join(root, "src"), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => `src/${file.replaceAll("\\", "/")}`);
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(
      readFileSync(join(root, file), "utf8"),
      true,
      true,
    );
    graph.set(
      file,
      new Set(
        importedFiles
          .map(({ fileName }) => fileName)
          .filter((specifier) => specifier.startsWith("."))
          .map((specifier) =>
            relative(root, resolve(root, dirname(file), specifier))
              .replaceAll("\\", "/")
          ),
      ),
    );
  }
  return graph;
}

/** The layer a module belongs to: its folder under `src/`, or `(root)`. */
export function layerOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts[1]! : "(root)";
}

/**
 * One import cycle, as the path that closes it (`[a, b, a]`), or `null`.
 * Depth-first with colours: meeting a node still on the stack is a cycle.
 */
export function findCycle(graph: ImportGraph): string[] | null {
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (node: string): string[] | null => {
    if (onStack.has(node)) return [...stack.slice(stack.indexOf(node)), node];
    if (done.has(node)) return null;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== null) return cycle;
    }
    stack.pop();
    onStack.delete(node);
    done.add(node);
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle !== null) return cycle;
  }
  return null;
}

/**
 * The module graph of built JavaScript and declarations, read with
 * TypeScript's parser (a regex would also match the `import` lines of the
 * `@example` blocks that stay in the output's comments).
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import ts from "typescript";

/** What a set of entry modules reaches. */
export interface ImportGraph {
  /** Files reached by static `import`/`export … from`, entries included. */
  static: string[];
  /** Files first reached only through a dynamic `import()`, and beyond. */
  dynamic: string[];
  /** Targets of the dynamic `import()`s met along the way. */
  dynamicTargets: string[];
  /** Non-relative specifiers (`node:net`, packages) the static files import. */
  external: string[];
  /** Non-relative specifiers only the dynamically loaded files import. */
  dynamicExternal: string[];
}

/**
 * Walks the JavaScript modules reachable from `entries` (absolute paths).
 * A dynamic `import()` whose argument is not a string literal throws: it
 * cannot be followed.
 *
 * @example
 * ```ts
 * import { importGraph } from "./_import_graph.ts";
 * const graph = importGraph(["/pkg/esm/mod.js"]);
 * console.log(graph.external); // []
 * ```
 */
export function importGraph(entries: readonly string[]): ImportGraph {
  const imports = new Map<string, { specifier: string; dynamic: boolean }[]>();
  const dynamicTargets = new Set<string>();
  // Static edges first, from every entry; then what import() adds.
  const closure = (from: Iterable<string>, seen: Set<string>): Set<string> => {
    const pending = [...from];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      if (!imports.has(file)) imports.set(file, importsOf(file));
      for (const { specifier, dynamic } of imports.get(file)!) {
        if (!specifier.startsWith(".")) continue;
        const target = resolve(dirname(file), specifier);
        if (dynamic) dynamicTargets.add(target);
        else pending.push(target);
      }
    }
    return seen;
  };
  const staticFiles = closure(entries, new Set());
  const dynamicFiles = new Set<string>();
  for (let size = -1; size !== dynamicTargets.size;) {
    size = dynamicTargets.size;
    closure(dynamicTargets, dynamicFiles);
  }
  for (const file of staticFiles) dynamicFiles.delete(file);
  const externals = (files: Set<string>) =>
    [...files].flatMap((file) =>
      imports.get(file)!
        .map(({ specifier }) => specifier)
        .filter((specifier) => !specifier.startsWith("."))
    );
  const external = new Set(externals(staticFiles));
  return {
    static: [...staticFiles].sort(),
    dynamic: [...dynamicFiles].sort(),
    dynamicTargets: [...dynamicTargets].sort(),
    external: [...external].sort(),
    dynamicExternal: [...new Set(externals(dynamicFiles))]
      .filter((specifier) => !external.has(specifier))
      .sort(),
  };
}

/**
 * The declaration files reachable from `entries` (absolute `.d.ts` paths),
 * through imports, re-exports and `import("…")` types.
 *
 * @example
 * ```ts
 * import { declarationGraph } from "./_import_graph.ts";
 * console.log(declarationGraph(["/pkg/types/mod.d.ts"]).length > 0); // true
 * ```
 */
export function declarationGraph(entries: readonly string[]): string[] {
  const seen = new Set<string>();
  const pending = [...entries];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const { importedFiles, referencedFiles } = ts.preProcessFile(
      readFileSync(file, "utf8"),
      true,
      true,
    );
    for (const { fileName } of [...importedFiles, ...referencedFiles]) {
      if (!fileName.startsWith(".")) continue;
      pending.push(
        resolve(dirname(file), fileName).replace(/\.(?:d\.)?[jt]s$/, ".d.ts"),
      );
    }
  }
  return [...seen].sort();
}

function importsOf(
  file: string,
): { specifier: string; dynamic: boolean }[] {
  const source = ts.createSourceFile(
    file,
    readFileSync(file, "utf8"),
    ts.ScriptTarget.ES2022,
    false,
    ts.ScriptKind.JS,
  );
  const found: { specifier: string; dynamic: boolean }[] = [];
  const walk = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ specifier: node.moduleSpecifier.text, dynamic: false });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword
    ) {
      const argument = node.arguments[0];
      if (argument === undefined || !ts.isStringLiteralLike(argument)) {
        throw new Error(
          `Cannot follow import() in ${file}: its argument is not a string literal`,
        );
      }
      found.push({ specifier: argument.text, dynamic: true });
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
  return found;
}
